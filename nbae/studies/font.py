"""The font study: params, run files, headline metrics and evaluation helpers.

The DVC stages in ``stages/*_font.py`` are thin wrappers around these functions and
:mod:`nbae.studies.font_sweep` (training over seeds). Settings come from config/font.yaml::

    font:          {name, encoding}                # which glyphs, binary {0,1} or bipolar {-1,1}
    architectures: {"1": {...}, ..., "8": {...}}   # nbae.studies.experiment configs (quoted keys)
    train_font:    {seeds, metric_every, max_wrong, epoch_loss}
    evaluate_font: {transitions, steps, grid_n}

and params.yaml's ``arch`` (the architecture ``evaluate_font`` shows). Architecture keys are
quoted strings (DVC's ``foreach`` used to drop integer keys); an integer ``arch`` (what ``dvc
exp run -S arch=7`` writes) is looked up as its string.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbae.data.datasets import Dataset
from nbae.studies.params import ParamsError, integer, section, study_model_config

IMAGE_SHAPE = (7, 5)
TRAIN_DEFAULTS = {"seeds": 10, "metric_every": 500, "max_wrong": 1, "epoch_loss": "full"}
EVAL_DEFAULTS = {"transitions": [["k", "h"], ["w", "u"], ["f", "{"], ["n", "r"]], "steps": 9,
                 "grid_n": 15}


# ---------------------------------------------------------------------------------------------
# params


def train_params(params: dict) -> dict:
    cfg = section(params, "train_font", TRAIN_DEFAULTS)
    cfg["metric_every"] = integer(cfg["metric_every"], "train_font.metric_every", 1)
    cfg["max_wrong"] = integer(cfg["max_wrong"], "train_font.max_wrong", 0)
    from nbae.studies.font_sweep import seed_list

    cfg["seeds"] = seed_list(cfg["seeds"], "train_font.seeds")
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
    """(key, config) of architecture ``arch`` (default: params ``arch``), checked.

    Seeds come from ``train_font.seeds`` (the sweep), not from the entry.
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
    cfg = study_model_config(table[key], f"architectures.{key}")
    cfg.setdefault("epoch_loss", train_params(params)["epoch_loss"])  # the entry's own wins
    return key, cfg


# ---------------------------------------------------------------------------------------------
# runs


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


def arch_order(key):
    return (0, int(key), "") if str(key).isdigit() else (1, 0, str(key))


def curves_long(histories: dict[str, pd.DataFrame], column: str = "loss") -> pd.DataFrame:
    """``epoch, series, <column>`` rows of every run (``series``: "arch <key>"), for plots.

    Only rows where ``column`` was measured are kept, so a value sampled every 1000 epochs is
    drawn from its samples rather than from blanks in between.
    """
    frames = []
    for key in sorted(histories, key=arch_order):
        h = histories[key]
        if column not in h:
            continue
        h = h[["epoch", column]].dropna()
        frames.append(h.assign(series=f"arch {key}")[["epoch", "series", column]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["epoch", "series", column])


def headline(summary: dict) -> dict:
    """The few numbers ``dvc exp show`` displays for the evaluated architecture.

    ``summary``: its :func:`nbae.studies.font_sweep.arch_summary` (plus ``arch``).
    """
    # "font_arch", not "arch": a metric named like a param gets a long file-prefixed column
    arch = summary["arch"]
    med = summary["loss_median"]
    return {"font_arch": int(arch) if str(arch).isdigit() else arch,
            "success": round(float(summary["success"]), 4),
            "med_loss": None if med is None else float(f"{med:.4g}")}


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
