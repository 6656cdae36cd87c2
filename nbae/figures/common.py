"""What every figure shares: argument checks, rendering to a PNG, image tiles, text sizes.

Figures are built with matplotlib's object-oriented API on the Agg canvas (no pyplot state,
no GUI backend), and every file goes through :func:`nbae.fileio.save_figure`, which writes a
temporary file and renames it, so a failure never leaves a partial image behind. All
arguments are checked before any figure is built.

Images are flat row vectors plus an ``image_shape`` (font ``(7, 5)``, flowers ``(32, 32)``)
and a ``pixel_range`` (``(0, 1)`` or ``(-1, 1)``). ``dark_ink`` picks the colour mapping:
``True`` draws the high value dark on a light background (glyphs: ink is the high value),
``False`` draws it light (photos). ``None`` chooses ``True`` for small bitmaps (at most
:data:`GLYPH_MAX_PIXELS` pixels, like the 7x5 font) and ``False`` otherwise.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nbae.data.metrics import check_pixel_range
from nbae.fileio import save_figure

#: Images with at most this many pixels are drawn as glyphs (dark ink on light) by default.
GLYPH_MAX_PIXELS = 256

WRONG_RGB = np.array([0.85, 0.0, 0.0])  # colour of wrong pixels on reconstructions
GAP_COLOUR = "#9db4c8"  # separator between tiles of a mosaic
TXT = {"parse_math": False}  # glyph labels such as "$" or "_" are shown literally


def format_code(z, digits: int = 2) -> str:
    """A latent code as a short title: ``[6.5, -0.4]`` -> ``"(6.50, -0.40)"``."""
    return "(" + ", ".join(f"{float(v):.{int(digits)}f}" for v in np.ravel(z)) + ")"


# --------------------------------------------------------------------------------- rendering


def render(build, path, figsize, layout=None) -> None:
    """Build a figure with ``build(fig)`` and save it atomically (nothing written on failure).

    The figure is not registered with pyplot, so it is freed with its last reference; it is
    not cleared (clearing a figure of many image tiles took a third of the drawing time).
    ``save_figure`` is looked up in this module at call time, so tests can wrap it to inspect
    the finished figure before it is written.
    """
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    build(fig)
    save_figure(fig, path)


def text_width(texts, fontsize: float, **style) -> float:
    """Width in inches of the widest of ``texts`` as matplotlib draws it (0 for no texts).

    Measured with the Agg renderer, so a layout can make room for titles before it is built.
    """
    fig = Figure()
    renderer = FigureCanvasAgg(fig).get_renderer()
    widest = 0.0
    for s in texts:
        t = fig.text(0, 0, str(s), fontsize=fontsize, **TXT, **style)
        widest = max(widest, t.get_window_extent(renderer).width / fig.dpi)
    return widest


# ------------------------------------------------------------------------------- validation


def check_range(pixel_range) -> tuple[float, float]:
    """``(low, high)`` as floats; also rejects infinite ends (no colour scale spans them)."""
    low, high = check_pixel_range(pixel_range)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"pixel_range must be finite, got {pixel_range!r}")
    return low, high


def check_shape(image_shape) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in image_shape)
        ok = [rows, cols] == list(image_shape) and rows > 0 and cols > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image_shape must be (rows, cols) of positive ints, "
                         f"got {image_shape!r}")
    return rows, cols


def check_positive_int(v, name) -> int:
    try:
        ok = not isinstance(v, bool) and int(v) == v and v >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def as_matrix(a, name) -> np.ndarray:
    try:
        a = np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array") from None
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d), got shape {a.shape}")
    return a


def check_images(a, shape, name, n=None) -> np.ndarray:
    a = as_matrix(a, name)
    d = shape[0] * shape[1]
    if a.shape[1] != d:
        raise ValueError(f"{name} rows have {a.shape[1]} values but image_shape {shape} "
                         f"needs {d}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} rows, expected {n}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def check_labels(labels, n, name) -> list[str]:
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(v) for v in labels]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries, expected {n}")
    return labels


def require_columns(df, cols, name) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")


# ----------------------------------------------------------------------------- image tiles


def ink_for(choice, shape) -> bool:
    if choice is None:
        return shape[0] * shape[1] <= GLYPH_MAX_PIXELS
    return bool(choice)


def cell(shape, scale) -> tuple[float, float]:
    """Width and height in inches of one image tile, the longer side being ``scale``."""
    rows, cols = shape
    m = max(rows, cols)
    return scale * cols / m, scale * rows / m


def blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("0.6")
        s.set_linewidth(0.6)


def show(ax, img, low, high, ink) -> None:
    ax.imshow(img, cmap="gray_r" if ink else "gray", vmin=low, vmax=high,
              interpolation="nearest")
    blank(ax)


def show_rgb(ax, rgb) -> None:
    ax.imshow(rgb, interpolation="nearest")
    blank(ax)


def highlight(img, mask, low, high, ink) -> np.ndarray:
    """RGB version of ``img`` as :func:`show` draws it, with ``mask`` pixels in red."""
    g = np.clip((img - low) / (high - low), 0.0, 1.0)
    if ink:
        g = 1.0 - g
    rgb = np.repeat(g[..., None], 3, axis=-1)
    rgb[mask] = 0.2 * rgb[mask] + 0.8 * WRONG_RGB
    return rgb


# ------------------------------------------------------------------------------ text bits


def colours(n) -> list:
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def legend_label(name) -> str:
    s = str(name)
    return " " + s if s.startswith("_") else s  # matplotlib hides labels starting with "_"


def fmt_epoch(e) -> str:
    f = float(e)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def level_label(level) -> str:
    v = float(level)
    pct = v * 100 if v <= 1 else v
    return f"{pct:g}%"
