"""wrong_pixel_mask: the pixels drawn red are exactly the pixels pixel_errors counts."""

from __future__ import annotations

import numpy as np
import pytest

from nbae.data.metrics import pixel_errors, wrong_pixel_mask


def test_wrong_pixel_mask_binary_range():
    t = np.array([[0, 1, 1, 0]])
    o = np.array([[0.49, 0.51, 0.2, 0.9]])
    assert wrong_pixel_mask(t, o).tolist() == [[False, False, True, True]]


def test_wrong_pixel_mask_bipolar_midpoint_is_background():
    t = np.array([-1, 1, 1, -1])
    o = np.array([0.0, 0.0, 0.01, -0.01])
    # exactly at the midpoint counts as background (not above it)
    assert wrong_pixel_mask(t, o, (-1, 1)).tolist() == [False, True, False, False]


def test_wrong_pixel_mask_rejects_bad_range():
    with pytest.raises(ValueError, match="pixel_range"):
        wrong_pixel_mask([0], [0], (1, 0))


@pytest.mark.parametrize("pr", [(0, 1), (-1, 1)])
def test_mask_agrees_with_pixel_errors(pr):
    rng = np.random.default_rng(3)
    t = rng.uniform(*pr, (20, 35))
    o = rng.uniform(*pr, (20, 35))
    assert wrong_pixel_mask(t, o, pr).sum(axis=1).tolist() == pixel_errors(t, o, pr).tolist()
