"""Figure functions for the studies: plain arrays and DataFrames in, PNG files out.

Nothing here touches a model. Figures are built with matplotlib's object-oriented API on the
Agg canvas (no pyplot state, no GUI backend), and every file goes through
:func:`nbae.fileio.save_figure`, which writes a temporary file and renames it, so a failure
never leaves a partial image behind. All arguments are checked before any figure is built.

Images are flat row vectors plus an ``image_shape`` (font ``(7, 5)``, flowers ``(32, 32)``) and
a ``pixel_range`` (``(0, 1)`` or ``(-1, 1)``). ``dark_ink`` picks the colour mapping: ``True``
draws the high value dark on a light background (glyphs: ink is the high value), ``False``
draws it light (photos). ``None`` chooses ``True`` for small bitmaps (at most
:data:`GLYPH_MAX_PIXELS` pixels, like the 7x5 font) and ``False`` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from matplotlib.ticker import MaxNLocator, PercentFormatter

from nbae.fileio import save_figure

__all__ = [
    "GLYPH_MAX_PIXELS",
    "choose_latent_dim",
    "downsample_history",
    "plot_denoising",
    "plot_history",
    "plot_image_grid",
    "plot_latent_grid",
    "plot_latent_map",
    "plot_latent_search",
    "plot_noise_curves",
    "plot_pairs",
    "plot_reconstructions",
    "plot_transitions",
    "wrong_pixel_mask",
]

#: Images with at most this many pixels are drawn as glyphs (dark ink on light) by default.
GLYPH_MAX_PIXELS = 256

_WRONG_RGB = np.array([0.85, 0.0, 0.0])  # colour of wrong pixels on reconstructions
_GAP_COLOUR = "#9db4c8"  # separator between tiles of a mosaic
_TXT = {"parse_math": False}  # glyph labels such as "$" or "_" are shown literally


# --------------------------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------------------------


def wrong_pixel_mask(target, output, pixel_range=(0, 1)) -> np.ndarray:
    """Boolean mask of pixels whose binarised value differs between ``target`` and ``output``.

    Both are thresholded at the midpoint of ``pixel_range``: a value strictly above the
    midpoint counts as ink (high), anything else as background. Shapes broadcast.
    """
    low, high = _check_range(pixel_range)
    mid = (low + high) / 2.0
    return (np.asarray(target, dtype=float) > mid) != (np.asarray(output, dtype=float) > mid)


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


def choose_latent_dim(df: pd.DataFrame, threshold: float, column: str = "best_loss"):
    """Smallest ``latent_dim`` whose ``column`` value is at or below ``threshold``, else None.

    With several rows per latent size (seeds), the size qualifies when its best row does.
    """
    _require_columns(df, ["latent_dim", column], "df")
    best = df.groupby("latent_dim")[column].min()
    ok = best[best <= threshold]
    return None if ok.empty else int(ok.index.min())


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------


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
        colours = _colours(len(histories))
        for k, (name, h) in enumerate(histories.items()):
            thin = downsample_history(h, max_points)
            label = _legend_label(name)
            style = dict(color=colours[k], linestyle=["-", "--", ":", "-."][(k // 20) % 4])
            if mark_min:
                i = thin["loss"].to_numpy(dtype=float).argmin()
                e, v = thin["epoch"].iloc[i], float(thin["loss"].iloc[i])
                label += f"  (min {v:.3g} @ epoch {_fmt_epoch(e)})"
            ax.plot(thin["epoch"], thin["loss"], lw=1.2 if len(histories) < 4 else 0.9,
                    alpha=1.0 if len(histories) < 4 else 0.85, label=label, **style)
            if mark_min:
                ax.plot([e], [v], marker="o", ms=7, mfc="none", mew=1.8, color=colours[k],
                        zorder=5)
                if len(histories) == 1:
                    ax.annotate(f"min {v:.3g}\nepoch {_fmt_epoch(e)}", (e, v),
                                xytext=(12, 18), textcoords="offset points", fontsize=9,
                                arrowprops=dict(arrowstyle="->", color="0.3"),
                                bbox=dict(boxstyle="round", fc="white", ec="0.6"))
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
        ax.set_title(title, **_TXT)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        if len(histories) > 4:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
        else:
            ax.legend(loc="upper right", fontsize=9)

    _render(build, path, figsize=(8.5, 5.0))


def plot_latent_map(Z, labels, path, images=None, image_shape=None, pixel_range=(0, 1),
                    title: str = "Latent space", dark_ink: bool | None = None,
                    zoom: float | None = None) -> None:
    """Scatter of 2-D codes ``Z`` (n, 2), each point labelled with its character.

    With ``images`` (n, d) and ``image_shape``, the image itself is drawn as a small inset at
    its code, with the label beside it.
    """
    Z = _as_matrix(Z, "Z")
    if Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (n, 2) (2-D codes), got {Z.shape}")
    if not np.isfinite(Z).all():
        raise ValueError("Z contains NaN or infinite values")
    labels = _check_labels(labels, len(Z), "labels")
    if images is not None:
        if image_shape is None:
            raise ValueError("images given without image_shape")
        shape = _check_shape(image_shape)
        images = _check_images(images, shape, "images", n=len(Z))
        low, high = _check_range(pixel_range)
        ink = _dark_ink(dark_ink, shape)
        if zoom is None:
            zoom = 26.0 / max(shape)  # about 26 points across, whatever the resolution

    def build(fig):
        ax = fig.add_subplot()
        ax.scatter(Z[:, 0], Z[:, 1], s=12, color="tab:blue", alpha=0.6, zorder=2)
        for i, (x, y) in enumerate(Z):
            if images is not None:
                tile = OffsetImage(images[i].reshape(shape), zoom=zoom,
                                   cmap="gray_r" if ink else "gray",
                                   norm=Normalize(low, high), interpolation="nearest")
                ax.add_artist(AnnotationBbox(tile, (x, y), frameon=True, pad=0.15,
                                             bboxprops=dict(ec="0.55", lw=0.6), zorder=3))
                ax.annotate(labels[i], (x, y), xytext=(15, 13), textcoords="offset points",
                            fontsize=10, fontweight="bold", color="tab:red", zorder=4, **_TXT)
            else:
                ax.annotate(labels[i], (x, y), xytext=(4, 4), textcoords="offset points",
                            fontsize=11, fontweight="bold", zorder=4, **_TXT)
        ax.set_aspect("equal", adjustable="datalim")
        ax.margins(0.12)
        ax.set_xlabel("z1 (latent unit 1)")
        ax.set_ylabel("z2 (latent unit 2)")
        ax.set_title(title, **_TXT)
        ax.grid(True, alpha=0.3)

    _render(build, path, figsize=(9.0, 8.0))


def plot_reconstructions(X, Xhat, labels, image_shape, pixel_range, path, ncols: int = 8,
                         title: str | None = None, dark_ink: bool | None = None) -> None:
    """Originals above reconstructions, wrong pixels highlighted in red.

    Images are laid out in blocks of ``ncols``: a row of originals (titled with the label)
    followed by the row of their reconstructions (titled with the number of wrong pixels after
    thresholding at the range midpoint, see :func:`wrong_pixel_mask`). 32 glyphs give 4 blocks
    of 8 pairs.
    """
    shape = _check_shape(image_shape)
    low, high = _check_range(pixel_range)
    X = _check_images(X, shape, "X")
    Xhat = _check_images(Xhat, shape, "Xhat", n=len(X))
    labels = _check_labels(labels, len(X), "labels")
    ncols = _check_positive_int(ncols, "ncols")
    ink = _dark_ink(dark_ink, shape)
    mask = wrong_pixel_mask(X, Xhat, (low, high))
    wrong = mask.sum(axis=1)
    if title is None:
        title = (f"Reconstructions: {int((wrong == 0).sum())}/{len(X)} exact, "
                 f"{int((wrong <= 1).sum())}/{len(X)} with at most 1 wrong pixel "
                 f"({int(wrong.sum())} wrong pixels in all; red = wrong)")
    ncols = min(ncols, len(X))
    blocks = math.ceil(len(X) / ncols)

    def build(fig):
        axes = fig.subplots(2 * blocks, ncols, squeeze=False)
        for i in range(len(X), blocks * ncols):
            b, c = divmod(i, ncols)
            axes[2 * b, c].set_visible(False)
            axes[2 * b + 1, c].set_visible(False)
        for i in range(len(X)):
            b, c = divmod(i, ncols)
            top, bottom = axes[2 * b, c], axes[2 * b + 1, c]
            _show(top, X[i].reshape(shape), low, high, ink)
            top.set_title(labels[i], fontsize=11, fontweight="bold", **_TXT)
            rgb = _highlight(Xhat[i].reshape(shape), mask[i].reshape(shape), low, high, ink)
            _show_rgb(bottom, rgb)
            bottom.set_title(f"{wrong[i]} wrong", fontsize=8,
                             color="tab:red" if wrong[i] else "0.25")
            if c == 0:
                top.set_ylabel("original", fontsize=8)
                bottom.set_ylabel("output", fontsize=8)
        fig.suptitle(title, **_TXT)

    cw, ch = _cell(shape, 0.8)
    _render(build, path, figsize=(ncols * cw + 0.6, 2 * blocks * (ch + 0.3) + 0.6),
            layout="constrained")


def plot_transitions(rows, image_shape, pixel_range, path,
                     title: str = "Transitions along the latent line",
                     dark_ink: bool | None = None) -> None:
    """One row per letter-to-letter transition.

    ``rows`` is a list of ``(label_a, label_b, images)`` where ``images`` (steps, d) are the
    decodings of evenly spaced points on the latent segment from ``label_a`` to ``label_b``.
    """
    shape = _check_shape(image_shape)
    low, high = _check_range(pixel_range)
    if not isinstance(rows, Sequence) or not rows:
        raise ValueError("rows must be a non-empty list of (label_a, label_b, images)")
    checked = []
    for k, row in enumerate(rows):
        if len(row) != 3:
            raise ValueError(f"rows[{k}] must be (label_a, label_b, images), got {len(row)} items")
        a, b, imgs = row
        checked.append((str(a), str(b), _check_images(imgs, shape, f"rows[{k}] images")))
    ink = _dark_ink(dark_ink, shape)
    steps = max(len(imgs) for _, _, imgs in checked)

    def build(fig):
        axes = fig.subplots(len(checked), steps, squeeze=False)
        for r, (a, b, imgs) in enumerate(checked):
            for s in range(steps):
                ax = axes[r, s]
                if s >= len(imgs):
                    ax.set_visible(False)
                    continue
                _show(ax, imgs[s].reshape(shape), low, high, ink)
                if r == 0 and len(imgs) > 1:
                    ax.set_title(f"t={s / (len(imgs) - 1):.2f}", fontsize=7)
            axes[r, 0].set_ylabel(f"{a} \u2192 {b}", fontsize=11, fontweight="bold",
                                  rotation=0, ha="right", va="center", **_TXT)
        fig.suptitle(title, **_TXT)

    cw, ch = _cell(shape, 0.6)
    _render(build, path, figsize=(steps * cw + 1.2, len(checked) * (ch + 0.1) + 0.8),
            layout="constrained")


def plot_latent_grid(images, xs, ys, image_shape, pixel_range, path,
                     title: str = "Decoded latent plane", dark_ink: bool | None = None) -> None:
    """Mosaic of images decoded from a grid over the latent plane.

    ``images`` has shape (ny, nx, d); ``images[i, j]`` is the decoding of ``(xs[j], ys[i])``.
    The mosaic is drawn with z2 increasing upwards and tick labels giving the latent values.
    """
    shape = _check_shape(image_shape)
    low, high = _check_range(pixel_range)
    images = np.asarray(images, dtype=float)
    if images.ndim != 3 or images.shape[2] != shape[0] * shape[1]:
        raise ValueError(f"images must have shape (ny, nx, {shape[0] * shape[1]}) for image "
                         f"shape {shape}, got {images.shape}")
    ny, nx = images.shape[:2]
    if ny == 0 or nx == 0:
        raise ValueError("images must not be empty")
    xs = np.asarray(xs, dtype=float).ravel()
    ys = np.asarray(ys, dtype=float).ravel()
    if len(xs) != nx or len(ys) != ny:
        raise ValueError(f"xs and ys must have lengths nx={nx} and ny={ny}, "
                         f"got {len(xs)} and {len(ys)}")
    ink = _dark_ink(dark_ink, shape)
    h, w = shape
    gap = max(1, min(h, w) // 8)
    mosaic = np.full((ny * (h + gap) + gap, nx * (w + gap) + gap), np.nan)
    for i in range(ny):
        r = ny - 1 - i  # ys[0] at the bottom
        for j in range(nx):
            y0, x0 = gap + r * (h + gap), gap + j * (w + gap)
            mosaic[y0:y0 + h, x0:x0 + w] = images[i, j].reshape(shape)

    def build(fig):
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["gray_r" if ink else "gray"].with_extremes(bad=_GAP_COLOUR)
        ax.imshow(mosaic, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        xt = [gap + j * (w + gap) + (w - 1) / 2 for j in range(nx)]
        yt = [gap + (ny - 1 - i) * (h + gap) + (h - 1) / 2 for i in range(ny)]
        ax.set_xticks(xt, [f"{v:.3g}" for v in xs], rotation=90 if nx > 8 else 0, fontsize=8)
        ax.set_yticks(yt, [f"{v:.3g}" for v in ys], fontsize=8)
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
        ax.set_title(title, **_TXT)

    scale = 0.55 if max(shape) <= 16 else 0.9
    cw, ch = _cell(shape, scale)
    _render(build, path, figsize=(nx * cw + 1.2, ny * ch + 1.2))


def plot_image_grid(images, image_shape, pixel_range, path, titles=None, ncols: int = 8,
                    suptitle: str | None = None, dark_ink: bool | None = None) -> None:
    """Generic grid of images (contact sheets, generated samples), optional per-image titles."""
    shape = _check_shape(image_shape)
    low, high = _check_range(pixel_range)
    images = _check_images(images, shape, "images")
    if titles is not None:
        titles = _check_labels(titles, len(images), "titles")
    ncols = min(_check_positive_int(ncols, "ncols"), len(images))
    nrows = math.ceil(len(images) / ncols)
    ink = _dark_ink(dark_ink, shape)

    def build(fig):
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(images):
                ax.set_visible(False)
                continue
            _show(ax, images[k].reshape(shape), low, high, ink)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9, **_TXT)
        if suptitle:
            fig.suptitle(suptitle, **_TXT)

    cw, ch = _cell(shape, 0.8 if max(shape) <= 16 else 1.2)
    extra = 0.3 if titles is not None else 0.05
    _render(build, path, figsize=(ncols * cw + 0.4, nrows * (ch + extra) + 0.6),
            layout="constrained")


def plot_denoising(clean, noisy_by_level, image_shape, pixel_range, path, labels=None,
                   title: str = "Denoising", dark_ink: bool | None = None) -> None:
    """Rows: clean, then for each noise level a noisy row and a denoised row.

    ``noisy_by_level`` maps a level to ``(noisy, denoised)``, both shaped like ``clean`` (n, d).
    Levels at most 1 are read as fractions (0.05 -> "5%"), larger ones as percentages. Wrong
    pixels of the denoised output (against ``clean``) are shown in red and counted per row.
    """
    shape = _check_shape(image_shape)
    low, high = _check_range(pixel_range)
    clean = _check_images(clean, shape, "clean")
    n = len(clean)
    if not isinstance(noisy_by_level, Mapping) or not noisy_by_level:
        raise ValueError("noisy_by_level must be a non-empty dict level -> (noisy, denoised)")
    levels = []
    for level, pair in noisy_by_level.items():
        if len(pair) != 2:
            raise ValueError(f"noisy_by_level[{level!r}] must be (noisy, denoised)")
        noisy = _check_images(pair[0], shape, f"noisy at level {level!r}", n=n)
        den = _check_images(pair[1], shape, f"denoised at level {level!r}", n=n)
        levels.append((_level_label(level), noisy, den))
    labels = _check_labels(labels, n, "labels") if labels is not None else None
    ink = _dark_ink(dark_ink, shape)

    def build(fig):
        axes = fig.subplots(1 + 2 * len(levels), n, squeeze=False)
        for c in range(n):
            _show(axes[0, c], clean[c].reshape(shape), low, high, ink)
            if labels is not None:
                axes[0, c].set_title(labels[c], fontsize=10, fontweight="bold", **_TXT)
        axes[0, 0].set_ylabel("clean", rotation=0, ha="right", va="center", fontsize=9)
        for k, (name, noisy, den) in enumerate(levels):
            mask = wrong_pixel_mask(clean, den, (low, high))
            r = 1 + 2 * k
            for c in range(n):
                _show(axes[r, c], noisy[c].reshape(shape), low, high, ink)
                rgb = _highlight(den[c].reshape(shape), mask[c].reshape(shape), low, high, ink)
                _show_rgb(axes[r + 1, c], rgb)
            axes[r, 0].set_ylabel(f"noisy {name}", rotation=0, ha="right", va="center",
                                  fontsize=9)
            axes[r + 1, 0].set_ylabel(f"denoised {name}\n{int(mask.sum())} wrong px",
                                      rotation=0, ha="right", va="center", fontsize=9,
                                      color="tab:red" if mask.any() else "black")
        fig.suptitle(f"{title} (red = wrong pixel after denoising)", **_TXT)

    cw, ch = _cell(shape, 0.55 if max(shape) <= 16 else 0.9)
    _render(build, path, figsize=(n * cw + 1.5, (1 + 2 * len(levels)) * (ch + 0.05) + 0.9),
            layout="constrained")


def plot_noise_curves(df: pd.DataFrame, path, x: str = "level", series: str = "model",
                      mean: str = "mean", low: str | None = None, high: str | None = None,
                      std: str | None = None, title: str = "Error against noise level",
                      xlabel: str = "noise level", ylabel: str = "wrong pixels per image",
                      log: bool = False) -> None:
    """Error against noise level, one line per ``series`` value, with a shaded band.

    The band spans columns ``low``..``high`` when both are given (e.g. min..max over trials),
    or ``mean`` +/- ``std`` when ``std`` is given; no band otherwise. When every x value lies
    in [0, 1] the x axis is labelled in percent.
    """
    if (low is None) != (high is None):
        raise ValueError("give both low and high band columns, or neither")
    if std is not None and low is not None:
        raise ValueError("give either std or low/high for the band, not both")
    cols = [x, series, mean] + [c for c in (low, high, std) if c is not None]
    _require_columns(df, cols, "df")
    if df.empty:
        raise ValueError("df has no rows")
    groups = list(df.groupby(series, sort=False))
    xv = df[x].to_numpy(dtype=float)

    def build(fig):
        ax = fig.add_subplot()
        colours = _colours(len(groups))
        for k, (name, g) in enumerate(groups):
            g = g.sort_values(x)
            gx, gm = g[x].to_numpy(dtype=float), g[mean].to_numpy(dtype=float)
            ax.plot(gx, gm, marker="o", color=colours[k], label=_legend_label(name))
            if low is not None:
                lo, hi = g[low].to_numpy(dtype=float), g[high].to_numpy(dtype=float)
            elif std is not None:
                s = g[std].to_numpy(dtype=float)
                lo, hi = gm - s, gm + s
            else:
                continue
            ax.fill_between(gx, lo, hi, color=colours[k], alpha=0.18, lw=0)
        if np.nanmin(xv) >= 0 and np.nanmax(xv) <= 1:
            ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        if log:
            ax.set_yscale("log")
        band = (f" (band: {low}..{high})" if low is not None
                else f" (band: {mean} \u00b1 {std})" if std is not None else "")
        ax.set_title(title + band, **_TXT)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.35)
        if len(groups) > 6:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
        else:
            ax.legend(fontsize=9)

    _render(build, path, figsize=(8.0, 5.0))


def plot_latent_search(df: pd.DataFrame, path, threshold: float | None = None,
                       chosen: int | None = None, title: str = "Loss against latent size",
                       ylabel: str = "loss") -> None:
    """Final and best loss against latent size (log y), threshold line and chosen size.

    ``df`` has columns ``latent_dim``, ``final_loss``, ``best_loss`` (several rows per size,
    e.g. seeds, are drawn as points; the line follows the best row of each size). ``chosen``
    defaults to :func:`choose_latent_dim` when a ``threshold`` is given.
    """
    _require_columns(df, ["latent_dim", "final_loss", "best_loss"], "df")
    if df.empty:
        raise ValueError("df has no rows")
    if threshold is not None and not threshold > 0:
        raise ValueError(f"threshold must be positive for a log axis, got {threshold!r}")
    if chosen is None and threshold is not None:
        chosen = choose_latent_dim(df, threshold)
    if chosen is not None and chosen not in set(df["latent_dim"].astype(int)):
        raise ValueError(f"chosen latent size {chosen} is not in df['latent_dim']")
    per_dim = df.groupby("latent_dim")[["final_loss", "best_loss"]].min().sort_index()

    def build(fig):
        ax = fig.add_subplot()
        for col, colour, lab in (("final_loss", "tab:blue", "final loss"),
                                 ("best_loss", "tab:green", "best loss")):
            ax.scatter(df["latent_dim"], df[col], s=14, color=colour, alpha=0.4)
            ax.plot(per_dim.index, per_dim[col], marker="o", color=colour, label=lab)
        if threshold is not None:
            ax.axhline(threshold, color="tab:red", ls="--", lw=1.2,
                       label=f"threshold {threshold:.3g}")
        if chosen is not None:
            v = float(per_dim.loc[chosen, "best_loss"])
            ax.plot([chosen], [v], marker="*", ms=18, color="gold", mec="black", zorder=5,
                    label=f"chosen: latent size {chosen}")
            ax.annotate(f"chosen: {chosen}", (chosen, v), xytext=(10, -22),
                        textcoords="offset points", fontsize=10, fontweight="bold")
        elif threshold is not None:
            ax.text(0.02, 0.03, "no latent size reaches the threshold", transform=ax.transAxes,
                    color="tab:red")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("latent size (units)")
        ax.set_ylabel(ylabel + " (log scale)")
        ax.set_title(title, **_TXT)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=9)

    _render(build, path, figsize=(8.0, 5.0))


def plot_pairs(left, right, image_shape, pixel_range, path, left_title: str = "left",
               right_title: str = "right", captions=None, pairs_per_row: int = 4,
               title: str | None = None, dark_ink: bool | None = None) -> None:
    """Image pairs side by side: ``left[i]`` next to ``right[i]``.

    E.g. a generated sample next to its nearest training photo, or an original next to its
    reconstruction. ``captions`` (one per pair, optional) are written under the right image.
    """
    shape = _check_shape(image_shape)
    low, high = _check_range(pixel_range)
    left = _check_images(left, shape, "left")
    right = _check_images(right, shape, "right", n=len(left))
    if captions is not None:
        captions = _check_labels(captions, len(left), "captions")
    per_row = min(_check_positive_int(pairs_per_row, "pairs_per_row"), len(left))
    nrows = math.ceil(len(left) / per_row)
    ink = _dark_ink(dark_ink, shape)

    def build(fig):
        ratios = []
        for p in range(per_row):
            ratios += [1, 1] + ([0.25] if p < per_row - 1 else [])
        gs = fig.add_gridspec(nrows, len(ratios), width_ratios=ratios, wspace=0.08,
                              hspace=hspace, left=0.02, right=0.98, bottom=0.02,
                              top=1 - (0.35 + title_h) / fig.get_figheight())
        for i in range(len(left)):
            r, p = divmod(i, per_row)
            la = fig.add_subplot(gs[r, 3 * p])
            ra = fig.add_subplot(gs[r, 3 * p + 1])
            _show(la, left[i].reshape(shape), low, high, ink)
            _show(ra, right[i].reshape(shape), low, high, ink)
            la.set_title(left_title, fontsize=8, **_TXT)
            ra.set_title(right_title, fontsize=8, **_TXT)
            if captions is not None:
                ra.set_xlabel(captions[i], fontsize=8, **_TXT)
        if title:  # in its own band above the first row's column titles
            fig.suptitle(title, y=1 - 0.06 / fig.get_figheight(), va="top", **_TXT)

    cw, ch = _cell(shape, 0.8 if max(shape) <= 16 else 1.3)
    hspace = (0.55 if captions is not None else 0.3) / ch  # room for titles and captions
    title_h = 0.22 if title else 0.0  # inches
    units = 2 * per_row + 0.25 * (per_row - 1)
    _render(build, path, figsize=(units * cw * 1.08 / 0.96,
                                  nrows * ch * (1 + hspace) + 0.4 + title_h))


# --------------------------------------------------------------------------------------------
# internals
# --------------------------------------------------------------------------------------------


def _render(build, path, figsize, layout=None) -> None:
    """Build a figure with ``build(fig)`` and save it atomically; close it on any failure."""
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    try:
        build(fig)
        save_figure(fig, path)
    finally:
        fig.clear()


def _check_range(pixel_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in pixel_range)
    except (TypeError, ValueError):
        raise ValueError(f"pixel_range must be (low, high), got {pixel_range!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"pixel_range must be finite with low < high, got {pixel_range!r}")
    return low, high


def _check_shape(image_shape) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in image_shape)
        ok = [rows, cols] == list(image_shape) and rows > 0 and cols > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image_shape must be (rows, cols) of positive ints, "
                         f"got {image_shape!r}")
    return rows, cols


def _check_positive_int(v, name) -> int:
    try:
        ok = not isinstance(v, bool) and int(v) == v and v >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _as_matrix(a, name) -> np.ndarray:
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array") from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d), got shape {a.shape}")
    return a


def _check_images(a, shape, name, n=None) -> np.ndarray:
    a = _as_matrix(a, name)
    d = shape[0] * shape[1]
    if a.shape[1] != d:
        raise ValueError(f"{name} rows have {a.shape[1]} values but image_shape {shape} "
                         f"needs {d}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} rows, expected {n}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_labels(labels, n, name) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(v) for v in labels]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries, expected {n}")
    return labels


def _require_columns(df, cols, name) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")


def _check_history(h, name) -> None:
    _require_columns(h, ["epoch", "loss"], name)
    if h.empty:
        raise ValueError(f"{name} has no rows")


def _dark_ink(dark_ink, shape) -> bool:
    if dark_ink is None:
        return shape[0] * shape[1] <= GLYPH_MAX_PIXELS
    return bool(dark_ink)


def _cell(shape, scale) -> tuple[float, float]:
    """Width and height in inches of one image tile, the longer side being ``scale``."""
    rows, cols = shape
    m = max(rows, cols)
    return scale * cols / m, scale * rows / m


def _blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("0.6")
        s.set_linewidth(0.6)


def _show(ax, img, low, high, ink) -> None:
    ax.imshow(img, cmap="gray_r" if ink else "gray", vmin=low, vmax=high,
              interpolation="nearest")
    _blank(ax)


def _show_rgb(ax, rgb) -> None:
    ax.imshow(rgb, interpolation="nearest")
    _blank(ax)


def _highlight(img, mask, low, high, ink) -> np.ndarray:
    """RGB version of ``img`` as :func:`_show` draws it, with ``mask`` pixels in red."""
    g = np.clip((img - low) / (high - low), 0.0, 1.0)
    if ink:
        g = 1.0 - g
    rgb = np.repeat(g[..., None], 3, axis=-1)
    rgb[mask] = 0.2 * rgb[mask] + 0.8 * _WRONG_RGB
    return rgb


def _colours(n) -> list:
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _legend_label(name) -> str:
    s = str(name)
    return " " + s if s.startswith("_") else s  # matplotlib hides labels starting with "_"


def _fmt_epoch(e) -> str:
    f = float(e)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _level_label(level) -> str:
    v = float(level)
    pct = v * 100 if v <= 1 else v
    return f"{pct:g}%"
