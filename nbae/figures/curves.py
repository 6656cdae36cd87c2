"""Line figures: training error, error against noise level, loss against latent size.

DataFrames in, PNG files out (see :mod:`nbae.figures.common` for the shared conventions).
Titles, axis labels and legends are human text given by the caller or built here; column
names are never shown (a reader does not know what ``restored_min`` is).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from nbae.figures.common import (
    TXT,
    colours,
    fmt_epoch,
    legend_label,
    render,
    require_columns,
)

__all__ = ["downsample_history", "plot_bands", "plot_history", "plot_latent_search",
           "plot_noise_curves"]


def _check_history(h, name) -> None:
    require_columns(h, ["epoch", "loss"], name)
    if h.empty:
        raise ValueError(f"{name} has no rows")


def downsample_history(history: pd.DataFrame, max_points: int = 2000) -> pd.DataFrame:
    """Thin a loss history to at most ``max_points`` rows for plotting.

    Rows with a non-finite loss are dropped and rows are sorted by epoch. Short histories are
    returned whole. Long ones are cut into equal buckets of consecutive rows, and each bucket
    keeps its lowest and its highest loss row (so the noisy envelope of the curve survives and
    the true minimum is always kept); the first and last rows are always kept too. The
    original index and all columns are preserved.
    """
    _check_history(history, "history")
    if int(max_points) != max_points or max_points < 4:
        raise ValueError(f"max_points must be an integer >= 4, got {max_points!r}")
    h = history[np.isfinite(history["loss"].to_numpy(dtype=float))]
    h = h.sort_values("epoch", kind="stable")
    n = len(h)
    if n <= max_points:
        return h.copy()
    loss = h["loss"].to_numpy(dtype=float)
    n_buckets = (int(max_points) - 2) // 2
    edges = np.linspace(0, n, n_buckets + 1).astype(int)
    keep = [0, n - 1]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b > a:
            seg = loss[a:b]
            keep.append(a + int(np.argmin(seg)))
            keep.append(a + int(np.argmax(seg)))
    return h.iloc[np.unique(keep)].copy()


def plot_history(histories, path, title: str = "Training error", log: bool = True,
                 mark_min: bool = True, max_points: int = 2000,
                 ylabel: str = "loss") -> None:
    """Loss against epoch for one or more training runs.

    ``histories`` maps a curve name (e.g. an architecture) to a DataFrame with columns
    ``epoch`` and ``loss``; a single DataFrame is accepted as one curve named "loss". Long
    histories are thinned with :func:`downsample_history` (the true minimum is kept). With
    ``mark_min`` each curve's lowest point is marked and its value and epoch are put in the
    legend (and written next to the point when there is a single curve).
    """
    if isinstance(histories, pd.DataFrame):
        histories = {"loss": histories}
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty dict of name -> DataFrame")
    for name, h in histories.items():
        _check_history(h, f"histories[{name!r}]")
        if not np.isfinite(h["loss"].to_numpy(dtype=float)).any():
            raise ValueError(f"histories[{name!r}] has no finite loss value")

    def build(fig):
        ax = fig.add_subplot()
        palette = colours(len(histories))
        for k, (name, h) in enumerate(histories.items()):
            thin = downsample_history(h, max_points)
            label = legend_label(name)
            style = dict(color=palette[k], linestyle=["-", "--", ":", "-."][(k // 20) % 4])
            if mark_min:
                i = thin["loss"].to_numpy(dtype=float).argmin()
                e, v = thin["epoch"].iloc[i], float(thin["loss"].iloc[i])
                label += f"  (min {v:.3g} @ epoch {fmt_epoch(e)})"
            ax.plot(thin["epoch"], thin["loss"], lw=1.2 if len(histories) < 4 else 0.9,
                    alpha=1.0 if len(histories) < 4 else 0.85, label=label, **style)
            if mark_min:
                ax.plot([e], [v], marker="o", ms=7, mfc="none", mew=1.8, color=palette[k],
                        zorder=5)
                if len(histories) == 1:
                    ax.annotate(f"min {v:.3g}\nepoch {fmt_epoch(e)}", (e, v),
                                xytext=(12, 18), textcoords="offset points", fontsize=9,
                                arrowprops=dict(arrowstyle="->", color="0.3"),
                                bbox=dict(boxstyle="round", fc="white", ec="0.6"))
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
        ax.set_title(title, **TXT)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        if len(histories) > 4:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
        else:
            ax.legend(loc="upper right", fontsize=9)

    render(build, path, figsize=(8.5, 5.0))


def plot_bands(bands, path, title: str = "Training error over seeds", log: bool = True,
               ylabel: str = "loss", band_label: str = "shaded: interquartile range over seeds"
               ) -> None:
    """Median curve with a shaded band (e.g. the IQR over seeds) per series.

    ``bands`` maps a series name to a DataFrame with columns ``epoch``, ``median``, ``q1``,
    ``q3`` (:func:`nbae.studies.font_sweep.band`).
    """
    if not isinstance(bands, Mapping) or not bands:
        raise ValueError("bands must be a non-empty dict of name -> DataFrame")
    for name, b in bands.items():
        require_columns(b, ["epoch", "median", "q1", "q3"], f"bands[{name!r}]")
        if b.empty:
            raise ValueError(f"bands[{name!r}] has no rows")

    def build(fig):
        ax = fig.add_subplot()
        palette = colours(len(bands))
        for k, (name, b) in enumerate(bands.items()):
            b = b.sort_values("epoch")
            ax.plot(b["epoch"], b["median"], color=palette[k], lw=1.2,
                    linestyle=["-", "--", ":", "-."][(k // 10) % 4], label=legend_label(name))
            ax.fill_between(b["epoch"], b["q1"], b["q3"], color=palette[k], alpha=0.15, lw=0)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
        ax.set_title(title, **TXT)
        ax.grid(True, which="major", alpha=0.35)
        handles, names = ax.get_legend_handles_labels()
        handles.append(Patch(color="0.5", alpha=0.3, lw=0))
        names.append(band_label)
        ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
                  frameon=False)

    render(build, path, figsize=(10.0, 5.0))


def plot_noise_curves(df: pd.DataFrame, path, x: str = "level", series: str = "model",
                      mean: str = "mean", low: str | None = None, high: str | None = None,
                      std: str | None = None, title: str = "Error against noise level",
                      xlabel: str = "noise level", ylabel: str = "wrong pixels per image",
                      log: bool = False, band_label: str | None = None,
                      y_percent: bool = False) -> None:
    """Error against noise level, one line per ``series`` value, with a shaded band.

    The band spans columns ``low``..``high`` when both are given (e.g. min..max over trials),
    or ``mean`` +/- ``std`` when ``std`` is given; no band otherwise. ``band_label`` says in
    words what the band is (e.g. "min–max over 20 trials"); it becomes a grey legend entry
    (default "shaded: lowest to highest" or "shaded: mean ± 1 std"). Column names appear
    nowhere in the figure. When every x value lies in [0, 1] the x axis is labelled in
    percent; ``y_percent`` does the same for a y column of shares in [0, 1].
    """
    if (low is None) != (high is None):
        raise ValueError("give both low and high band columns, or neither")
    if std is not None and low is not None:
        raise ValueError("give either std or low/high for the band, not both")
    cols = [x, series, mean] + [c for c in (low, high, std) if c is not None]
    require_columns(df, cols, "df")
    if df.empty:
        raise ValueError("df has no rows")
    if band_label is None:
        band_label = ("shaded: lowest to highest" if low is not None
                      else "shaded: mean \u00b1 1 std" if std is not None else None)
    groups = list(df.groupby(series, sort=False))
    xv = df[x].to_numpy(dtype=float)

    def build(fig):
        ax = fig.add_subplot()
        palette = colours(len(groups))
        for k, (name, g) in enumerate(groups):
            g = g.sort_values(x)
            gx, gm = g[x].to_numpy(dtype=float), g[mean].to_numpy(dtype=float)
            ax.plot(gx, gm, marker="o", color=palette[k], label=legend_label(name))
            if low is not None:
                lo, hi = g[low].to_numpy(dtype=float), g[high].to_numpy(dtype=float)
            elif std is not None:
                s = g[std].to_numpy(dtype=float)
                lo, hi = gm - s, gm + s
            else:
                continue
            ax.fill_between(gx, lo, hi, color=palette[k], alpha=0.18, lw=0)
        if np.nanmin(xv) >= 0 and np.nanmax(xv) <= 1:
            ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        if y_percent:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        if log:
            ax.set_yscale("log")
        ax.set_title(title, **TXT)
        ax.set_xlabel(xlabel, **TXT)
        ax.set_ylabel(ylabel, **TXT)
        ax.grid(True, alpha=0.35)
        handles, names = ax.get_legend_handles_labels()
        if band_label is not None and (low is not None or std is not None):
            handles.append(Patch(color="0.5", alpha=0.3, lw=0))
            names.append(band_label)
        if len(groups) > 6:
            ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                      fontsize=8, frameon=False)
        else:
            ax.legend(handles, names, fontsize=9)

    render(build, path, figsize=(8.0, 5.0))


def plot_latent_search(df: pd.DataFrame, path, threshold: float | None = None,
                       chosen: int | None = None, title: str = "Loss against latent size",
                       ylabel: str = "loss") -> None:
    """Final and best loss against latent size (log y), threshold line and chosen size.

    ``df`` has columns ``latent_dim``, ``final_loss``, ``best_loss`` (several rows per size,
    e.g. seeds, are drawn as points; the lines follow each size's median, and the best loss's
    interquartile range is shaded). ``chosen``
    is the caller's decision (e.g. :func:`nbae.studies.flower_search.smallest_size`), marked with a
    star; the figure decides nothing. With a ``threshold`` that no size's best loss reaches,
    the figure says so.
    """
    require_columns(df, ["latent_dim", "final_loss", "best_loss"], "df")
    if df.empty:
        raise ValueError("df has no rows")
    if threshold is not None and not threshold > 0:
        raise ValueError(f"threshold must be positive for a log axis, got {threshold!r}")
    if chosen is not None and chosen not in set(df["latent_dim"].astype(int)):
        raise ValueError(f"chosen latent size {chosen} is not in df['latent_dim']")
    g = df.groupby("latent_dim")[["final_loss", "best_loss"]]
    per_dim = g.median().sort_index()
    q1, q3 = g.quantile(0.25).sort_index(), g.quantile(0.75).sort_index()
    several = df.groupby("latent_dim").size().max() > 1
    none_reach = threshold is not None and not (per_dim["best_loss"] <= threshold).any()

    def build(fig):
        ax = fig.add_subplot()
        for col, colour, lab in (("final_loss", "tab:blue", "final loss"),
                                 ("best_loss", "tab:green", "best loss")):
            ax.scatter(df["latent_dim"], df[col], s=14, color=colour, alpha=0.4)
            ax.plot(per_dim.index, per_dim[col], marker="o", color=colour,
                    label=f"{lab} (median over seeds)" if several else lab)
            if several and col == "best_loss":
                ax.fill_between(per_dim.index, q1[col], q3[col], color=colour, alpha=0.15,
                                lw=0, label="best loss: interquartile range")
        if threshold is not None:
            ax.axhline(threshold, color="tab:red", ls="--", lw=1.2,
                       label=f"threshold {threshold:.3g}")
        if chosen is not None:
            v = float(per_dim.loc[chosen, "best_loss"])
            ax.plot([chosen], [v], marker="*", ms=18, color="gold", mec="black", zorder=5,
                    label=f"chosen: latent size {chosen}")
            ax.annotate(f"chosen: {chosen}", (chosen, v), xytext=(10, -22),
                        textcoords="offset points", fontsize=10, fontweight="bold")
        if none_reach:
            ax.text(0.02, 0.03, "no latent size reaches the threshold", transform=ax.transAxes,
                    color="tab:red")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("latent size (units)")
        ax.set_ylabel(ylabel + " (log scale)")
        ax.set_title(title, **TXT)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)

    render(build, path, figsize=(8.0, 5.0))
