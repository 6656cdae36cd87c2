"""The font study: params, training with pixel tracking, run summaries, comparison, figures.

The DVC stages in ``stages/*_font.py`` are thin wrappers around these functions. Settings come
from ``params.yaml``::

    font:          {file, name, encoding}          # which glyphs, binary {0,1} or bipolar {-1,1}
    arch: 7                                        # architecture trained by `train_font`
    architectures: {"1": {...}, ..., "8": {...}}   # nbae.studies.experiment configs (quoted keys)
    train_font:    {seed, metric_every, max_wrong}
    evaluate_font: {transitions, steps, grid_n}

Architecture keys are quoted strings because DVC's ``foreach`` drops integer keys; an integer
``arch`` (what ``dvc exp run -S arch=7`` writes) is looked up as its string.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbae.data.datasets import Dataset
from nbae.data.metrics import max_wrong_metric, pixel_errors, summarize_pixel_errors
from nbae.fileio import write_csv, write_json
from nbae.studies.experiment import check_config, describe, fit_from_config, model_from_config
from nbae.studies.params import ParamsError, integer, model_config, section

IMAGE_SHAPE = (7, 5)
TRAIN_DEFAULTS = {"seed": None, "metric_every": 1000, "max_wrong": 1, "epoch_loss": "full"}
EVAL_DEFAULTS = {"transitions": [["k", "h"], ["w", "u"], ["f", "{"], ["n", "r"]], "steps": 9,
                 "grid_n": 15}


# ---------------------------------------------------------------------------------------------
# params


def train_params(params: dict) -> dict:
    cfg = section(params, "train_font", TRAIN_DEFAULTS)
    cfg["metric_every"] = integer(cfg["metric_every"], "train_font.metric_every", 1)
    cfg["max_wrong"] = integer(cfg["max_wrong"], "train_font.max_wrong", 0)
    if cfg["seed"] is not None and (isinstance(cfg["seed"], bool)
                                    or not isinstance(cfg["seed"], int) or cfg["seed"] < 0):
        raise ParamsError(f"params train_font.seed must be an integer >= 0 or null, "
                          f"got {cfg['seed']!r}")
    if cfg["epoch_loss"] not in ("running", "full"):
        raise ParamsError(f"params train_font.epoch_loss must be 'running' or 'full', "
                          f"got {cfg['epoch_loss']!r}")
    return cfg


def eval_params(params: dict) -> dict:
    cfg = section(params, "evaluate_font", EVAL_DEFAULTS)
    pairs = cfg["transitions"]
    if not isinstance(pairs, list) or not pairs or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs):
        raise ParamsError("params evaluate_font.transitions must be a list of [from, to] pairs, "
                          "e.g. [[k, h], [w, u]]")
    cfg["transitions"] = [[str(a), str(b)] for a, b in pairs]
    cfg["steps"] = integer(cfg["steps"], "evaluate_font.steps", 2)
    cfg["grid_n"] = integer(cfg["grid_n"], "evaluate_font.grid_n", 1)
    return cfg


def check_transitions(pairs, labels) -> None:
    """:class:`ParamsError` naming the first glyph of ``pairs`` that is not among ``labels``."""
    for a, b in pairs:
        for c in (a, b):
            if c not in labels:
                raise ParamsError(f"params evaluate_font.transitions: glyph {c!r} is not in the "
                                  f"font (glyphs: {' '.join(labels)})")


def architectures(params: dict) -> dict[str, dict]:
    table = params.get("architectures")
    if not isinstance(table, dict) or not table:
        raise ParamsError("params 'architectures' must be a non-empty mapping of "
                          "'id': {layers: [...], ...}")
    return {str(k): v for k, v in table.items()}


def arch_config(params: dict, arch=None) -> tuple[str, dict]:
    """(key, config) of architecture ``arch`` (default: params ``arch``), checked and seeded.

    ``train_font.seed``, when set, overrides the architecture's own seed.
    """
    table = architectures(params)
    if arch is None:
        if "arch" not in params:
            raise ParamsError("params 'arch' (the architecture to train) is missing")
        arch = params["arch"]
    key = str(arch)
    if key not in table:
        raise ParamsError(f"architecture {key!r} is not in params 'architectures' "
                          f"(have {', '.join(table)})")
    cfg = model_config(table[key], f"architectures.{key}")
    try:
        check_config(cfg, where=f"architectures.{key}")
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    tp = train_params(params)
    if tp["seed"] is not None:
        cfg["seed"] = tp["seed"]
    cfg.setdefault("epoch_loss", tp["epoch_loss"])  # an architecture's own setting wins
    return key, cfg


# ---------------------------------------------------------------------------------------------
# training


def train_architecture(cfg: dict, data: Dataset, metric_every: int = 1000, max_wrong: int = 1,
                       arch: str | None = None):
    """Build and train the model of ``cfg`` on the font set; return (model, history).

    The model's metadata follows the contract (dataset, labels, pixel_range, image_shape,
    train_inputs; latent_stats via fit_from_config). Training raises ValueError for a bad
    config and ``TrainingDiverged`` when the loss blows up.
    """
    X = data.X
    metadata = data.model_metadata()
    if arch is not None:
        metadata["architecture"] = str(arch)
    where = f"architectures.{arch}" if arch is not None else "config"
    try:
        ae = model_from_config(cfg, metadata=metadata, where=where)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    metric = max_wrong_metric(X, data.pixel_range, max_wrong)
    try:
        history = fit_from_config(ae, cfg, X, where=where, metric=metric,
                                  metric_every=metric_every)
    except FloatingPointError:
        raise
    except ValueError as exc:  # a training setting the model rejects (lr, batch_size...)
        raise ParamsError(str(exc)) from None
    return ae, history


def run_summary(ae, history: pd.DataFrame, data: Dataset, max_wrong: int = 1,
                arch: str | None = None, cfg: dict | None = None) -> dict:
    """JSON-ready summary of one training run (DVC metrics file)."""
    X, labels = data.X, data.labels
    err = pixel_errors(X, ae.reconstruct(X), data.pixel_range)
    pix = summarize_pixel_errors(err, labels, max_wrong=max_wrong)
    t = ae.training
    loss = history["loss"].to_numpy(dtype=float)
    return {
        "arch": str(arch) if arch is not None else None,
        "description": describe(cfg) if cfg else None,
        "n_params": int(ae.n_params),
        "epochs": int(t["epochs_run"]),
        "final_loss": float(loss[-1]),
        "lowest_loss": float(t["best_loss"]),
        "lowest_loss_epoch": int(t["best_epoch"]),
        "restored_best": bool(t["restored_best"]),
        "loss_after_training": float(ae.loss(X)),
        "max_pixel_error": pix["max_pixel_error"],
        "mean_pixel_error": round(pix["mean_pixel_error"], 6),
        "glyphs_over": pix["glyphs_over"],
        "glyphs_over_labels": " ".join(pix["glyphs_over_labels"]),
        "all_within": pix["all_within"],
        "max_wrong_allowed": int(max_wrong),
        "training_seconds": round(float(t["seconds"]), 3),
        "steps": int(t["steps"]),
        "steps_per_second": round(float(t["steps_per_second"] or 0.0), 1),
        # glyphs with any wrong pixel, "label:count" (the rest are exact); one column in
        # `dvc metrics show` instead of 32; per_glyph.csv has every glyph
        "wrong_glyphs": " ".join(f"{k}:{v}" for k, v in pix["per_glyph"].items() if v),
    }


def per_glyph_table(ae, data: Dataset) -> pd.DataFrame:
    """label, wrong_pixels for every glyph of the font set."""
    err = pixel_errors(data.X, ae.reconstruct(data.X), data.pixel_range)
    return pd.DataFrame({"label": data.labels, "wrong_pixels": err})


def save_run(out_dir, ae, history: pd.DataFrame, summary: dict, data: Dataset,
             model_path=None) -> None:
    """Write the model, curve.csv (thinned history), per_glyph.csv and summary.json."""
    out_dir = Path(out_dir)
    ae.save(model_path or out_dir / "model.npz")
    write_csv(out_dir / "curve.csv", thin_history(history))
    write_csv(out_dir / "per_glyph.csv", per_glyph_table(ae, data))
    write_json(out_dir / "summary.json", summary)


def read_history(path) -> pd.DataFrame:
    path = Path(path)
    try:
        h = pd.read_csv(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: not found") from None
    if "epoch" not in h or "loss" not in h:
        raise ValueError(f"{path}: not a training history (needs columns epoch, loss)")
    return h


# ---------------------------------------------------------------------------------------------
# comparison


def comparison_table(summaries: dict[str, dict]) -> pd.DataFrame:
    """One row per architecture from the run summaries, sorted by architecture id."""
    rows = []
    for key in sorted(summaries, key=_arch_order):
        s = summaries[key]
        rows.append({"arch": key, "description": s.get("description"),
                     "n_params": s["n_params"], "epochs": s["epochs"],
                     "final_loss": s["final_loss"], "lowest_loss": s["lowest_loss"],
                     "lowest_loss_epoch": s["lowest_loss_epoch"],
                     "max_pixel_error": s["max_pixel_error"],
                     "mean_pixel_error": s["mean_pixel_error"],
                     "glyphs_over": s["glyphs_over"], "all_within": s["all_within"],
                     "training_seconds": s["training_seconds"],
                     "steps_per_second": s["steps_per_second"]})
    return pd.DataFrame(rows)


def _arch_order(key):
    return (0, int(key), "") if str(key).isdigit() else (1, 0, str(key))


def curves_long(histories: dict[str, pd.DataFrame], column: str = "loss") -> pd.DataFrame:
    """``epoch, series, <column>`` rows of every run (``series``: "arch <key>"), for plots.

    Only rows where ``column`` was measured are kept, so a value sampled every 1000 epochs is
    drawn from its samples rather than from blanks in between.
    """
    frames = []
    for key in sorted(histories, key=_arch_order):
        h = histories[key]
        if column not in h:
            continue
        h = h[["epoch", column]].dropna()
        frames.append(h.assign(series=f"arch {key}")[["epoch", "series", column]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["epoch", "series", column])


def headline(summary: dict, n_glyphs: int) -> dict:
    """The few numbers ``dvc exp show`` displays for the evaluated architecture."""
    # "font_arch", not "arch": a metric named like a param gets a long file-prefixed column
    return {"font_arch": int(summary["arch"]) if str(summary["arch"]).isdigit()
            else summary["arch"],
            "best_loss": float(f"{summary['lowest_loss']:.4g}"),
            "max_px": int(summary["max_pixel_error"]),
            "glyphs_ok": int(n_glyphs - summary["glyphs_over"])}


def thin_history(history: pd.DataFrame, every: int = 100) -> pd.DataFrame:
    """Every ``every``-th epoch, epoch 1, the last, the lowest-loss one and the metric rows.

    The per-epoch history of a 150,000-epoch run is 150,000 rows; this keeps what the figures
    and ``dvc plots`` draw (the error curve's lowest point included) at ~1 % of the size.
    """
    e = history["epoch"].to_numpy()
    keep = (e % every == 0) | (e == 1) | (e == e.max())
    keep[int(np.nanargmin(history["loss"].to_numpy()))] = True
    extra = [c for c in history.columns if c not in ("epoch", "loss", "seconds")]
    if extra:
        keep |= history[extra].notna().any(axis=1).to_numpy()
    return history[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# evaluation helpers


def transitions(ae, data: Dataset, pairs, steps: int = 9):
    """Rows ``(a, b, decoded)`` for each pair of glyph labels, decoded along the latent line."""
    from nbae.engine.latent import interpolate

    labels = data.labels
    check_transitions(pairs, labels)
    rows = []
    for a, b in pairs:
        _, dec = interpolate(ae, data.X[labels.index(a)], data.X[labels.index(b)],
                             steps=steps)
        rows.append((a, b, dec))
    return rows
