"""Tests for nbae.data.metrics: thresholded pixel errors and their summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nbae.data.metrics import binarize, pixel_errors, summarize_pixel_errors


def test_pixel_errors_hand_made():
    target = np.array([[0, 1, 1, 0, 1],
                       [1, 1, 1, 1, 1],
                       [0, 0, 0, 0, 0]])
    output = np.array([[0.1, 0.9, 0.2, 0.7, 0.6],   # pixels 2 and 3 wrong
                       [0.9, 0.8, 0.7, 0.6, 0.51],  # all right
                       [0.9, 0.8, 0.7, 0.6, 0.51]])  # all wrong
    errs = pixel_errors(target, output)
    assert errs.dtype == np.int64
    assert errs.tolist() == [2, 0, 5]


def test_threshold_edge_midpoint_counts_as_low():
    target = np.array([[0.0, 1.0, 1.0]])
    output = np.array([[0.5, 0.5, np.nextafter(0.5, 1.0)]])
    # 0.5 is not above the midpoint: low, so right for target 0 and wrong for target 1
    assert pixel_errors(target, output).tolist() == [1]


def test_bipolar_range():
    target = np.array([[-1, 1, 1, -1], [1, 1, -1, -1]])
    output = np.array([[-0.9, 0.2, 0.0, 0.3],     # 0.0 is the midpoint: low -> wrong for +1
                       [0.99, 0.01, -0.01, -1.0]])
    assert pixel_errors(target, output, pixel_range=(-1, 1)).tolist() == [2, 0]
    # the same outputs read against (0, 1) would use 0.5 as the threshold
    assert pixel_errors(target, output, pixel_range=(0, 1)).tolist() == [2, 1]
    np.testing.assert_array_equal(binarize([-1, 0, 0.1], (-1, 1)), [False, False, True])


def test_single_row_and_validation():
    assert pixel_errors([0, 1, 1], [1, 1, 0]).tolist() == [2]
    with pytest.raises(ValueError, match=r"target shape \(2, 35\) and output shape \(2, 30\)"):
        pixel_errors(np.zeros((2, 35)), np.zeros((2, 30)))
    with pytest.raises(ValueError, match="NaN"):
        pixel_errors(np.zeros((1, 3)), np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="low < high"):
        pixel_errors(np.zeros((1, 3)), np.zeros((1, 3)), pixel_range=(1, 0))
    with pytest.raises(ValueError, match="2-D|\\(n, pixels\\)"):
        pixel_errors(np.zeros((2, 7, 5)), np.zeros((2, 7, 5)))


def test_summarize_pixel_errors():
    errs = pixel_errors(np.zeros((4, 3)), np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]]))
    s = summarize_pixel_errors(errs, ["a", "b", "c", "DEL"], max_wrong=1)
    assert s == {
        "max_pixel_error": 3,
        "mean_pixel_error": 1.5,
        "glyphs_over": 2,
        "glyphs_over_labels": ["c", "DEL"],
        "per_glyph": {"a": 0, "b": 1, "c": 2, "DEL": 3},
        "all_within": False,
    }
    # plain python types only: round-trips through JSON unchanged
    assert json.loads(json.dumps(s)) == s
    assert type(s["max_pixel_error"]) is int and type(s["all_within"]) is bool
    assert all(type(v) is int for v in s["per_glyph"].values())

    s3 = summarize_pixel_errors(errs, ["a", "b", "c", "d"], max_wrong=3)
    assert s3["all_within"] is True and s3["glyphs_over"] == 0 and s3["glyphs_over_labels"] == []
    s0 = summarize_pixel_errors(errs, max_wrong=0)
    assert s0["glyphs_over_labels"] == ["1", "2", "3"]


def test_summarize_validation():
    with pytest.raises(ValueError, match="3 labels for 2"):
        summarize_pixel_errors([0, 1], ["a", "b", "c"])
    with pytest.raises(ValueError, match="unique"):
        summarize_pixel_errors([0, 1], ["a", "a"])
    with pytest.raises(ValueError, match="non-negative"):
        summarize_pixel_errors([0, -1], ["a", "b"])
    with pytest.raises(ValueError, match="max_wrong"):
        summarize_pixel_errors([0, 1], ["a", "b"], max_wrong=-1)
    with pytest.raises(ValueError, match="non-empty"):
        summarize_pixel_errors([], [])
