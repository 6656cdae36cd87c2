"""The flowers study: the chosen architecture, its training, latent-space navigation.

The latent-size search is :mod:`nbae.studies.flower_search`.

The DVC stages ``stages/*_flowers.py`` are thin wrappers around these functions. The photos
come from ``data/flowers/prepared/flowers.npz`` (stage ``prepare_flowers``, see
:mod:`nbae.data.images`): ``X`` (n, size*size) in [-1, 1], ``ids`` (Oxford image ids) and ``labels``
(classes). Settings come from ``params.yaml``::

    flowers_arch:     {layers, activation, ...}        # experiment config of the family
    flowers_train:    {epochs}                         # stage train_flowers
    flowers_search:   {latent_sizes, epochs, seeds, threshold, criterion}
    flowers_navigate: {photo, grid_n, grid_dims, grid_span, pairs, steps, samples, ...}

The architecture lives in its own section so that the search (which overrides ``epochs`` and
the latent size) does not rerun when only the training length of the chosen model changes.
Photos are referred to by their position in the prepared set (0-based, sorted by image id);
figures caption them with their Oxford image id (``#6216``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nbae.data.datasets import Dataset, load_dataset
from nbae.fileio import write_csv, write_json
from nbae.studies.experiment import describe, drop_timings, fit_from_config, model_from_config
from nbae.studies.params import (
    ParamsError,
    integer,
    integer_list,
    number,
    section,
    study_model_config,
)

PIXEL_RANGE = (-1.0, 1.0)
TRAIN_DEFAULTS = {"epochs": 5000}
NAVIGATE_DEFAULTS = {"photo": 0, "grid_n": 9, "grid_axes": "principal", "grid_dims": [0, 1],
                     "grid_span": 2.0,
                     "pairs": [[0, 1]], "steps": 9, "samples": 12, "sample_seed": 0,
                     "sample_scale": 1.0}


# ---------------------------------------------------------------------------------------------
# params


def arch_config(params: dict) -> dict:
    """The ``flowers_arch`` config (checked copy): the architecture family of the study."""
    cfg = params.get("flowers_arch")
    if not isinstance(cfg, dict) or not cfg:
        raise ParamsError("params 'flowers_arch' (an nbae.studies.experiment config, e.g. layers: "
                          "[1024, 512, 256, 64, 6]) is missing")
    cfg = study_model_config(cfg, "flowers_arch")
    layers = cfg["layers"]
    if not isinstance(layers, list) or len(layers) < 2:
        raise ParamsError("params flowers_arch.layers must list at least the input and latent "
                          "sizes, e.g. [1024, 512, 256, 64, 6]")
    return cfg


def train_params(params: dict) -> dict:
    cfg = section(params, "flowers_train", TRAIN_DEFAULTS)
    cfg["epochs"] = integer(cfg["epochs"], "flowers_train.epochs", 1)
    return cfg


def train_config(params: dict) -> dict:
    """Config of the chosen model: ``flowers_arch`` with ``flowers_train`` applied."""
    return {**arch_config(params), **train_params(params)}


def navigate_params(params: dict, n_photos: int | None = None,
                    latent_dim: int | None = None) -> dict:
    """Checked ``flowers_navigate``; photo indices are checked against ``n_photos`` if given."""
    cfg = section(params, "flowers_navigate", NAVIGATE_DEFAULTS)
    top = None if n_photos is None else n_photos - 1

    def photo(v, where):
        i = integer(v, where, 0)
        if top is not None and i > top:
            raise ParamsError(f"params {where} = {i}: photos are numbered 0..{top} (position "
                              f"in the prepared set, sorted by image id)")
        return i

    cfg["photo"] = photo(cfg["photo"], "flowers_navigate.photo")
    cfg["grid_n"] = integer(cfg["grid_n"], "flowers_navigate.grid_n", 2)
    dims = integer_list(cfg["grid_dims"], "flowers_navigate.grid_dims", 0)
    if len(dims) != 2 or dims[0] == dims[1]:
        raise ParamsError("params flowers_navigate.grid_dims must be two different latent "
                          "coordinates, e.g. [0, 1]")
    if latent_dim is not None and max(dims) >= latent_dim:
        raise ParamsError(f"params flowers_navigate.grid_dims {dims}: the model has "
                          f"{latent_dim} latent units (0..{latent_dim - 1})")
    cfg["grid_dims"] = dims
    if cfg["grid_axes"] not in ("principal", "coordinates"):
        raise ParamsError(f"params flowers_navigate.grid_axes must be principal or "
                          f"coordinates, got {cfg['grid_axes']!r}")
    if cfg["grid_span"] is not None:
        cfg["grid_span"] = number(cfg["grid_span"], "flowers_navigate.grid_span")
    pairs = cfg["pairs"]
    if not isinstance(pairs, list) or not pairs or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs):
        raise ParamsError("params flowers_navigate.pairs must be a list of [from, to] photo "
                          "positions, e.g. [[0, 5], [3, 17]]")
    cfg["pairs"] = [[photo(a, "flowers_navigate.pairs"), photo(b, "flowers_navigate.pairs")]
                    for a, b in pairs]
    cfg["steps"] = integer(cfg["steps"], "flowers_navigate.steps", 2)
    cfg["samples"] = integer(cfg["samples"], "flowers_navigate.samples", 1)
    cfg["sample_seed"] = integer(cfg["sample_seed"], "flowers_navigate.sample_seed", 0)
    cfg["sample_scale"] = number(cfg["sample_scale"], "flowers_navigate.sample_scale")
    return cfg


# ---------------------------------------------------------------------------------------------
# data


def load_flower_set(path) -> Dataset:
    """The prepared photos (a :class:`~nbae.data.datasets.Dataset` of kind ``flowers``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: not found (run the prepare_flowers stage first)")
    ds = load_dataset(path)
    if ds.kind != "flowers":
        raise ValueError(f"{path}: not a flower set written by prepare_flowers")
    return ds


def photo_label(data: Dataset, i: int) -> str:
    return f"#{data.info['ids'][i]}"


# ---------------------------------------------------------------------------------------------
# training


def with_latent(cfg: dict, k: int) -> dict:
    """Copy of ``cfg`` with latent size ``k`` (the last encoder width and the decoder's first)."""
    out = dict(cfg)
    out["layers"] = list(cfg["layers"][:-1]) + [int(k)]
    if cfg.get("decoder"):
        out["decoder"] = [int(k)] + list(cfg["decoder"][1:])
    return out


def build_model(cfg: dict, data: Dataset, where: str = "flowers_arch"):
    """Untrained model of ``cfg`` for the photos, with the contract's metadata."""
    width = data.X.shape[1]
    if cfg["layers"][0] != width:
        raise ParamsError(f"params {where}.layers starts with {cfg['layers'][0]} inputs but the "
                          f"photos have {width} pixels ({data.size}x{data.size}); set "
                          f"layers[0] to {width}")
    try:
        return model_from_config(cfg, metadata=data.model_metadata(), where=where)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None


def fit_model(ae, cfg: dict, data: Dataset, where: str = "flowers_arch", **overrides):
    """Train ``ae`` on the photos with ``cfg``; return the history.

    Bad settings raise :class:`ParamsError`; a blow-up raises ``TrainingDiverged`` (the model
    then holds its best finite weights and ``ae.history``).
    """
    try:
        return fit_from_config(ae, cfg, data.X, where=where, **overrides)
    except FloatingPointError:
        raise
    except ValueError as exc:  # a setting the model rejects (lr, batch_size...)
        raise ParamsError(str(exc)) from None


def train_model(cfg: dict, data: Dataset, where: str = "flowers_arch", **overrides):
    """Build and train the model of ``cfg`` on the photos; return (model, history)."""
    ae = build_model(cfg, data, where)
    return ae, fit_model(ae, cfg, data, where, **overrides)


def per_image_mse(ae, X) -> np.ndarray:
    """Reconstruction mean squared error of each photo (float64)."""
    X = np.asarray(X, dtype=np.float64)
    return ((np.asarray(ae.reconstruct(X), dtype=np.float64) - X) ** 2).mean(axis=1)


def psnr(mse, peak_to_peak: float = PIXEL_RANGE[1] - PIXEL_RANGE[0]):
    """Peak signal-to-noise ratio in dB for pixels spanning ``peak_to_peak``."""
    mse = np.maximum(np.asarray(mse, dtype=np.float64), 1e-300)
    return 10.0 * np.log10(peak_to_peak**2 / mse)


def reconstruction_table(ae, data: Dataset) -> pd.DataFrame:
    """One row per photo: position, image id, class, reconstruction MSE and PSNR."""
    mse = per_image_mse(ae, data.X)
    n = len(mse)
    return pd.DataFrame({"photo": np.arange(n), "id": data.info["ids"],
                         "class": data.info["classes"] if data.info.get("classes") else [None] * n,
                         "mse": mse, "psnr_db": psnr(mse)})


def _r(v, digits=6):
    return float(f"{float(v):.{digits}g}")


def run_summary(ae, history: pd.DataFrame, data: Dataset, cfg: dict) -> dict:
    """JSON-ready summary of the training run (DVC metrics). No timings: with the
    reproducible arithmetic the file is the same on every machine (the stage prints them)."""
    t = ae.training
    loss = history["loss"].to_numpy(dtype=float)
    mse = per_image_mse(ae, data.X)
    worst = int(np.argmax(mse))
    return {
        "description": describe(cfg),
        "latent_dim": int(ae.latent_dim),
        "n_params": int(ae.n_params),
        "n_photos": int(len(mse)),
        "epochs": int(t["epochs_run"]),
        "final_loss": _r(loss[-1]),
        "lowest_loss": _r(t["best_loss"]),
        "lowest_loss_epoch": int(t["best_epoch"]),
        "restored_best": bool(t["restored_best"]),
        "steps": int(t["steps"]),
        "reconstruction": {
            "mse_mean": _r(mse.mean()), "mse_median": _r(np.median(mse)),
            "mse_max": _r(mse[worst]), "worst_id": int(data.info["ids"][worst]),
            "psnr_mean_db": round(float(psnr(mse).mean()), 2),
            "psnr_min_db": round(float(psnr(mse[worst])), 2),
        },
    }


def thin_history(history: pd.DataFrame, every: int = 10) -> pd.DataFrame:
    """Every ``every``-th epoch plus the first and the last (a light table for dvc plots)."""
    e = history["epoch"].to_numpy()
    keep = (e % every == 0) | (e == 1) | (e == e.max())
    return history.loc[keep, ["epoch", "loss"]].reset_index(drop=True)


def save_run(out_dir, model_path, ae, history: pd.DataFrame, summary: dict,
             recon: pd.DataFrame) -> None:
    """Write the model, curve.csv (every 10th epoch), reconstruction.csv and summary.json.

    A model trained with the reproducible arithmetic is saved without its timings: the file
    is then the same bytes on every machine, so a fresh clone's ``dvc repro`` rebuilds it with
    the hash in dvc.lock, and the stages that read it and keep their outputs in git
    (navigate_flowers) are not rerun.
    """
    out_dir = Path(out_dir)
    if (ae.training or {}).get("engine") == "lanes":
        drop_timings(ae)
    ae.save(model_path)
    write_csv(out_dir / "curve.csv", thin_history(history))
    write_csv(out_dir / "reconstruction.csv", recon)
    write_json(out_dir / "summary.json", summary)


# ---------------------------------------------------------------------------------------------
# navigation


def photo_grid(ae, X, photo: int, dims=(0, 1), n: int = 9, span_std: float | None = 2.0):
    """Decode an ``n x n`` sweep of latent coordinates ``dims`` around the code of a photo.

    The other coordinates stay at the photo's code. With ``span_std`` the sweep covers the
    photo's value +- that many standard deviations of the training codes (from the model's
    ``latent_stats``); with None, the range of the training codes (as ``latent_grid``).
    Returns (xs, ys, images (n, n, d)), row 0 at the top.
    """
    from nbae.engine.latent import latent_grid

    center = np.asarray(ae.encode(np.asarray(X)[photo:photo + 1]), dtype=np.float64)[0]
    span = None
    if span_std is not None:
        stats = ae.metadata.get("latent_stats") or {}
        cov = np.atleast_2d(np.asarray(stats.get("cov", np.eye(ae.latent_dim)), dtype=float))
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        i, j = dims
        si, sj = (s if s > 0 else 1.0 for s in (sd[i], sd[j]))  # one photo: no spread
        span = (center[i] - span_std * si, center[i] + span_std * si,
                center[j] - span_std * sj, center[j] + span_std * sj)
    return latent_grid(ae, center=center, dims=tuple(dims), span=span, n=n)


def pair_transitions(ae, data: Dataset, pairs, steps: int = 9) -> list:
    """Rows ``("#id_a", "#id_b", decoded (steps, d))`` along the latent line of each pair."""
    from nbae.engine.latent import interpolate

    X = data.X
    rows = []
    for a, b in pairs:
        _, dec = interpolate(ae, X[a], X[b], steps=steps)
        rows.append((photo_label(data, a), photo_label(data, b), dec))
    return rows


def generate_with_nearest(ae, data: Dataset, n: int, seed: int = 0, scale: float = 1.0):
    """New flowers from codes sampled like the training codes, each with its nearest photo.

    Returns (decoded (n, d), nearest photos (n, d), captions). "Nearest" is in pixel space
    (what one sees): a sample that merely copies a training photo shows it at once. Captions
    give the photo's id and the root-mean-square pixel distance.
    """
    from nbae.engine.latent import nearest, sample_codes

    Z = sample_codes(ae, n, seed=seed, scale=scale)
    dec = np.asarray(ae.decode(Z), dtype=np.float64)
    X = np.asarray(data.X, dtype=np.float64)
    idx, dist = nearest(dec, X)
    rms = dist / math.sqrt(X.shape[1])
    captions = [f"nearest {photo_label(data, int(i))}, rms {r:.2f}" for i, r in zip(idx, rms,
                                                                                    strict=True)]
    return dec, X[idx], captions


def latent_codes_table(ae, data: Dataset) -> pd.DataFrame:
    """One row per photo: position, image id, its code (z1..zk) and reconstruction MSE."""
    Z = np.asarray(ae.encode(data.X), dtype=np.float64)
    out = pd.DataFrame({"photo": np.arange(len(Z)), "id": data.info["ids"]})
    for j in range(Z.shape[1]):
        out[f"z{j + 1}"] = Z[:, j]
    out["mse"] = per_image_mse(ae, data.X)
    return out
