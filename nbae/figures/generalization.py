"""Reconstruction error on seen and unseen photos against latent size (the generalization study).

A DataFrame in, a PNG out (see :mod:`nbae.figures.common` for the shared conventions).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

from nbae.figures.common import TXT, render, require_columns

__all__ = ["plot_generalization"]


def plot_generalization(df: pd.DataFrame, path, title: str = "Reconstruction error against "
                        "latent size", mean_mse: float | None = None,
                        ylabel: str = "MSE per pixel") -> None:
    """Training and test MSE against latent size (log y; log x when sizes span a decade).

    ``df`` has columns ``latent_size``, ``train_mse``, ``test_mse`` and optionally
    ``val_mse`` (drawn thin and dashed) and ``pca_test_mse`` (the test error of the best linear
    code of that size fitted on the training photos, dotted grey). ``mean_mse``, if given, is
    drawn as a horizontal line: the test error of always answering the mean training photo.
    """
    require_columns(df, ["latent_size", "train_mse", "test_mse"], "df")
    if df.empty:
        raise ValueError("df has no rows")
    d = df.sort_values("latent_size")
    cols = [c for c in ("train_mse", "val_mse", "test_mse", "pca_test_mse") if c in d.columns]
    values = d[cols].to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values <= 0).any():
        raise ValueError("MSE values must be positive and finite for a log axis")
    if mean_mse is not None and not (math.isfinite(mean_mse) and mean_mse > 0):
        raise ValueError(f"mean_mse must be positive for a log axis, got {mean_mse!r}")
    sizes = d["latent_size"].to_numpy(dtype=int)
    wide = sizes.max() >= 10 * max(sizes.min(), 1)
    low = min(values.min(), mean_mse or math.inf)
    high = max(values.max(), mean_mse or 0.0)
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # 0.05, not 5x10^-2

    def build(fig):
        ax = fig.add_subplot()
        ax.plot(sizes, d["train_mse"], marker="o", lw=2, color="tab:blue",
                label="training photos")
        if "val_mse" in d.columns:
            ax.plot(sizes, d["val_mse"], marker=".", lw=1, ls="--", color="tab:orange",
                    alpha=0.7, label="validation photos (pick the epoch)")
        ax.plot(sizes, d["test_mse"], marker="s", lw=2, color="tab:red",
                label="test photos (never seen)")
        if "pca_test_mse" in d.columns:
            ax.plot(sizes, d["pca_test_mse"], marker="^", lw=1, ls=":", color="0.35",
                    label="test, PCA of the training photos")
        if mean_mse is not None:
            ax.axhline(mean_mse, color="0.5", ls="-.", lw=1,
                       label="test, mean training photo")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        if high / low < 100:  # under two decades: label 2, 3 and 5 times the powers of ten
            ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(2, 3, 5)))
            ax.yaxis.set_minor_formatter(plain)
        if wide:
            ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(s) for s in sizes])
        ax.set_xlabel("latent size (units)" + (", log scale" if wide else ""))
        ax.set_ylabel(ylabel + " (log scale)")
        ax.set_title(title, **TXT)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)

    render(build, path, figsize=(8.0, 5.0))
