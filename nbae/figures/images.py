"""Image figures: grids, reconstructions, pairs, transitions, denoising rows, latent sweeps.

Arrays in, PNG files out (see :mod:`nbae.figures.common` for the shared conventions). Wrong
pixels are painted red from :func:`nbae.data.metrics.wrong_pixel_mask`, the same threshold that
:func:`nbae.data.metrics.pixel_errors` counts with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

from nbae.data.metrics import wrong_pixel_mask
from nbae.figures.common import (
    GAP_COLOUR,
    TXT,
    cell,
    check_images,
    check_labels,
    check_positive_int,
    check_range,
    check_shape,
    highlight,
    ink_for,
    level_label,
    render,
    show,
    show_rgb,
    text_width,
)

__all__ = [
    "SWEEP_AXES",
    "plot_denoising",
    "plot_image_grid",
    "plot_latent_grid",
    "plot_pairs",
    "plot_reconstructions",
    "plot_transitions",
    "sweep_description",
]

#: What a latent grid can sweep: raw latent coordinates or principal axes of the codes.
SWEEP_AXES = ("coordinates", "principal")


def plot_image_grid(images, image_shape, pixel_range, path, titles=None, ncols: int = 8,
                    suptitle: str | None = None, dark_ink: bool | None = None) -> None:
    """Generic grid of images (contact sheets, decoded codes), optional per-image titles.

    ``titles`` are the caller's words, one per image (e.g. the code each image was decoded
    from, :func:`nbae.figures.common.format_code`). Columns are made wide enough for the
    longest title and the figure wide enough for ``suptitle``, so no text overlaps or is cut.
    """
    shape = check_shape(image_shape)
    low, high = check_range(pixel_range)
    images = check_images(images, shape, "images")
    if titles is not None:
        titles = check_labels(titles, len(images), "titles")
    ncols = min(check_positive_int(ncols, "ncols"), len(images))
    nrows = math.ceil(len(images) / ncols)
    ink = ink_for(dark_ink, shape)
    title_size, sup_size = 9, 12

    def build(fig):
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(images):
                ax.set_visible(False)
                continue
            show(ax, images[k].reshape(shape), low, high, ink)
            if titles is not None:
                ax.set_title(titles[k], fontsize=title_size, **TXT)
        if suptitle:
            fig.suptitle(suptitle, fontsize=sup_size, **TXT)

    cw, ch = cell(shape, 0.8 if max(shape) <= 16 else 1.2)
    # constrained layout pads each column by a few points: 0.15 in keeps neighbours apart
    col_w = max(cw, text_width(titles, title_size) + 0.15) if titles is not None else cw
    width = max(ncols * (col_w + 0.06) + 0.4, text_width([suptitle or ""], sup_size) + 0.5)
    extra = 0.3 if titles is not None else 0.05
    render(build, path, figsize=(width, nrows * (ch + extra) + 0.6), layout="constrained")


def sweep_description(axes: str = "coordinates", dims=(0, 1)) -> str:
    """Which two directions a latent grid swept, in words (0-based ``dims``, shown 1-based).

    ``"coordinates"``: "latent coordinates z1 and z2" (numbered like the latent map's axes);
    ``"principal"``: "principal axes 1 and 2 of the training codes".
    """
    if axes not in SWEEP_AXES:
        raise ValueError(f"axes must be one of {', '.join(SWEEP_AXES)}, got {axes!r}")
    try:
        i, j = (check_positive_int(int(d) + 1, "dims") for d in dims)
    except (TypeError, ValueError):
        raise ValueError(f"dims must be two 0-based axis numbers, got {dims!r}") from None
    if i == j:
        raise ValueError(f"dims must be two different axes, got {dims!r}")
    if axes == "principal":
        return f"principal axes {i} and {j} of the training codes"
    return f"latent coordinates z{i} and z{j}"


def _axis_label(axes, d) -> str:
    if axes == "principal":
        return f"principal axis {d + 1} (std of the training codes)"
    return f"z{d + 1} (latent unit {d + 1})"


def plot_latent_grid(images, xs, ys, image_shape, pixel_range, path,
                     title: str = "Decoded latent plane", dark_ink: bool | None = None,
                     axes: str = "coordinates", dims=(0, 1)) -> None:
    """Mosaic of images decoded from a grid over two latent directions.

    ``images`` has shape (ny, nx, d); ``images[i, j]`` is the decoding of ``(xs[j], ys[i])``.
    Whatever order ``xs`` and ``ys`` come in, the mosaic is drawn like a plot of the plane
    (and like :func:`plot_latent_map`): the first direction grows to the right, the second
    upwards, tick labels give the swept values. ``axes`` and ``dims`` (0-based) say what was
    swept (:func:`sweep_description`); it is written under ``title`` and on the axes.
    """
    shape = check_shape(image_shape)
    low, high = check_range(pixel_range)
    about = sweep_description(axes, dims)
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
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("xs and ys must be finite")
    ink = ink_for(dark_ink, shape)
    # mosaic row 0 is drawn at the top: put the largest y there, the smallest x on the left
    rows = np.argsort(-ys, kind="stable")
    cols = np.argsort(xs, kind="stable")
    h, w = shape
    gap = max(1, min(h, w) // 8)
    mosaic = np.full((ny * (h + gap) + gap, nx * (w + gap) + gap), np.nan)
    for r, i in enumerate(rows):
        for c, j in enumerate(cols):
            y0, x0 = gap + r * (h + gap), gap + c * (w + gap)
            mosaic[y0:y0 + h, x0:x0 + w] = images[i, j].reshape(shape)

    def build(fig):
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["gray_r" if ink else "gray"].with_extremes(bad=GAP_COLOUR)
        ax.imshow(mosaic, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        xt = [gap + c * (w + gap) + (w - 1) / 2 for c in range(nx)]
        yt = [gap + r * (h + gap) + (h - 1) / 2 for r in range(ny)]
        ax.set_xticks(xt, [f"{v:.3g}" for v in xs[cols]], rotation=90 if nx > 8 else 0,
                      fontsize=8)
        ax.set_yticks(yt, [f"{v:.3g}" for v in ys[rows]], fontsize=8)
        ax.set_xlabel(_axis_label(axes, int(dims[0])))
        ax.set_ylabel(_axis_label(axes, int(dims[1])))
        ax.set_title(f"{title}\nswept: {about}", **TXT)

    cw, ch = cell(shape, 0.55 if max(shape) <= 16 else 0.9)
    width = max(nx * cw + 1.2, text_width([title, f"swept: {about}"], 12) + 1.2)
    render(build, path, figsize=(width, ny * ch + 1.5))


def plot_reconstructions(X, Xhat, labels, image_shape, pixel_range, path, ncols: int = 8,
                         title: str | None = None, dark_ink: bool | None = None) -> None:
    """Originals above reconstructions, wrong pixels highlighted in red.

    Images are laid out in blocks of ``ncols``: a row of originals (titled with the label)
    followed by the row of their reconstructions (titled with the number of wrong pixels after
    thresholding at the range midpoint, see :func:`wrong_pixel_mask`). 32 glyphs give 4 blocks
    of 8 pairs.
    """
    shape = check_shape(image_shape)
    low, high = check_range(pixel_range)
    X = check_images(X, shape, "X")
    Xhat = check_images(Xhat, shape, "Xhat", n=len(X))
    labels = check_labels(labels, len(X), "labels")
    ncols = check_positive_int(ncols, "ncols")
    ink = ink_for(dark_ink, shape)
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
            show(top, X[i].reshape(shape), low, high, ink)
            top.set_title(labels[i], fontsize=11, fontweight="bold", **TXT)
            rgb = highlight(Xhat[i].reshape(shape), mask[i].reshape(shape), low, high, ink)
            show_rgb(bottom, rgb)
            bottom.set_title(f"{wrong[i]} wrong", fontsize=8,
                             color="tab:red" if wrong[i] else "0.25")
            if c == 0:
                top.set_ylabel("original", fontsize=8)
                bottom.set_ylabel("output", fontsize=8)
        fig.suptitle(title, **TXT)

    cw, ch = cell(shape, 0.8)
    render(build, path, figsize=(ncols * cw + 0.6, 2 * blocks * (ch + 0.3) + 0.6),
            layout="constrained")


def plot_transitions(rows, image_shape, pixel_range, path,
                     title: str = "Transitions along the latent line",
                     dark_ink: bool | None = None) -> None:
    """One row per letter-to-letter transition.

    ``rows`` is a list of ``(label_a, label_b, images)`` where ``images`` (steps, d) are the
    decodings of evenly spaced points on the latent segment from ``label_a`` to ``label_b``.
    """
    shape = check_shape(image_shape)
    low, high = check_range(pixel_range)
    if not isinstance(rows, Sequence) or not rows:
        raise ValueError("rows must be a non-empty list of (label_a, label_b, images)")
    checked = []
    for k, row in enumerate(rows):
        if len(row) != 3:
            raise ValueError(f"rows[{k}] must be (label_a, label_b, images), got {len(row)} items")
        a, b, imgs = row
        checked.append((str(a), str(b), check_images(imgs, shape, f"rows[{k}] images")))
    ink = ink_for(dark_ink, shape)
    steps = max(len(imgs) for _, _, imgs in checked)

    def build(fig):
        axes = fig.subplots(len(checked), steps, squeeze=False)
        for r, (a, b, imgs) in enumerate(checked):
            for s in range(steps):
                ax = axes[r, s]
                if s >= len(imgs):
                    ax.set_visible(False)
                    continue
                show(ax, imgs[s].reshape(shape), low, high, ink)
                if r == 0 and len(imgs) > 1:
                    ax.set_title(f"t={s / (len(imgs) - 1):.2f}", fontsize=7)
            axes[r, 0].set_ylabel(f"{a} \u2192 {b}", fontsize=11, fontweight="bold",
                                  rotation=0, ha="right", va="center", **TXT)
        fig.suptitle(title, **TXT)

    cw, ch = cell(shape, 0.6)
    render(build, path, figsize=(steps * cw + 1.2, len(checked) * (ch + 0.1) + 0.8),
            layout="constrained")


def plot_denoising(clean, noisy_by_level, image_shape, pixel_range, path, labels=None,
                   title: str = "Denoising", dark_ink: bool | None = None) -> None:
    """Rows: clean, then for each noise level a noisy row and a denoised row.

    ``noisy_by_level`` maps a level to ``(noisy, denoised)``, both shaped like ``clean`` (n, d).
    Levels at most 1 are read as fractions (0.05 -> "5%"), larger ones as percentages. Wrong
    pixels of the denoised output (against ``clean``) are shown in red and counted per row.
    """
    shape = check_shape(image_shape)
    low, high = check_range(pixel_range)
    clean = check_images(clean, shape, "clean")
    n = len(clean)
    if not isinstance(noisy_by_level, Mapping) or not noisy_by_level:
        raise ValueError("noisy_by_level must be a non-empty dict level -> (noisy, denoised)")
    levels = []
    for level, pair in noisy_by_level.items():
        if len(pair) != 2:
            raise ValueError(f"noisy_by_level[{level!r}] must be (noisy, denoised)")
        noisy = check_images(pair[0], shape, f"noisy at level {level!r}", n=n)
        den = check_images(pair[1], shape, f"denoised at level {level!r}", n=n)
        levels.append((level_label(level), noisy, den))
    labels = check_labels(labels, n, "labels") if labels is not None else None
    ink = ink_for(dark_ink, shape)

    def build(fig):
        axes = fig.subplots(1 + 2 * len(levels), n, squeeze=False)
        for c in range(n):
            show(axes[0, c], clean[c].reshape(shape), low, high, ink)
            if labels is not None:
                axes[0, c].set_title(labels[c], fontsize=10, fontweight="bold", **TXT)
        axes[0, 0].set_ylabel("clean", rotation=0, ha="right", va="center", fontsize=9)
        for k, (name, noisy, den) in enumerate(levels):
            mask = wrong_pixel_mask(clean, den, (low, high))
            r = 1 + 2 * k
            for c in range(n):
                show(axes[r, c], noisy[c].reshape(shape), low, high, ink)
                rgb = highlight(den[c].reshape(shape), mask[c].reshape(shape), low, high, ink)
                show_rgb(axes[r + 1, c], rgb)
            axes[r, 0].set_ylabel(f"noisy {name}", rotation=0, ha="right", va="center",
                                  fontsize=9)
            axes[r + 1, 0].set_ylabel(f"denoised {name}\n{int(mask.sum())} wrong px",
                                      rotation=0, ha="right", va="center", fontsize=9,
                                      color="tab:red" if mask.any() else "black")
        fig.suptitle(f"{title} (red = wrong pixel after denoising)", **TXT)

    cw, ch = cell(shape, 0.55 if max(shape) <= 16 else 0.9)
    render(build, path, figsize=(n * cw + 1.5, (1 + 2 * len(levels)) * (ch + 0.05) + 0.9),
            layout="constrained")


def plot_pairs(left, right, image_shape, pixel_range, path, left_title: str = "left",
               right_title: str = "right", captions=None, pairs_per_row: int = 4,
               title: str | None = None, dark_ink: bool | None = None) -> None:
    """Image pairs side by side: ``left[i]`` next to ``right[i]``.

    E.g. a generated sample next to its nearest training photo, or an original next to its
    reconstruction. ``captions`` (one per pair, optional) are written under the right image.
    """
    shape = check_shape(image_shape)
    low, high = check_range(pixel_range)
    left = check_images(left, shape, "left")
    right = check_images(right, shape, "right", n=len(left))
    if captions is not None:
        captions = check_labels(captions, len(left), "captions")
    per_row = min(check_positive_int(pairs_per_row, "pairs_per_row"), len(left))
    nrows = math.ceil(len(left) / per_row)
    ink = ink_for(dark_ink, shape)

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
            show(la, left[i].reshape(shape), low, high, ink)
            show(ra, right[i].reshape(shape), low, high, ink)
            la.set_title(left_title, fontsize=8, **TXT)
            ra.set_title(right_title, fontsize=8, **TXT)
            if captions is not None:
                ra.set_xlabel(captions[i], fontsize=8, **TXT)
        if title:  # in its own band above the first row's column titles
            fig.suptitle(title, y=1 - 0.06 / fig.get_figheight(), va="top", **TXT)

    cw, ch = cell(shape, 0.8 if max(shape) <= 16 else 1.3)
    hspace = (0.55 if captions is not None else 0.3) / ch  # room for titles and captions
    title_h = 0.22 if title else 0.0  # inches
    units = 2 * per_row + 0.25 * (per_row - 1)
    render(build, path, figsize=(units * cw * 1.08 / 0.96,
                                  nrows * ch * (1 + hspace) + 0.4 + title_h))

