"""Does the flower autoencoder generalize? Reconstruction error on unseen photos per latent size.

The flower study (:mod:`nbae.studies.flowers`) asks for the smallest latent size that learns 24
photos: memorisation. This study trains the same architecture on the official Oxford 102
training photos of some classes, picks the epoch on the validation photos and reports the
mean squared reconstruction error on the training, validation and test photos for each
latent size. Settings (config/generalize.yaml)::

    flower_split: {base_url, files, classes, size}        # stage prepare_flower_split
    generalize:   {arch, latent_sizes, epochs, val_every, patience, seeds, use_val_for_training}

The photos come from ``split.npz`` (:func:`load_split`), written by stage
prepare_flower_split (:mod:`nbae.studies.flower_split`, which this module does not import, so
that neither stage depends on the other's code).

Early stopping: every ``val_every`` epochs the validation MSE is measured (the ``metric`` hook
of ``Autoencoder.fit``) and the weights of the lowest one are kept; that epoch is reported.
With ``use_val_for_training`` the validation photos are trained on, nothing is selected (the
last epoch's weights are kept) and the reported validation error is an in-sample one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nbae.fileio import NPY_LOAD_ERRORS
from nbae.studies.experiment import fit_kwargs, model_from_config
from nbae.studies.params import (
    ParamsError,
    integer,
    integer_list,
    section,
    study_model_config,
)

SPLITS = ("train", "val", "test")  # as nbae.studies.flower_split.SPLITS (tested)
N_CLASSES = 102
STUDY_DEFAULTS = {"arch": None, "latent_sizes": [2, 4, 8, 16, 32, 64], "epochs": 1000,
                  "val_every": 5, "patience": None, "seeds": 3, "use_val_for_training": False}
# training settings the study owns (an arch may not set them)
STUDY_OWNED = ("epochs", "restore_best", "patience", "min_delta", "seed")

# ---------------------------------------------------------------------------------- params


def study_params(params: dict) -> dict:
    """Checked ``generalize`` section; ``arch`` is an :mod:`nbae.studies.experiment` config."""
    cfg = section(params, "generalize", STUDY_DEFAULTS)
    arch = cfg["arch"]
    if not isinstance(arch, dict) or not arch:
        raise ParamsError("params generalize.arch (a model config, e.g. layers: [1024, 512, "
                          "256, 64, 8]) is missing")
    arch = study_model_config(arch, "generalize.arch")
    owned = [k for k in STUDY_OWNED if k in arch]
    if owned:
        raise ParamsError(f"params generalize.arch.{owned[0]}: set it in generalize, not in "
                          f"the arch (the study owns {', '.join(STUDY_OWNED)})")
    layers = arch["layers"]
    if not isinstance(layers, list) or len(layers) < 2:
        raise ParamsError("params generalize.arch.layers must list at least the input and "
                          "latent sizes")
    cfg["arch"] = arch
    sizes = cfg["latent_sizes"]
    if isinstance(sizes, list) and not sizes:
        raise ParamsError("params generalize.latent_sizes is empty: give at least one size")
    sizes = integer_list(sizes, "generalize.latent_sizes", 1)
    if len(set(sizes)) != len(sizes):
        raise ParamsError("params generalize.latent_sizes lists a size twice")
    cfg["latent_sizes"] = sorted(sizes)
    cfg["epochs"] = integer(cfg["epochs"], "generalize.epochs", 1)
    cfg["val_every"] = integer(cfg["val_every"], "generalize.val_every", 1)
    if cfg["patience"] is not None:
        cfg["patience"] = integer(cfg["patience"], "generalize.patience", 1)
    from nbae.studies.font_sweep import seed_list

    cfg["seeds"] = seed_list(cfg["seeds"], "generalize.seeds")
    if not isinstance(cfg["use_val_for_training"], bool):
        raise ParamsError(f"params generalize.use_val_for_training must be true or false, "
                          f"got {cfg['use_val_for_training']!r}")
    return cfg


# ------------------------------------------------------------------------------ the split


def load_split(path) -> dict:
    """The split file as ``{"X", "ids", "labels", "split", "classes", "size"}`` (checked)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: not found (run the prepare_flower_split stage first)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except NPY_LOAD_ERRORS as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    missing = [k for k in ("X", "ids", "labels", "split", "size") if k not in data]
    if missing:
        raise ValueError(f"{path}: missing {missing} (not a split written by "
                         f"prepare_flower_split)")
    X, n = data["X"], len(data["ids"])
    size = int(data["size"])
    if X.ndim != 2 or X.shape != (n, size * size) or len(data["split"]) != n or len(
            data["labels"]) != n:
        raise ValueError(f"{path}: X {X.shape}, {n} ids and {len(data['split'])} split names "
                         f"do not fit ({size}x{size} photos)")
    bad = sorted(set(data["split"].tolist()) - set(SPLITS))
    if bad:
        raise ValueError(f"{path}: unknown split name {bad[0]!r} (expected {list(SPLITS)})")
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: X holds NaN or infinite values")
    data["X"] = X.astype(np.float32, copy=False)
    return data


