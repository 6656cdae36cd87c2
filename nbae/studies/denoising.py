"""The denoising study: noisy training sets, the denoiser, and its evaluation against noise.

Settings come from config/denoise.yaml (``denoise:`` and ``evaluate_denoising:``); the DVC
stages ``stages/train_denoiser.py`` and ``stages/evaluate_denoising.py`` call these functions
and :mod:`nbae.studies.denoise_sweep` (training and comparison over seeds).

Evaluation draws fresh noisy copies of the glyphs (``trials`` per level) and feeds the *same*
noisy inputs to every model, so models differ only by what they do with them. Per trial it
records the mean and the worst wrong pixels per glyph, the share of glyphs restored with at
most ``max_wrong`` wrong pixels and the MSE against the clean glyphs.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from nbae.data.metrics import pixel_errors
from nbae.data.noise import NOISE_KINDS, add_noise, noisy_copies
from nbae.studies.params import ParamsError, integer, section, study_model_config

MODES = ("fixed", "fresh")
TRAIN_DEFAULTS = {"kind": "flip", "levels": [0.0, 0.05, 0.1, 0.15, 0.2],
                  "copies": 64, "mode": "fixed", "fresh_level": 0.1, "seed": 0,
                  "metric_every": 10, "seeds": 10, "model": None}
EVAL_DEFAULTS = {"levels": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5],
                 "trials": 100, "seed": 1234,
                 "figure_levels": [0.05, 0.1, 0.15, 0.2], "max_wrong": 1}
NOISY_INPUT = "noisy input (no model)"


def _levels(values, kind, where) -> list[float]:
    if not isinstance(values, list) or not values or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise ParamsError(f"params {where} must be a non-empty list of numbers")
    hi = np.inf if kind == "gaussian" else 1.0
    if any(not 0.0 <= v <= hi for v in values):
        raise ParamsError(f"params {where} must lie in [0, {hi}] for {kind} noise, got {values}")
    return [float(v) for v in values]


def train_params(params: dict) -> dict:
    cfg = section(params, "denoise", TRAIN_DEFAULTS)
    if cfg["kind"] not in NOISE_KINDS:
        raise ParamsError(f"params denoise.kind must be one of {', '.join(NOISE_KINDS)}, "
                          f"got {cfg['kind']!r}")
    if cfg["mode"] not in MODES:
        raise ParamsError(f"params denoise.mode must be fixed or fresh, got {cfg['mode']!r}")
    cfg["levels"] = _levels(cfg["levels"], cfg["kind"], "denoise.levels")
    cfg["fresh_level"] = _levels([cfg["fresh_level"]], cfg["kind"], "denoise.fresh_level")[0]
    cfg["copies"] = integer(cfg["copies"], "denoise.copies", 1)
    cfg["seed"] = integer(cfg["seed"], "denoise.seed", 0)
    cfg["metric_every"] = integer(cfg["metric_every"], "denoise.metric_every", 1)
    from nbae.studies.font_sweep import seed_list

    cfg["seeds"] = seed_list(cfg["seeds"], "denoise.seeds")
    if not isinstance(cfg["model"], dict):
        raise ParamsError("params denoise.model must be an architecture config "
                          "({layers: [...], ...})")
    cfg["model"] = study_model_config(cfg["model"], "denoise.model")
    return cfg


def eval_params(params: dict) -> dict:
    kind = train_params(params)["kind"]
    cfg = section(params, "evaluate_denoising", EVAL_DEFAULTS)
    cfg["levels"] = _levels(cfg["levels"], kind, "evaluate_denoising.levels")
    cfg["figure_levels"] = _levels(cfg["figure_levels"], kind,
                                   "evaluate_denoising.figure_levels")
    cfg["trials"] = integer(cfg["trials"], "evaluate_denoising.trials", 1)
    cfg["seed"] = integer(cfg["seed"], "evaluate_denoising.seed", 0)
    cfg["max_wrong"] = integer(cfg["max_wrong"], "evaluate_denoising.max_wrong", 0)
    return cfg


# ---------------------------------------------------------------------------------------------
# training


def training_set(X, cfg: dict, pixel_range=(0, 1)):
    """(inputs, clean targets, fit overrides) for the denoiser.

    ``fixed``: ``copies`` noisy versions of every glyph at every level, drawn once from
    ``seed`` (64 x 32 x 5 levels = 10,240 rows by default). ``fresh``: the clean glyphs
    repeated ``copies`` times and corrupted anew every epoch at ``fresh_level`` inside the
    compiled loop (fit's ``input_noise``), so the model never sees the same noisy input twice.
    """
    X = np.asarray(X, dtype=np.float64)
    if cfg["mode"] == "fixed":
        Xn, Y, _ = noisy_copies(X, cfg["levels"], cfg["copies"], cfg["kind"], seed=cfg["seed"],
                                pixel_range=pixel_range)
        return Xn, Y, {}
    Xr = np.tile(X, (cfg["copies"], 1))
    noise = {"kind": cfg["kind"], "level": cfg["fresh_level"], "range": list(pixel_range)}
    return Xr, Xr.copy(), {"input_noise": noise}


# ---------------------------------------------------------------------------------------------
# evaluation


def evaluate(predictors: dict, X, levels, trials: int, kind: str = "flip", seed: int = 0,
             pixel_range=(0, 1), max_wrong: int = 1) -> pd.DataFrame:
    """Score each predictor on fresh noisy copies of ``X``; one row per model, level, trial.

    ``predictors`` maps a name to ``f(noisy) -> output`` (e.g. ``ae.reconstruct``); all see
    the same noisy inputs. Columns: model, level, trial, mean_wrong (wrong pixels per glyph,
    averaged over the glyphs), worst_wrong (the worst glyph), restored (share of glyphs with at
    most ``max_wrong`` wrong pixels), mse (against the clean glyphs).
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    trials = int(trials)
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    rows = []
    # one independent stream per level, so adding a level does not change the others
    streams = np.random.SeedSequence(seed).spawn(len(levels))
    for level, ss in zip(levels, streams, strict=True):
        noisy = add_noise(np.tile(X, (trials, 1)), kind, float(level),
                          rng=np.random.default_rng(ss), pixel_range=pixel_range)
        clean = np.tile(X, (trials, 1))
        for name, predict in predictors.items():
            out = np.asarray(predict(noisy), dtype=np.float64)
            if out.shape != clean.shape:
                raise ValueError(f"model {name!r} returned shape {out.shape}, "
                                 f"expected {clean.shape}")
            err = pixel_errors(clean, out, pixel_range).reshape(trials, n)
            sq = ((out - clean) ** 2).reshape(trials, n, -1).mean(axis=(1, 2))
            for t in range(trials):
                rows.append({"model": name, "level": float(level), "trial": t,
                             "mean_wrong": float(err[t].mean()),
                             "worst_wrong": int(err[t].max()),
                             "restored": float((err[t] <= max_wrong).mean()),
                             "mse": float(sq[t])})
    return pd.DataFrame(rows)


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """Per model and level: mean and spread over trials of the trial scores."""
    g = trials.groupby(["model", "level"], sort=False)
    out = g.agg(trials=("trial", "count"),
                mean_wrong=("mean_wrong", "mean"), mean_wrong_std=("mean_wrong", "std"),
                mean_wrong_min=("mean_wrong", "min"), mean_wrong_max=("mean_wrong", "max"),
                worst_wrong_mean=("worst_wrong", "mean"), worst_wrong=("worst_wrong", "max"),
                restored=("restored", "mean"), restored_min=("restored", "min"),
                restored_max=("restored", "max"), mse=("mse", "mean")).reset_index()
    return out.fillna({"mean_wrong_std": 0.0})


def level_key(level: float) -> str:
    """``0.1 -> "noise_10pct"``: a metrics key without dots (DVC flattens keys on dots)."""
    return f"noise_{round(float(level) * 100):02d}pct"


def headline(summary: pd.DataFrame, models: dict[str, str], levels=(0.1, 0.2)) -> dict:
    """Restored share per model at a few noise levels: ``{"dae10": 0.97, "ae10": ...}``.

    ``models`` maps the short metric prefix to the model name in ``summary`` (the numbers
    ``dvc exp show`` displays; evaluation.csv holds every level and score).
    """
    out = {}
    for level in levels:
        for prefix, model in models.items():
            rows = summary[(summary["model"] == model) & (summary["level"].round(6) == level)]
            if len(rows):
                out[f"{prefix}{round(level * 100)}"] = round(float(rows["restored"].iloc[0]), 4)
    return out


def long_curves(summary: pd.DataFrame, names: dict | None = None) -> pd.DataFrame:
    """``level, series, restored, mean_wrong`` rows (for ``dvc plots``); ``names`` renames."""
    names = names or {}
    out = summary[["level", "model", "restored", "mean_wrong"]].rename(columns={"model": "series"})
    return out.assign(series=out["series"].map(lambda m: names.get(m, m)))


def example_grid(predict, X, levels, kind: str, seed: int, pixel_range=(0, 1)) -> dict:
    """``{level: (noisy, denoised)}`` of one noisy copy of every glyph per level."""
    streams = np.random.SeedSequence(seed).spawn(len(levels))
    out = {}
    for level, ss in zip(levels, streams, strict=True):
        noisy = add_noise(X, kind, float(level), rng=np.random.default_rng(ss),
                          pixel_range=pixel_range)
        out[float(level)] = (noisy, np.asarray(predict(noisy), dtype=np.float64))
    return out
