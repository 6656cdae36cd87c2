"""The denoising study over many seeds: denoisers trained together, paired comparison.

The denoiser of config/denoise.yaml is trained once per seed of ``denoise.seeds`` on the
deterministic lanes engine (one noisy training set, drawn once from ``denoise.seed``; the
model seed sets the initial weights and the shuffles). Its plain baseline is the font study's
architecture 7, trained on the same seeds by stage train_font. Evaluation feeds every model
the same fresh noisy glyphs per level and pairs denoiser seed s with plain seed s: per level,
the restored share's median and IQR over seeds for each, and a Wilcoxon signed-rank test of
the paired differences (scipy.stats.wilcoxon, two-sided): is the denoiser's advantage larger
than the seed-to-seed spread?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbae.data.metrics import pixel_errors
from nbae.studies.sweep import Result, Task


def denoise_tasks(cfg: dict, data, seeds) -> list:
    """One task per group of up to 8 seeds (a float64 lane group)."""
    from nbae.studies.denoising import training_set
    from nbae.studies.ensemble import check_training
    from nbae.studies.font_sweep import chunks, cost

    Xin, Y, overrides = training_set(data.X, cfg, data.pixel_range)
    model = {**cfg["model"], **overrides}
    check_training(model, Xin, Y, where="denoise.model")
    metadata = data.model_metadata()
    metadata["denoising"] = {k: cfg[k] for k in ("kind", "levels", "copies", "mode",
                                                 "fresh_level", "seed")}
    return [Task(key=f"denoiser, seeds {g[0]}-{g[-1]}", fn=train_denoisers,
                 kwargs={"cfg": model, "X": Xin, "Y": Y, "clean": data.X, "seeds": g,
                         "metadata": metadata, "pixel_range": list(data.pixel_range),
                         "metric_every": cfg["metric_every"]},
                 cost=cost(model, Xin.shape[0], len(g))) for g in chunks(list(seeds))]


def train_denoisers(cfg, X, Y, clean, seeds, metadata, pixel_range, metric_every,
                    threads=None) -> Result:
    """Train one denoiser per seed together (a sweep task).

    cfg : dict
        nbae.experiment config of the denoiser (with ``input_noise`` in fresh mode).
    X, Y : ndarray
        Noisy inputs and their clean targets.
    clean : ndarray (32, 35)
        The clean glyphs (wrong-pixel checks, latent statistics).
    seeds : list of int
        Model seeds.
    metadata : dict
        Model file metadata (dataset and denoising settings).
    pixel_range : [low, high]
        Pixel range of the glyphs.
    metric_every : int
        Epochs between checks of the worst clean glyph's wrong pixels.
    threads : int or None
        Threads for lane groups (results do not depend on it).
    """
    from nbae.engine import exact
    from nbae.studies.ensemble import fit_many
    from nbae.studies.experiment import drop_timings, latent_stats
    from nbae.studies.font import thin_history

    def metric(ae):
        return {"max_wrong_pixels": float(pixel_errors(clean, exact.reconstruct(ae, clean),
                                                       pixel_range).max())}

    models, history = fit_many(cfg, X, Y, seeds=list(seeds), metric=metric,
                               metric_every=metric_every, n_jobs=threads, progress=False)
    runs, curves, out = [], [], {}
    for ae, seed in zip(models, seeds, strict=True):
        drop_timings(ae)
        t = ae.training
        ae.metadata = {**metadata, "latent_stats": latent_stats(ae, clean, exact=True)}
        err = pixel_errors(clean, exact.reconstruct(ae, clean), pixel_range)
        runs.append({"seed": int(seed), "best_loss": t["best_loss"],
                     "best_epoch": t["best_epoch"], "final_loss": t["final_loss"],
                     "epochs": int(t["epochs_run"]), "stop_reason": t["stop_reason"],
                     "clean_max_px": int(err.max()), "clean_over_1": int((err > 1).sum())})
        h = history[history["seed"] == seed].drop(columns=["model", "seed"])
        curves.append(thin_history(h, every=10).assign(seed=int(seed)))
        out[f"seed-{seed}"] = ae
    curve = pd.concat(curves, ignore_index=True)
    curve = curve[["seed"] + [c for c in curve if c != "seed"]]
    return Result(models=out, tables={"runs": pd.DataFrame(runs), "curves": curve},
                  info={"n_samples": int(X.shape[0])})


# ---------------------------------------------------------------------------------------------
# evaluation over seeds


def per_seed(trials: pd.DataFrame) -> pd.DataFrame:
    """Mean over trials per (model, seed, level) of ``restored`` and ``mean_wrong``.

    ``trials``: :func:`nbae.studies.denoising.evaluate` output whose model names are
    ``"<model>|<seed>"``.
    """
    g = trials.groupby(["model", "level"], sort=False).agg(
        restored=("restored", "mean"), mean_wrong=("mean_wrong", "mean"),
        mse=("mse", "mean")).reset_index()
    parts = g["model"].str.split("|", n=1, expand=True)
    return g.assign(model=parts[0], seed=parts[1].astype(int))[
        ["model", "seed", "level", "restored", "mean_wrong", "mse"]]


def compare(scores: pd.DataFrame, a: str, b: str, column: str = "restored") -> pd.DataFrame:
    """Per level: median and IQR over seeds of ``column`` for models ``a`` and ``b``, the
    median paired difference a - b, the seeds where a beats b, and the Wilcoxon signed-rank
    p-value (two-sided; 1.0 when every difference is zero)."""
    from scipy.stats import wilcoxon

    rows = []
    for level, g in scores.groupby("level", sort=True):
        A = g[g["model"] == a].set_index("seed")[column]
        B = g[g["model"] == b].set_index("seed")[column]
        seeds = A.index.intersection(B.index)
        d = (A[seeds] - B[seeds]).to_numpy()
        row = {"level": float(level), "seeds": int(len(seeds))}
        for name, v in ((a, A[seeds]), (b, B[seeds])):
            q1, med, q3 = np.quantile(v.to_numpy(), [0.25, 0.5, 0.75])
            row.update({f"{name}_median": med, f"{name}_q1": q1, f"{name}_q3": q3})
        row["diff_median"] = float(np.median(d))
        row["wins"] = int((d > 0).sum())
        row["losses"] = int((d < 0).sum())
        row["p_wilcoxon"] = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
        rows.append(row)
    return pd.DataFrame(rows)