def part(data: dict, name: str) -> np.ndarray:
    """The photos (rows of ``X``) of split ``name``."""
    return data["X"][data["split"] == name]


# ------------------------------------------------------------------------------- training


def mse(ae, X) -> float:
    """Mean squared reconstruction error over every pixel of ``X`` (float64); NaN if empty."""
    if len(X) == 0:
        return math.nan
    X64 = np.asarray(X, dtype=np.float64)
    return float(((np.asarray(ae.reconstruct(X), dtype=np.float64) - X64) ** 2).mean())


def with_latent(arch: dict, k: int) -> dict:
    """``arch`` with latent size ``k`` (last encoder width and, if given, first decoder width)."""
    out = {**arch, "layers": list(arch["layers"][:-1]) + [int(k)]}
    if arch.get("decoder"):
        out["decoder"] = [int(k)] + list(arch["decoder"][1:])
    return out


def train_size(arch: dict, k: int, X_train, X_val, epochs: int, val_every: int,
               patience: int | None = None, seed: int = 0, select: bool = True):
    """Train ``arch`` with latent size ``k``; keep the weights of the lowest validation MSE.

    The validation (and training) MSE is measured every ``val_every`` epochs and after the
    last; with ``select`` the weights of the first evaluation with the lowest validation MSE
    are restored at the end and its epoch is returned, else the last epoch's weights are
    kept. ``patience`` stops after that many evaluations without a new lowest. Returns
    ``(ae, best_epoch, curve)``, ``curve`` a frame ``epoch, train_mse, val_mse``.
    """
    where = f"params generalize.arch (latent size {k})"
    if int(arch["layers"][0]) != X_train.shape[1]:
        raise ParamsError(f"params generalize.arch.layers starts with {arch['layers'][0]} inputs "
                          f"but the photos have {X_train.shape[1]} pixels")
    if select and len(X_val) == 0:
        raise ValueError("no validation photos to pick the epoch with")
    cfg = {**with_latent(arch, k), "seed": int(seed)}
    try:
        ae = model_from_config(cfg, where=where)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    best = {"val": math.inf, "at": -1, "W": None, "b": None}
    evals: list[float] = []

    def metric(m):
        v = mse(m, X_val)
        evals.append(v)
        if select and v < best["val"]:
            best.update(val=v, at=len(evals) - 1, W=[w.copy() for w in m.weights],
                        b=[b.copy() for b in m.biases])
        return {"train_mse": mse(m, X_train), "val_mse": v}

    def stop(m, history) -> bool:
        return len(evals) - 1 - best["at"] >= patience

    kwargs = {**fit_kwargs(cfg), "epochs": int(epochs), "restore_best": False, "metric": metric,
              "metric_every": int(val_every)}
    if select and patience is not None:
        kwargs.update(callback=stop, callback_every=int(val_every))
    try:
        history = ae.fit(X_train, **kwargs)
    except FloatingPointError:
        raise
    except ValueError as exc:  # a setting fit rejects (lr, batch_size, optimizer...)
        raise ParamsError(f"{where}: {exc}") from None
    curve = history.dropna(subset=["val_mse"])[["epoch", "train_mse", "val_mse"]]
    curve = curve.reset_index(drop=True)
    if select and best["W"] is not None:
        ae.weights, ae.biases = best["W"], best["b"]
        return ae, int(curve["epoch"].iloc[best["at"]]), curve
    return ae, int(history["epoch"].iloc[-1]), curve


def pca_mse(X_train, X, k: int) -> float:
    """Test error of the best linear code of size ``k`` fitted on ``X_train`` (PCA baseline)."""
    if len(X) == 0:
        return math.nan
    A = np.asarray(X_train, dtype=np.float64)
    mean = A.mean(axis=0)
    _, _, Vt = np.linalg.svd(A - mean, full_matrices=False)
    V = Vt[:k]
    C = np.asarray(X, dtype=np.float64) - mean
    return float(((C - (C @ V.T) @ V) ** 2).mean())


