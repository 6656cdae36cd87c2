"""The font study over many seeds: tasks, per-seed results, success rates and spread.

Every architecture of config/font.yaml is trained once per seed on the deterministic lanes
engine (:func:`nbae.studies.ensemble.fit_many`), so each model's weights -- and every number
derived here -- are bit-identical on any x86-64 machine. Seeds of one architecture share a
task per lane group (up to 8 float64 models); tasks run on Dask (:mod:`nbae.studies.sweep`).

Per seed: the lowest loss and its epoch (the weights kept), wrong pixels per glyph of the kept
weights, and the first checked epoch at which every glyph is within ``max_wrong`` wrong pixels
(the course's goal; checked every ``metric_every`` epochs on the running weights). Per
architecture: the share of seeds whose kept weights meet the goal ("success"), median and
interquartile range (IQR) of the lowest loss, and of the goal epoch over the seeds that met it.

Rules (stated once, used everywhere):
- chosen architecture: the highest success share; ties go to the lower median goal epoch,
  then to fewer parameters;
- representative seed of an architecture (whose model the figures show): the seed with the
  median lowest loss (the lower one of the middle two for an even count).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nbae.data.datasets import Dataset
from nbae.data.metrics import pixel_errors
from nbae.studies.experiment import describe, drop_timings
from nbae.studies.sweep import Result, Task

GROUP = 8  # seeds per task: one float64 lane group (two AVX2 / one AVX-512 register)


def seed_list(value, where: str) -> list[int]:
    """``10`` -> seeds 0..9; a list is taken as given (unique integers >= 0)."""
    from nbae.studies.params import ParamsError

    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and value >= 1:
        return list(range(value))
    if isinstance(value, list) and value and all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value) and len(
            set(value)) == len(value):
        return list(value)
    raise ParamsError(f"params {where} must be a count >= 1 or a list of distinct integers "
                      f">= 0, got {value!r}")


def chunks(seeds, size: int = GROUP):
    return [seeds[i:i + size] for i in range(0, len(seeds), size)]


def cost(cfg: dict, n_rows: int, n_seeds: int) -> float:
    """Relative run time of training ``n_seeds`` models of ``cfg`` (steps x weights)."""
    sizes = list(cfg["layers"]) + list(cfg.get("decoder") or cfg["layers"][-2::-1])
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    steps = cfg.get("epochs", 1000) * math.ceil(n_rows / cfg.get("batch_size", 5))
    return float(steps * weights * n_seeds)


def font_tasks(table: dict, data: Dataset, seeds, metric_every: int, max_wrong: int) -> list:
    """One task per architecture and group of up to ``GROUP`` seeds."""
    from nbae.studies.ensemble import check_training

    for key, cfg in table.items():  # every entry checked before anything is trained
        check_training(cfg, data.X, where=f"architectures.{key}")
    tasks = []
    for key, cfg in table.items():
        for group in chunks(list(seeds)):
            tasks.append(Task(
                key=f"arch {key}, seeds {group[0]}-{group[-1]}", fn=train_seeds,
                kwargs={"cfg": cfg, "X": data.X, "seeds": group, "arch": key,
                        "metadata": data.model_metadata(), "pixel_range": list(data.pixel_range),
                        "metric_every": metric_every, "max_wrong": max_wrong},
                cost=cost(cfg, data.X.shape[0], len(group))))
    return tasks


def train_seeds(cfg, X, seeds, arch, metadata, pixel_range, metric_every, max_wrong,
                threads=None) -> Result:
    """Train one model of ``cfg`` per seed together (a sweep task); see the module docstring.

    cfg : dict
        nbae.experiment config of the architecture.
    X : ndarray (32, 35)
        The glyphs.
    seeds : list of int
        Model seeds (initial weights and shuffles).
    arch : str
        Architecture key, recorded in each model's metadata.
    metadata : dict
        Dataset metadata for the model files (``Dataset.model_metadata()``).
    pixel_range : [low, high]
        Pixel value range of the glyphs (for wrong-pixel counts).
    metric_every : int
        Epochs between goal checks on the running weights.
    max_wrong : int
        The goal: at most this many wrong pixels per glyph.
    threads : int or None
        Threads for lane groups (results do not depend on it).
    """
    from nbae.engine import exact
    from nbae.studies.ensemble import fit_many
    from nbae.studies.experiment import latent_stats
    from nbae.studies.font import thin_history

    def metric(ae):
        err = pixel_errors(X, exact.reconstruct(ae, X), pixel_range)
        return {"max_wrong_pixels": float(err.max())}

    models, history = fit_many(cfg, X, seeds=list(seeds), metric=metric,
                               metric_every=metric_every, n_jobs=threads, progress=False)
    runs, curves, glyphs, out = [], [], [], {}
    labels = metadata.get("labels") or [str(i) for i in range(X.shape[0])]
    for ae, seed in zip(models, seeds, strict=True):
        h = history[history["seed"] == seed].drop(columns=["model", "seed"])
        drop_timings(ae)
        t = ae.training
        ae.metadata = {**metadata, "architecture": str(arch),
                       "latent_stats": latent_stats(ae, X, exact=True)}
        err = pixel_errors(X, exact.reconstruct(ae, X), pixel_range)
        met = h["max_wrong_pixels"].le(max_wrong) if "max_wrong_pixels" in h else None
        goal_epoch = (int(h.loc[met, "epoch"].iloc[0]) if met is not None and met.any()
                      else None)
        runs.append({"seed": int(seed), "best_loss": t["best_loss"],
                     "best_epoch": t["best_epoch"], "final_loss": t["final_loss"],
                     "epochs": int(t["epochs_run"]), "stop_reason": t["stop_reason"],
                     "max_px": int(err.max()), "glyphs_over": int((err > max_wrong).sum()),
                     "goal": bool((err <= max_wrong).all()),
                     "goal_epoch": np.nan if goal_epoch is None else float(goal_epoch),
                     "wrong_glyphs": " ".join(f"{a}:{e}" for a, e in
                                              zip(labels, err, strict=True) if e)})
        curves.append(thin_history(h).assign(seed=int(seed)))
        glyphs.append(pd.DataFrame({"seed": int(seed), "label": labels, "wrong_pixels": err}))
        out[f"seed-{seed}"] = ae
    curve = pd.concat(curves, ignore_index=True)
    curve = curve[["seed"] + [c for c in curve.columns if c != "seed"]]
    return Result(models=out, tables={"runs": pd.DataFrame(runs), "curves": curve,
                                      "per_glyph": pd.concat(glyphs, ignore_index=True)},
                  info={"arch": str(arch), "description": describe(cfg)})


def merge(results) -> dict:
    """Per architecture: {"models": {seed: ae}, "runs", "curves", "per_glyph", "description"}."""
    out = {}
    for r in results:
        arch = r.info["arch"]
        a = out.setdefault(arch, {"models": {}, "runs": [], "curves": [], "per_glyph": [],
                                  "description": r.info["description"]})
        a["models"].update({int(k.split("-")[1]): v for k, v in r.models.items()})
        for name in ("runs", "curves", "per_glyph"):
            a[name].append(r.tables[name])
    for a in out.values():
        for name in ("runs", "curves", "per_glyph"):
            a[name] = pd.concat(a[name], ignore_index=True).sort_values(
                "seed", kind="stable").reset_index(drop=True)
    return out


# ---------------------------------------------------------------------------------------------
# statistics over seeds


def _quartiles(values) -> tuple:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None, None, None
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return float(q1), float(med), float(q3)


def representative_seed(runs: pd.DataFrame) -> int:
    """The seed with the median lowest loss (the lower middle one for an even count)."""
    order = runs.sort_values(["best_loss", "seed"], kind="stable")
    return int(order["seed"].iloc[(len(order) - 1) // 2])


def arch_summary(runs: pd.DataFrame) -> dict:
    """Success share and spread of one architecture's seeds (JSON-ready)."""
    q1, med, q3 = _quartiles(runs["best_loss"])
    g1, gmed, g3 = _quartiles(runs["goal_epoch"])
    return {"seeds": int(len(runs)), "success": float(runs["goal"].mean()),
            "successes": int(runs["goal"].sum()),
            "loss_median": med, "loss_q1": q1, "loss_q3": q3,
            "goal_epoch_median": gmed, "goal_epoch_q1": g1, "goal_epoch_q3": g3,
            "goal_reached": int(runs["goal_epoch"].notna().sum()),
            "max_px_median": float(runs["max_px"].median()),
            "diverged": int((runs["stop_reason"] == "diverged").sum()),
            "representative_seed": representative_seed(runs)}


def choose(table: pd.DataFrame) -> str:
    """The chosen architecture: highest success, then lower median goal epoch, then fewer
    parameters (see the module docstring)."""
    t = table.assign(_goal=table["goal_epoch_median"].fillna(np.inf))
    t = t.sort_values(["success", "_goal", "n_params"], ascending=[False, True, True],
                      kind="stable")
    return str(t["arch"].iloc[0])


def band(curves: pd.DataFrame, column: str = "loss") -> pd.DataFrame:
    """Median and quartiles over seeds of ``column`` at every epoch all seeds logged it."""
    c = curves[["seed", "epoch", column]].dropna()
    n = c["seed"].nunique()
    per = c.groupby("epoch")[column]
    full = per.count() == n  # epochs every seed has (the thinned rows every 100 epochs)
    q = per.quantile([0.25, 0.5, 0.75]).unstack()[full]
    return pd.DataFrame({"epoch": q.index.to_numpy(), "median": q[0.5].to_numpy(),
                         "q1": q[0.25].to_numpy(), "q3": q[0.75].to_numpy()})
