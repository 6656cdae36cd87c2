"""Pixel-level reconstruction metrics for binary images (the font glyphs).

A pixel is "high" when its value is strictly above the midpoint of ``pixel_range``; both the
target and the reconstruction are thresholded that way, so {0, 1} and {-1, 1} encodings, and
sigmoid or tanh outputs, are scored alike.
"""

from __future__ import annotations

import numpy as np

__all__ = ["binarize", "check_pixel_range", "pixel_errors", "summarize_pixel_errors"]


def check_pixel_range(pixel_range) -> tuple[float, float]:
    """``(low, high)`` as floats; ``ValueError`` unless it is a pair with ``low < high``."""
    try:
        low, high = (float(v) for v in pixel_range)
    except (TypeError, ValueError):
        raise ValueError(f"pixel_range must be a (low, high) pair, got {pixel_range!r}") from None
    if not low < high:
        raise ValueError(f"pixel_range must have low < high, got {pixel_range!r}")
    return low, high


def _midpoint(pixel_range) -> float:
    low, high = check_pixel_range(pixel_range)
    return (low + high) / 2.0


def binarize(X, pixel_range=(0, 1)) -> np.ndarray:
    """Boolean array: True where a value is strictly above the midpoint of ``pixel_range``."""
    return np.asarray(X, dtype=np.float64) > _midpoint(pixel_range)


def pixel_errors(target, output, pixel_range=(0, 1)) -> np.ndarray:
    """Number of wrong pixels per row after thresholding both arrays at the range midpoint.

    ``target`` and ``output`` are (n, pixels) arrays of the same shape (a single 1-D image is
    taken as one row). A value exactly at the midpoint counts as low. Returns an int64 array of
    shape (n,).
    """
    t = np.asarray(target, dtype=np.float64)
    o = np.asarray(output, dtype=np.float64)
    if t.shape != o.shape:
        raise ValueError(f"target shape {t.shape} and output shape {o.shape} differ")
    if t.ndim == 1:
        t, o = t[None, :], o[None, :]
    if t.ndim != 2:
        raise ValueError(f"expected (n, pixels) arrays, got {t.ndim}-D arrays of shape {t.shape}")
    # NaN compares as low and would be scored silently; a diverged model must be loud instead.
    if np.isnan(o).any() or np.isnan(t).any():
        raise ValueError("target or output contains NaN; cannot threshold pixels")
    mid = _midpoint(pixel_range)
    return np.count_nonzero((t > mid) != (o > mid), axis=1).astype(np.int64)


def summarize_pixel_errors(errors, labels=None, max_wrong: int = 1) -> dict:
    """Summarise per-row pixel errors as plain JSON-serialisable Python values.

    ``labels`` names each row (unique; defaults to ``"0", "1", ...``). A row is "over" when
    it has more than ``max_wrong`` wrong pixels. Returns a dict with ``max_pixel_error`` (int),
    ``mean_pixel_error`` (float), ``glyphs_over`` (int), ``glyphs_over_labels`` (list[str]),
    ``per_glyph`` ({label: int}, in row order) and ``all_within`` (bool).
    """
    err = np.asarray(errors)
    if err.ndim != 1 or err.size == 0:
        raise ValueError(f"errors must be a non-empty 1-D array, got shape {err.shape}")
    if not np.issubdtype(err.dtype, np.integer):
        if not (np.isfinite(err).all() and (err == np.round(err)).all()):
            raise ValueError("errors must be whole numbers of pixels")
        err = err.astype(np.int64)
    if (err < 0).any():
        raise ValueError("errors must be non-negative")
    if labels is None:
        labels = [str(i) for i in range(err.size)]
    labels = [str(label) for label in labels]
    if len(labels) != err.size:
        raise ValueError(f"got {len(labels)} labels for {err.size} error counts")
    if len(set(labels)) != len(labels):
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        raise ValueError(f"labels must be unique (per_glyph is keyed by label); repeated: {dup}")
    if isinstance(max_wrong, bool) or int(max_wrong) != max_wrong or max_wrong < 0:
        raise ValueError(f"max_wrong must be a non-negative integer, got {max_wrong!r}")

    over = err > max_wrong
    return {
        "max_pixel_error": int(err.max()),
        "mean_pixel_error": float(err.mean()),
        "glyphs_over": int(over.sum()),
        "glyphs_over_labels": [lab for lab, o in zip(labels, over, strict=True) if o],
        "per_glyph": {lab: int(e) for lab, e in zip(labels, err, strict=True)},
        "all_within": bool(not over.any()),
    }


def max_wrong_metric(X, pixel_range, max_wrong: int = 1):
    """Metric callback for ``fit``: worst glyph's wrong pixels and glyphs over ``max_wrong``."""
    def metric(ae):
        err = pixel_errors(X, ae.reconstruct(X), pixel_range)
        return {"max_wrong_pixels": float(err.max()),
                "glyphs_over": float((err > max_wrong).sum())}
    return metric


def wrong_pixel_mask(target, output, pixel_range=(0, 1)) -> np.ndarray:
    """Boolean mask of pixels whose binarised value differs between ``target`` and ``output``.

    The mask behind :func:`pixel_errors`' counts (both use :func:`binarize`), so a pixel
    counted wrong is exactly a pixel the figures paint red. Shapes broadcast.
    """
    return binarize(target, pixel_range) != binarize(output, pixel_range)