def size_run(data: dict, study: dict, k: int, seed: int, threads=None):
    """One latent size and seed (a sweep task): the row of :func:`generalization` and the
    curve of evaluations."""
    from nbae.studies.sweep import Result

    X_tr, X_val, X_te = (part(data, s) for s in SPLITS)
    select = not study["use_val_for_training"]
    fit_on = X_tr if select else np.concatenate([X_tr, X_val])
    if len(fit_on) == 0:
        raise ValueError("the split has no training photos")
    ae, epoch, curve = train_size(study["arch"], k, fit_on, X_val, study["epochs"],
                                  study["val_every"], study["patience"], seed, select)
    row = {"latent_size": int(k), "seed": int(seed), "train_mse": mse(ae, fit_on),
           "val_mse": mse(ae, X_val), "test_mse": mse(ae, X_te), "best_epoch": epoch,
           "n_train": len(fit_on), "n_test": len(X_te), "pca_test_mse": pca_mse(fit_on, X_te, k),
           "n_val": len(X_val), "epochs_run": int(ae.training["epochs_run"]),
           "seconds": round(float(ae.training["seconds"]), 2)}
    return Result(tables={"row": pd.DataFrame([row]),
                          "curve": curve.assign(latent_size=int(k), seed=int(seed))},
                  info={"latent_size": int(k), "seed": int(seed)})


def generalization(data: dict, study: dict, scheduler=None, progress=None):
    """Train every latent size and seed of ``study`` on the split (a Dask sweep, see
    :mod:`nbae.studies.sweep`); return ``(table, by_seed, curves)``.

    ``by_seed``: one row per latent size and seed (``latent_size, seed, train_mse, val_mse,
    test_mse, best_epoch, n_train, n_test, pca_test_mse, n_val, epochs_run, seconds``);
    ``table``: per latent size the median over seeds of the MSEs and the epoch (plus the
    counts and the summed seconds); ``curves``: ``latent_size, seed, epoch, train_mse,
    val_mse`` at every evaluation. Runs use the engine ``cfg`` names (``reproducible: true``,
    as shipped: the same bits on every x86-64 machine).
    """
    from nbae.studies.sweep import Task, run_sweep

    tasks = [Task(key=f"latent {k}, seed {seed}", fn=size_run,
                  kwargs={"data": data, "study": study, "k": int(k), "seed": int(seed)},
                  cost=float(k + 1000)) for k in study["latent_sizes"] for seed in study["seeds"]]
    results = run_sweep(tasks, scheduler=scheduler, progress=progress)
    by_seed = pd.concat([r.tables["row"] for r in results], ignore_index=True)
    curves = pd.concat([r.tables["curve"] for r in results], ignore_index=True)[
        ["latent_size", "seed", "epoch", "train_mse", "val_mse"]]
    g = by_seed.groupby("latent_size", sort=True)
    table = g[["train_mse", "val_mse", "test_mse", "best_epoch", "pca_test_mse"]].median()
    table = table.assign(n_train=g["n_train"].first(), n_val=g["n_val"].first(),
                         n_test=g["n_test"].first(), seeds=g["seed"].count(),
                         seconds=g["seconds"].sum()).reset_index()
    return table, by_seed, curves


def _r(v, digits=4):
    return None if not math.isfinite(v) else float(f"{float(v):.{digits}g}")


def summary(table: pd.DataFrame, data: dict, study: dict) -> dict:
    """JSON-ready metrics: per latent size ``k<size>: {train, val, test, epoch}`` (medians over
    seeds), then counts."""
    classes = sorted(int(c) for c in np.unique(data["labels"]))
    out = {f"k{int(r.latent_size)}": {"train": _r(r.train_mse), "val": _r(r.val_mse),
                                       "test": _r(r.test_mse), "epoch": _r(r.best_epoch)}
           for r in table.itertuples()}
    X_tr = part(data, "train")
    if study["use_val_for_training"]:
        X_tr = np.concatenate([X_tr, part(data, "val")])
    mean = X_tr.astype(np.float64).mean(axis=0)
    X_te = part(data, "test").astype(np.float64)
    out.update({
        "mean_test": _r(((X_te - mean) ** 2).mean()) if len(X_te) else None,
        "classes": "all" if len(classes) == N_CLASSES else ",".join(map(str, classes)),
        "n_train": int(table["n_train"].iloc[0]), "n_val": int(table["n_val"].iloc[0]),
        "n_test": int(table["n_test"].iloc[0]), "val_in_train": study["use_val_for_training"],
        "epochs": study["epochs"], "seeds": len(study["seeds"]),
        "seconds": round(float(table["seconds"].sum()), 1),
    })
    return out
