"""Where two images disagree pixel by pixel, after thresholding (the mask behind the counts).

:func:`nbae.metrics.pixel_errors` counts wrong pixels per image; the figures need to know
*which* pixels are wrong to paint them red. Both use :func:`nbae.metrics.binarize`, so a pixel
counted wrong is exactly a pixel drawn wrong. (Kept apart from metrics.py only while that
module is being moved; it belongs next to ``pixel_errors``.)
"""

from __future__ import annotations

import numpy as np

from nbae.metrics import binarize

__all__ = ["wrong_pixel_mask"]


def wrong_pixel_mask(target, output, pixel_range=(0, 1)) -> np.ndarray:
    """Boolean mask of pixels whose binarised value differs between ``target`` and ``output``.

    Both are thresholded at the midpoint of ``pixel_range`` (:func:`nbae.metrics.binarize`):
    a value strictly above the midpoint counts as ink (high), anything else as background.
    Shapes broadcast. ``ValueError`` for a bad ``pixel_range``.
    """
    return binarize(target, pixel_range) != binarize(output, pixel_range)
