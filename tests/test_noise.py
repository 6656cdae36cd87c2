"""Tests for nbae.data.noise: measured noise statistics, reproducibility and noisy_copies layout."""

from __future__ import annotations

import numpy as np
import pytest

from nbae.data.noise import NOISE_KINDS, add_noise, noisy_copies

N = 1_000_000  # pixels per statistical test: rate tolerances below are > 5 standard errors


@pytest.fixture(scope="module")
def binary():
    return np.random.default_rng(123).integers(0, 2, size=(2000, 500)).astype(np.float64)


@pytest.mark.parametrize("level", [0.05, 0.3, 0.9])
def test_flip_rate_and_values(binary, level):
    out = add_noise(binary, "flip", level, seed=1)
    changed = out != binary
    tol = 5 * np.sqrt(level * (1 - level) / N)
    assert abs(changed.mean() - level) < tol
    # flipped pixels are exactly 1 - x; the others are untouched
    np.testing.assert_array_equal(out[changed], 1 - binary[changed])
    assert set(np.unique(out)) <= {0.0, 1.0}


def test_flip_bipolar_and_extremes(binary):
    bip = 2 * binary - 1
    out = add_noise(bip, "flip", 0.2, seed=2, pixel_range=(-1, 1))
    changed = out != bip
    assert abs(changed.mean() - 0.2) < 0.002
    np.testing.assert_array_equal(out[changed], -bip[changed])
    np.testing.assert_array_equal(add_noise(bip, "flip", 1.0, seed=2, pixel_range=(-1, 1)), -bip)


@pytest.mark.parametrize("level", [0.1, 0.5])
def test_mask_rate(level):
    ones = np.ones((1000, 1000))
    out = add_noise(ones, "mask", level, seed=3)
    assert abs((out == 0).mean() - level) < 5 * np.sqrt(level * (1 - level) / N)
    assert set(np.unique(out)) == {0.0, 1.0}


def test_mask_only_erases_to_background(binary):
    out = add_noise(2 * binary - 1, "mask", 0.4, seed=4, pixel_range=(-1, 1))
    was_low = binary == 0
    assert (out[was_low] == -1).all()  # background never changes
    on = ~was_low
    assert abs((out[on] == -1).mean() - 0.4) < 0.004
    assert set(np.unique(out)) == {-1.0, 1.0}


@pytest.mark.parametrize("std", [0.01, 0.1])
def test_gaussian_std(std):
    mid = np.full((1000, 1000), 0.5)  # clipping is > 5 std away: measures the raw noise
    out = add_noise(mid, "gaussian", std, seed=5)
    noise = out - mid
    assert abs(noise.mean()) < 5 * std / np.sqrt(N)
    assert abs(noise.std() / std - 1) < 0.01  # relative s.e. of the std is ~0.07% here


def test_gaussian_clips_to_range(binary):
    out = add_noise(binary, "gaussian", 0.8, seed=6)
    assert out.min() == 0.0 and out.max() == 1.0
    assert ((out > 0) & (out < 1)).mean() > 0.3  # noise really is added
    bip = add_noise(2 * binary - 1, "gaussian", 2.0, seed=6, pixel_range=(-1, 1))
    assert bip.min() == -1.0 and bip.max() == 1.0


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_seeded_reproducibility(binary, kind):
    X = binary[:50]
    a = add_noise(X, kind, 0.3, seed=42)
    np.testing.assert_array_equal(a, add_noise(X, kind, 0.3, seed=42))
    assert not np.array_equal(a, add_noise(X, kind, 0.3, seed=43))
    # an explicit Generator is used as given and advances between calls
    rng = np.random.default_rng(42)
    np.testing.assert_array_equal(add_noise(X, kind, 0.3, rng=rng), a)
    assert not np.array_equal(add_noise(X, kind, 0.3, rng=rng), a)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_level_zero_is_exact_copy_and_input_untouched(binary, kind):
    X = binary[:20].copy()
    X[0, 0] = 0.25  # a grey value: still returned exactly
    before = X.copy()
    out = add_noise(X, kind, 0.0, seed=0)
    np.testing.assert_array_equal(out, X)
    assert out is not X and not np.shares_memory(out, X)
    add_noise(X, kind, 0.5, seed=0)
    np.testing.assert_array_equal(X, before)


def test_dtypes():
    X32 = np.ones((3, 4), dtype=np.float32)
    assert add_noise(X32, "gaussian", 0.1, seed=0).dtype == np.float32
    assert add_noise(np.ones((3, 4), dtype=np.int64), "flip", 0.5, seed=0).dtype == np.float64


def test_invalid_arguments():
    X = np.zeros((2, 3))
    with pytest.raises(ValueError, match="flip, gaussian, mask"):
        add_noise(X, "salt", 0.1)
    for kind, level in (("flip", 1.5), ("flip", -0.1), ("mask", 2.0), ("gaussian", -0.1),
                        ("gaussian", float("nan"))):
        with pytest.raises(ValueError, match="level"):
            add_noise(X, kind, level)
    with pytest.raises(ValueError, match="either seed or rng"):
        add_noise(X, "flip", 0.1, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(ValueError, match="low < high"):
        add_noise(X, "flip", 0.1, pixel_range=(1, 1))


def test_noisy_copies_shapes_and_ordering():
    glyphs = np.random.default_rng(7).integers(0, 2, size=(32, 35)).astype(np.float64)
    levels = [0.0, 0.05, 0.1, 0.2, 0.3]
    Xn, Y, lv = noisy_copies(glyphs, levels, 64, "flip", seed=11)
    assert Xn.shape == Y.shape == (10240, 35) and lv.shape == (10240,)
    # row (l * copies + c) * n + i is copy c of glyph i at levels[l]
    blocks = Y.reshape(5, 64, 32, 35)
    np.testing.assert_array_equal(blocks, np.broadcast_to(glyphs, blocks.shape))
    np.testing.assert_array_equal(lv.reshape(5, 64 * 32), np.repeat(levels, 64 * 32).reshape(5, -1))
    np.testing.assert_array_equal(Xn[lv == 0], Y[lv == 0])  # level-0 rows are clean
    # measured flip rate per level block (64*32*35 = 71680 pixels each)
    rates = (Xn != Y).reshape(5, -1).mean(axis=1)
    np.testing.assert_allclose(rates, levels, atol=0.01)
    # copies really differ from each other
    assert not np.array_equal(Xn[lv == 0.3][:32], Xn[lv == 0.3][32:64])


def test_noisy_copies_deterministic_and_validated():
    X = np.random.default_rng(8).integers(0, 2, size=(5, 35)) * 2.0 - 1
    a = noisy_copies(X, [0.0, 0.5], 3, "gaussian", seed=1, pixel_range=(-1, 1))
    b = noisy_copies(X, [0.0, 0.5], 3, "gaussian", seed=1, pixel_range=(-1, 1))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], noisy_copies(X, [0.0, 0.5], 3, "gaussian", seed=2,
                                                 pixel_range=(-1, 1))[0])
    assert a[0].min() >= -1 and a[0].max() <= 1
    with pytest.raises(ValueError, match="copies"):
        noisy_copies(X, [0.1], 0, "flip", seed=1)
    with pytest.raises(ValueError, match="probability"):
        noisy_copies(X, [0.1, 1.2], 2, "mask", seed=1)
    with pytest.raises(ValueError, match="2-D"):
        noisy_copies(X[0], [0.1], 2, "mask", seed=1)
    with pytest.raises(ValueError, match="unknown noise kind"):
        noisy_copies(X, [0.1], 2, "blur", seed=1)
