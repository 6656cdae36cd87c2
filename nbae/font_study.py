"""The font study: params, training with pixel tracking, run summaries, comparison, figures.

The DVC stages in ``stages/*_font.py`` are thin wrappers around these functions. Settings come
from ``params.yaml``::

    font:          {file, name, encoding}          # which glyphs, binary {0,1} or bipolar {-1,1}
    arch: 7                                        # architecture trained by `train_font`
    architectures: {"1": {...}, ..., "8": {...}}   # nbae.experiment configs (quoted keys)
    train_font:    {seed, metric_every, max_wrong}
    evaluate_font: {transitions, steps, grid_n}

Architecture keys are quoted strings because DVC's ``foreach`` drops integer keys; an integer
``arch`` (what ``dvc exp run -S arch=7`` writes) is looked up as its string.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbae.experiment import check_config, describe, fit_from_config, model_from_config
from nbae.fileio import atomic_path, write_csv, write_json
from nbae.metrics import pixel_errors, summarize_pixel_errors
from nbae.params import ParamsError, integer, model_config, section

IMAGE_SHAPE = (7, 5)
ENCODINGS = {"binary": (0.0, 1.0), "bipolar": (-1.0, 1.0)}
FONT_DEFAULTS = {"file": "data/font.h", "name": "Font3", "encoding": "binary"}
TRAIN_DEFAULTS = {"seed": None, "metric_every": 1000, "max_wrong": 1, "epoch_loss": "full"}
EVAL_DEFAULTS = {"transitions": [["k", "h"], ["w", "u"], ["f", "{"], ["n", "r"]], "steps": 9,
                 "grid_n": 15}


# ---------------------------------------------------------------------------------------------
# params


def font_params(params: dict) -> dict:
    cfg = section(params, "font", FONT_DEFAULTS)
    for key in ("file", "name"):
        if not isinstance(cfg[key], str) or not cfg[key]:
            raise ParamsError(f"params font.{key} must be a non-empty string, got {cfg[key]!r}")
    if cfg["encoding"] not in ENCODINGS:
        raise ParamsError(f"params font.encoding must be one of {sorted(ENCODINGS)}, "
                          f"got {cfg['encoding']!r}")
    return cfg


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
# data


def build_font_set(font_file, name="Font3", encoding="binary") -> dict:
    """Glyph matrix (32, 35) with labels and codes, from a ``font.h`` file.

    A missing ``font_file`` or an array ``name`` the file does not define is a
    :class:`ParamsError` (params ``font.file`` / ``font.name``); a file that is there but
    malformed raises :class:`~nbae.font.FontFormatError` (a ValueError).
    """
    from nbae.font import parse_font

    path = Path(font_file)
    if path.is_dir():
        raise ParamsError(f"params font.file: {path} is a folder, not a font file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ParamsError(f"params font.file: {path} not found") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # as nbae.font.read_font: Latin-1 accents in the comments
        text = raw.decode("latin-1")
    fonts = parse_font(text, source=str(path))
    if name not in fonts:
        raise ParamsError(f"params font.name: no font array named {name!r} in {path}; "
                          f"available: {', '.join(fonts)}")
    fs = fonts[name]
    return {"X": fs.matrix(encoding), "labels": list(fs.labels), "codes": list(fs.codes),
            "encoding": encoding, "pixel_range": list(ENCODINGS[encoding]), "font": name}


def save_font_set(path, data: dict) -> None:
    with atomic_path(path) as tmp:
        np.savez(tmp, X=data["X"], labels=np.array(data["labels"]),
                 codes=np.array(data["codes"]), encoding=np.array(data["encoding"]),
                 pixel_range=np.array(data["pixel_range"]), font=np.array(data["font"]))


def load_font_set(path) -> dict:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {"X": z["X"].astype(np.float64), "labels": [str(s) for s in z["labels"]],
                    "codes": [int(c) for c in z["codes"]], "encoding": str(z["encoding"]),
                    "pixel_range": [float(v) for v in z["pixel_range"]],
                    "font": str(z["font"])}
    except FileNotFoundError:
        raise ValueError(f"{path}: not found (run the build_font stage first)") from None
    except (KeyError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a font set written by build_font ({exc})") from None


# ---------------------------------------------------------------------------------------------
# training


def max_wrong_metric(X, pixel_range, max_wrong: int = 1):
    """Metric callback for ``fit``: worst glyph's wrong pixels and glyphs over ``max_wrong``."""
    def metric(ae):
        err = pixel_errors(X, ae.reconstruct(X), pixel_range)
        return {"max_wrong_pixels": float(err.max()),
                "glyphs_over": float((err > max_wrong).sum())}
    return metric


