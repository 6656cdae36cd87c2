"""Configs to models: one place that turns a ``params.yaml`` section into a trained model.

The DVC stages and ``nbae train`` both go through these functions, so an architecture means
the same thing everywhere. A config is a flat dict::

    layers: [35, 25, 15, 5, 2]       # encoder; the decoder mirrors it unless `decoder` is set
    activation: tanh                 # or a list, see Autoencoder
    latent_activation: identity
    output_activation: sigmoid
    loss: mse
    init: scaled-uniform
    optimizer: adam
    lr: 0.001
    batch_size: 5
    epochs: 60000
    reproducible: true               # the lanes engine's arithmetic: the same bits on any
                                     # x86-64 machine (default false: BLAS, fastest for fonts)
"""

from __future__ import annotations

import math

import numpy as np

MODEL_KEYS = ("layers", "activation", "latent_activation", "output_activation", "decoder", "loss",
              "init", "leaky_slope", "seed", "dtype")
FIT_KEYS = ("epochs", "batch_size", "optimizer", "lr", "shuffle", "momentum", "betas", "eps",
            "weight_decay", "restore_best", "patience", "min_delta", "input_noise", "epoch_loss",
            "reproducible")
# keys a config may carry for people (and for stages) that do not reach the model
INFO_KEYS = ("name", "description", "note")


def check_config(cfg: dict, where: str = "config") -> None:
    """Raise ValueError naming any key that is not a model, training or info key."""
    if not isinstance(cfg, dict):
        raise ValueError(f"{where} must be a mapping of settings, got {type(cfg).__name__}")
    unknown = sorted(set(cfg) - set(MODEL_KEYS) - set(FIT_KEYS) - set(INFO_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(MODEL_KEYS + FIT_KEYS)}")
    if "layers" not in cfg:
        raise ValueError(f"{where}: 'layers' is required (encoder sizes, e.g. [35, 20, 2])")


def model_from_config(cfg: dict, metadata: dict | None = None, where: str = "config"):
    """Build an untrained :class:`~nbae.Autoencoder` from the model keys of ``cfg``."""
    from nbae.engine.model import Autoencoder

    check_config(cfg, where)
    kwargs = {k: cfg[k] for k in MODEL_KEYS if k in cfg}
    try:
        return Autoencoder(**kwargs, metadata=metadata)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def drop_timings(model) -> None:
    """Blank the timings in ``model.training`` before a study saves it: they differ from run
    to run, and a study's model files must be the same bytes wherever the study reruns."""
    model.training["seconds"] = model.training["steps_per_second"] = None


def fit_kwargs(cfg: dict) -> dict:
    kwargs = {k: cfg[k] for k in FIT_KEYS if k in cfg}
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return kwargs


def fit_from_config(ae, cfg: dict, X, Y=None, where: str = "config", **overrides):
    """Train ``ae`` with the training keys of ``cfg`` (``overrides`` win); return the history.

    Afterwards ``ae.metadata["latent_stats"]`` holds the mean and covariance of the training
    codes, which ``nbae generate`` samples from.
    """
    check_config(cfg, where)
    kwargs = fit_kwargs(cfg)
    kwargs.update(overrides)
    try:
        history = ae.fit(X, Y, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    ae.metadata["latent_stats"] = latent_stats(ae, X)
    return history


def describe(cfg: dict) -> str:
    """One-line summary of a config, e.g. ``35-25-15-5-2 tanh/sigmoid bce adam lr=0.0005 batch=5``.

    Defaults are those of :class:`~nbae.Autoencoder` and ``fit``; the dtype is named only when
    it is not float64.
    """
    act = cfg.get("activation", "tanh")
    act = act if isinstance(act, str) else "/".join(act)
    dtype = cfg.get("dtype", "float64")
    return (f"{'-'.join(str(s) for s in cfg['layers'])} {act}/"
            f"{cfg.get('output_activation', 'sigmoid')} {cfg.get('loss', 'mse')} "
            f"{cfg.get('optimizer', 'adam')} lr={cfg.get('lr', 1e-3)} "
            f"batch={cfg.get('batch_size', 5)}" + ("" if dtype == "float64" else f" {dtype}"))


def latent_stats(ae, X, exact: bool = False) -> dict:
    """Mean and covariance of the latent codes of ``X`` (plain lists, JSON-ready).

    ``exact``: codes from :mod:`nbae.engine.exact` and correctly rounded sums (math.fsum), so
    the numbers are the same on every machine (no BLAS in np.cov, no SIMD-order sums).
    """
    if not exact:
        Z = np.asarray(ae.encode(X), dtype=np.float64)
        cov = np.atleast_2d(np.cov(Z, rowvar=False)) if Z.shape[0] > 1 else np.zeros(
            (Z.shape[1], Z.shape[1]))
    else:
        from nbae.engine import exact as ex

        Z = np.asarray(ex.encode(ae, X), dtype=np.float64)
        n, d = Z.shape
        mean = np.array([math.fsum(Z[:, i]) / n for i in range(d)])
        D = Z - mean
        cov = np.array([[math.fsum(D[:, i] * D[:, j]) / (n - 1) if n > 1 else 0.0
                         for j in range(d)] for i in range(d)])
        return {"mean": mean.tolist(), "cov": cov.tolist(),
                "min": Z.min(axis=0).tolist(), "max": Z.max(axis=0).tolist()}
    return {"mean": Z.mean(axis=0).tolist(), "cov": cov.tolist(),
            "min": Z.min(axis=0).tolist(), "max": Z.max(axis=0).tolist()}
