"""Many models of one config at once: seeds or per-model overrides on the lanes engine.

:func:`fit_many` turns an experiment config (as in config/font.yaml's ``architectures``) into
one model per seed or override and trains them together in
:func:`nbae.engine.ensemble.train_lanes`, so each is bit-identical to training it alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbae.engine.ensemble import LANE_KEYS, _settings, train_lanes


def fit_many(config, X, Y=None, seeds=None, overrides=None, metric=None, metric_every=100,
             progress=None, n_jobs=None, group_size=None, **fit_overrides):
    """Train one model per seed / override of ``config``; return (models, history).

    config : dict
        An ``nbae.experiment`` config (model and training keys, e.g. an ``architectures``
        entry of params.yaml).
    seeds : list of int, optional
        One model per seed (the config's own ``seed`` otherwise).
    overrides : list of dict, optional
        Per-model changes of the config: model keys ``seed``/``init`` or the training keys
        in ``LANE_KEYS`` (lr, momentum, betas, eps, weight_decay, restore_best, patience,
        min_delta, input_noise). With ``seeds`` too, both lists must have the same length.
    metric : callable(ae) -> dict or float, optional
        Evaluated on every running model every ``metric_every`` epochs and after the last.
    progress : bool, optional
        A tqdm bar (default: only when stderr is a terminal).
    n_jobs : int, optional
        Threads running lane groups side by side (default: one per core, at most one per
        group). Results do not depend on it.
    group_size : int, optional
        Lanes per group (1, 4, 8 or 16; default 8 for float64, 16 for float32). Results do
        not depend on it.
    **fit_overrides
        Training keys applied to every model (e.g. ``epochs=500``).

    Returns the trained models (each with ``history`` and ``training`` like
    ``Autoencoder.fit``; a diverged model holds its best weights and ``training["stop_reason"]
    == "diverged"``, nothing is raised) and a tidy DataFrame with columns model, seed, epoch,
    loss and any metric columns. On Ctrl-C the models finish their current chunk, keep their
    best weights, and a KeyboardInterrupt carrying ``.models`` and ``.histories`` is raised.
    """
    from nbae.studies.experiment import FIT_KEYS, check_config, fit_kwargs, model_from_config

    check_config(config)
    if seeds is not None and isinstance(seeds, (int, np.integer)):
        raise ValueError(f"seeds must be a list of integers, got {seeds!r}")
    if seeds is None and overrides is None:
        seeds = [config.get("seed", 0)]
    count = len(seeds) if seeds is not None else len(overrides)
    if seeds is not None and overrides is not None and len(overrides) != count:
        raise ValueError(f"seeds has {count} entries but overrides has {len(overrides)}")
    if count == 0:
        raise ValueError("no models to train: seeds/overrides is empty")
    unknown = set(fit_overrides) - set(FIT_KEYS)
    if unknown:
        raise ValueError(f"unknown training setting(s) {sorted(unknown)}; known: {FIT_KEYS}")
    models, settings = [], []
    for j in range(count):
        over = dict(overrides[j]) if overrides is not None else {}
        bad = set(over) - set(LANE_KEYS) - {"seed", "init"}
        if bad:
            raise ValueError(f"overrides[{j}]: {sorted(bad)} cannot differ between models "
                             f"trained together; per-model keys: seed, init, "
                             f"{', '.join(LANE_KEYS)}")
        if seeds is not None:
            over["seed"] = seeds[j]
        cfg = {**config, **over}
        ae = model_from_config(cfg, where=f"model {j}")
        kw = _lane_kwargs({**fit_kwargs(cfg), **fit_overrides}, f"model {j}")
        try:
            X_, Y_, s = _settings(ae, X, Y, **kw)
        except ValueError as exc:
            raise ValueError(f"model {j}: {exc}") from None
        models.append(ae)
        settings.append(s)
    frames = train_lanes(models, X_, Y_, settings, metric=metric, metric_every=metric_every,
                         progress=progress, n_jobs=n_jobs, group_size=group_size)
    tidy = pd.concat(frames, ignore_index=True)  # one concat; model and seed columns in front
    rows = [len(f) for f in frames]
    tidy.insert(0, "seed", np.repeat(np.array([ae.seed for ae in models], dtype=np.int64), rows))
    tidy.insert(0, "model", np.repeat(np.arange(len(frames), dtype=np.int64), rows))
    return models, tidy


def _lane_kwargs(kw: dict, where: str) -> dict:
    """Training settings for the lanes engine, which is always reproducible."""
    if kw.pop("reproducible", True) is not True:
        raise ValueError(f"{where}: reproducible must be true here (models trained together "
                         "always use the lanes engine's reproducible arithmetic)")
    return kw


def check_training(config, X, Y=None, where: str = "config") -> None:
    """Raise :class:`~nbae.errors.ParamsError` naming ``where`` when the model or its fit
    would reject ``config`` on ``X`` -- before a sweep sends it to a worker, where it would
    surface as a runtime failure of a task."""
    from nbae.errors import ParamsError
    from nbae.studies.experiment import fit_kwargs, model_from_config

    try:
        ae = model_from_config(config, where=where)
        _settings(ae, X, Y, **_lane_kwargs(fit_kwargs(config), where))
    except ValueError as exc:
        text = str(exc)
        raise ParamsError(text if where in text else f"{where}: {text}") from None
