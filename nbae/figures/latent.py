"""The latent map: 2-D codes drawn as points (or image thumbnails) with a label each.

Labels are placed, not just offset: each label tries positions around its point's thumbnail
(8 directions, two rings) and takes the one that overlaps the labels placed before it, the
other thumbnails and the outside of the axes least. The axis limits are then solved so that
every thumbnail and every label lies inside the axes (with the axes' equal aspect the data
unit per pixel ``s`` is the same on both axes, and the limits needed grow linearly in ``s``,
so the smallest ``s`` that fits is found by bisection). Nothing is clipped at the edges, and
on crowded maps labels step aside instead of piling up.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import Normalize
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from nbae.figures.common import (
    TXT,
    as_matrix,
    check_images,
    check_labels,
    check_range,
    check_shape,
    ink_for,
    render,
)

__all__ = ["plot_latent_map"]

_MARK_HALF_PT = 3.0  # half-size of a bare point's marker, points (scatter s=12)
_GAP_PT = 1.5        # space between a thumbnail and its label, points
_EDGE_PT = 6.0       # space kept between any thumbnail or label and the axes frame, points
# directions tried for a label, in order of preference (first: upper right, as before)
_DIRECTIONS = ((1, 1), (1, 0), (1, -1), (0, 1), (0, -1), (-1, 1), (-1, 0), (-1, -1))
_RINGS = 3


def plot_latent_map(Z, labels, path, images=None, image_shape=None, pixel_range=(0, 1),
                    title: str = "Latent space", dark_ink: bool | None = None,
                    zoom: float | None = None) -> None:
    """Scatter of 2-D codes ``Z`` (n, 2), each point labelled with its character.

    With ``images`` (n, d) and ``image_shape``, the image itself is drawn as a small inset at
    its code, with the label beside it. Axes: z1 to the right, z2 upwards, equal scales; the
    limits leave room for every thumbnail and label (see the module docstring).
    """
    Z = as_matrix(Z, "Z")
    if Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (n, 2) (2-D codes), got {Z.shape}")
    if not np.isfinite(Z).all():
        raise ValueError("Z contains NaN or infinite values")
    labels = check_labels(labels, len(Z), "labels")
    if images is not None:
        if image_shape is None:
            raise ValueError("images given without image_shape")
        shape = check_shape(image_shape)
        images = check_images(images, shape, "images", n=len(Z))
        low, high = check_range(pixel_range)
        ink = ink_for(dark_ink, shape)
        if zoom is None:
            zoom = 26.0 / max(shape)  # about 26 points across, whatever the resolution

    def build(fig):
        ax = fig.add_subplot()
        ax.set_aspect("equal", adjustable="box")
        ax.scatter(Z[:, 0], Z[:, 1], s=12, color="tab:blue", alpha=0.6, zorder=2)
        thumbs = []
        for i, (x, y) in enumerate(Z):
            if images is not None:
                tile = OffsetImage(images[i].reshape(shape), zoom=zoom,
                                   cmap="gray_r" if ink else "gray",
                                   norm=Normalize(low, high), interpolation="nearest")
                thumbs.append(AnnotationBbox(tile, (x, y), frameon=True, pad=0.15,
                                             bboxprops=dict(ec="0.55", lw=0.6), zorder=3))
                ax.add_artist(thumbs[-1])
        style = (dict(fontsize=10, color="tab:red") if images is not None
                 else dict(fontsize=11, color="black"))
        texts = [ax.annotate(lab, (x, y), xytext=(0, 0), textcoords="offset points",
                             ha="center", va="center", fontweight="bold", zorder=4,
                             annotation_clip=False, **style, **TXT)
                 for lab, (x, y) in zip(labels, Z, strict=True)]
        ax.set_xlabel("z1 (latent unit 1)")
        ax.set_ylabel("z2 (latent unit 2)")
        ax.set_title(title, **TXT)
        ax.grid(True, alpha=0.3)
        _place_labels(fig, ax, Z, texts, thumbs)

    render(build, path, figsize=(9.0, 8.0))


def _place_labels(fig, ax, Z, texts, thumbs=(), rounds: int = 4) -> None:
    """Choose each label's offset and the axis limits so everything fits inside the axes.

    ``texts`` are annotations at the points ``Z`` (offset points, centred); ``thumbs`` the
    AnnotationBbox thumbnails at the same points (empty: bare markers). Placement and limits
    depend on each other (pixels per data unit), so they alternate for a few ``rounds``; the
    limits are solved last, for the final offsets, so containment always holds.
    """
    renderer = fig.canvas.get_renderer()
    px = fig.dpi / 72.0  # pixels per point
    sizes = np.array([[e.width, e.height] for e in
                      (t.get_window_extent(renderer) for t in texts)])
    if len(thumbs):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        e = thumbs[0].get_window_extent(renderer)
        half = np.array([e.width, e.height]) / 2.0
    else:
        half = np.full(2, _MARK_HALF_PT * px)
    gap, edge = _GAP_PT * px, _EDGE_PT * px
    pos = ax.get_position(original=True)
    room = np.array([pos.width * fig.bbox.width, pos.height * fig.bbox.height])
    offsets = np.zeros((len(Z), 2))
    for _ in range(rounds):
        _set_limits(ax, Z, offsets, sizes, half, room, edge)
        ax.apply_aspect()
        P = ax.transData.transform(Z)
        frame = ax.get_window_extent(renderer)
        offsets = _greedy(P, sizes, half, gap, np.array(frame.extents) + [edge, edge,
                                                                         -edge, -edge])
    _set_limits(ax, Z, offsets, sizes, half, room, edge)
    for t, off in zip(texts, offsets, strict=True):
        t.xyann = tuple(off / px)


def _extents(offsets, sizes, half, edge):
    """Pixels each point needs to its left, right, below and above (thumbnail or label)."""
    lo = np.maximum(half, sizes / 2.0 - offsets) + edge
    hi = np.maximum(half, sizes / 2.0 + offsets) + edge
    return lo, hi


def _set_limits(ax, Z, offsets, sizes, half, room, edge) -> None:
    """Smallest data-per-pixel ``s`` whose limits hold every item; limits fill ``room``."""
    lo, hi = _extents(offsets, sizes, half, edge)

    def need(s):  # data range needed on each axis at scale s, over the pixels available
        span = (Z + hi * s).max(axis=0) - (Z - lo * s).min(axis=0)
        return span / room

    ext = np.ptp(Z, axis=0).max()
    base = (ext if ext > 0 else 1.0) / room.max()  # identical codes: one unit across
    a, b = 0.0, base
    while need(b).max() > b:  # grow until it fits (labels smaller than the axes: finite)
        a, b = b, 2.0 * b
        if b > 1e12 * base:
            break
    for _ in range(60):
        m = 0.5 * (a + b)
        a, b = (m, b) if need(m).max() > m else (a, m)
    s = max(b, base)
    left, right = (Z - lo * s).min(axis=0), (Z + hi * s).max(axis=0)
    slack = room * s - (right - left)  # centre the content, fill the axes box
    ax.set_xlim(left[0] - slack[0] / 2, right[0] + slack[0] / 2)
    ax.set_ylim(left[1] - slack[1] / 2, right[1] + slack[1] / 2)


def _overlap(box, boxes) -> float:
    """Total area of ``box`` (x0, y0, x1, y1) covered by each of ``boxes`` (k, 4), summed."""
    if len(boxes) == 0:
        return 0.0
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _greedy(P, sizes, half, gap, frame) -> np.ndarray:
    """Offsets (pixels) of each label from its point, chosen greedily, crowded points first.

    Score of a candidate position: area shared with labels already placed (x4), with other
    points' thumbnails (x1) and outside ``frame`` (x2), plus a small preference for the inner
    ring and the earlier directions; all relative to the label's own area.
    """
    n = len(P)
    tboxes = np.hstack([P - half, P + half])
    d = np.abs(P[:, None, :] - P[None, :, :])
    near = ((d[..., 0] < 2 * half[0] + sizes[:, 0].max())
            & (d[..., 1] < 2 * half[1] + sizes[:, 1].max())).sum(axis=1)
    order = np.argsort(-near, kind="stable")
    placed = np.zeros((0, 4))
    offsets = np.zeros((n, 2))
    fx0, fy0, fx1, fy1 = frame
    for i in order:
        w, h = sizes[i]
        area = max(w * h, 1.0)
        others = np.delete(tboxes, i, axis=0)
        best, best_off = np.inf, np.zeros(2)
        for ring in range(_RINGS):
            for k, (ux, uy) in enumerate(_DIRECTIONS):
                off = np.array([ux * (half[0] + gap + w / 2 + ring * (h + gap)),
                                uy * (half[1] + gap + h / 2 + ring * (h + gap))])
                c = P[i] + off
                box = np.array([c[0] - w / 2, c[1] - h / 2, c[0] + w / 2, c[1] + h / 2])
                inside = (max(0.0, min(box[2], fx1) - max(box[0], fx0))
                          * max(0.0, min(box[3], fy1) - max(box[1], fy0)))
                score = (4 * _overlap(box, placed) + 2 * _overlap(box, others)
                         + 2 * (w * h - inside)) / area + 0.3 * ring + 0.01 * k
                if score < best:
                    best, best_off = score, off
        offsets[i] = best_off
        c, m = P[i] + best_off, gap / 2  # a margin, so that touching labels count as crowded
        placed = np.vstack([placed, [c[0] - w / 2 - m, c[1] - h / 2 - m,
                                     c[0] + w / 2 + m, c[1] + h / 2 + m]])
    return offsets