def train_architecture(cfg: dict, data: dict, metric_every: int = 1000, max_wrong: int = 1,
                       arch: str | None = None):
    """Build and train the model of ``cfg`` on the font set; return (model, history).

    The model's metadata follows the contract (dataset, labels, pixel_range, image_shape,
    train_inputs; latent_stats via fit_from_config). Training raises ValueError for a bad
    config and ``TrainingDiverged`` when the loss blows up.
    """
    X = data["X"]
    metadata = {"dataset": "font", "font": data.get("font", "Font3"),
                "labels": list(data["labels"]), "pixel_range": list(data["pixel_range"]),
                "image_shape": list(IMAGE_SHAPE), "train_inputs": X.tolist(),
                "encoding": data.get("encoding", "binary")}
    if arch is not None:
        metadata["architecture"] = str(arch)
    where = f"architectures.{arch}" if arch is not None else "config"
    try:
        ae = model_from_config(cfg, metadata=metadata, where=where)
    except ValueError as exc:
        raise ParamsError(str(exc)) from None
    metric = max_wrong_metric(X, data["pixel_range"], max_wrong)
    try:
        history = fit_from_config(ae, cfg, X, where=where, metric=metric,
                                  metric_every=metric_every)
    except FloatingPointError:
        raise
    except ValueError as exc:  # a training setting the model rejects (lr, batch_size...)
        raise ParamsError(str(exc)) from None
    return ae, history


def run_summary(ae, history: pd.DataFrame, data: dict, max_wrong: int = 1,
                arch: str | None = None, cfg: dict | None = None) -> dict:
    """JSON-ready summary of one training run (DVC metrics file)."""
    X, labels = data["X"], data["labels"]
    err = pixel_errors(X, ae.reconstruct(X), data["pixel_range"])
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


def per_glyph_table(ae, data: dict) -> pd.DataFrame:
    """label, wrong_pixels for every glyph of the font set."""
    err = pixel_errors(data["X"], ae.reconstruct(data["X"]), data["pixel_range"])
    return pd.DataFrame({"label": data["labels"], "wrong_pixels": err})


def save_run(out_dir, ae, history: pd.DataFrame, summary: dict, data: dict,
             model_path=None) -> None:
    """Write model.npz (or ``model_path``), history.csv, per_glyph.csv and summary.json."""
    out_dir = Path(out_dir)
    ae.save(model_path or out_dir / "model.npz")
    write_csv(out_dir / "history.csv", history)
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


def curves_wide(histories: dict[str, pd.DataFrame], every: int = 100) -> pd.DataFrame:
    """Loss of every run side by side (columns ``arch_<id>``), one row per ``every`` epochs.

    A light table for ``dvc plots`` (the full per-epoch histories are too big to render); runs
    shorter than the longest leave empty cells. Epoch 1 and every multiple of ``every`` kept.
    """
    longest = max(int(h["epoch"].max()) for h in histories.values())
    epochs = np.unique(np.r_[1, np.arange(every, longest + 1, every), longest])
    out = pd.DataFrame({"epoch": epochs})
    for key in sorted(histories, key=_arch_order):
        s = histories[key].set_index("epoch")["loss"]
        out[f"arch_{key}"] = s.reindex(epochs).to_numpy()
    return out


def thin_history(history: pd.DataFrame, every: int = 100) -> pd.DataFrame:
    """Every ``every``-th epoch, plus epoch 1, the last and all rows carrying a metric value."""
    e = history["epoch"].to_numpy()
    keep = (e % every == 0) | (e == 1) | (e == e.max())
    extra = [c for c in history.columns if c not in ("epoch", "loss", "seconds")]
    if extra:
        keep |= history[extra].notna().any(axis=1).to_numpy()
    return history[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# evaluation helpers


def transitions(ae, data: dict, pairs, steps: int = 9):
    """Rows ``(a, b, decoded)`` for each pair of glyph labels, decoded along the latent line."""
    from nbae.latent import interpolate

    labels = data["labels"]
    check_transitions(pairs, labels)
    rows = []
    for a, b in pairs:
        _, dec = interpolate(ae, data["X"][labels.index(a)], data["X"][labels.index(b)],
                             steps=steps)
        rows.append((a, b, dec))
    return rows
