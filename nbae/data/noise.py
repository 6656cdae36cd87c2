"""Seeded, vectorised noise models for denoising-autoencoder training and evaluation.

Images are rows of pixel values inside ``pixel_range = (low, high)``; ``low`` is the
background. Three models:

- ``"flip"``: salt-and-pepper for binary images. Each pixel independently, with probability
  ``level``, becomes ``low + high - pixel`` (0 <-> 1, or -1 <-> 1). On grey values this mirrors
  the value about the range midpoint.
- ``"gaussian"``: additive white noise. Every pixel gets ``N(0, level**2)`` added (``level`` is
  the standard deviation, in pixel units) and is then clipped back into the range.
- ``"mask"``: dropout / occlusion. Each pixel independently, with probability ``level``, is set to
  ``low`` (erased to background); other pixels are unchanged.

All randomness comes from one ``numpy.random.Generator`` draw per call (no Python loop over
samples), so results are reproducible from the seed.
"""

from __future__ import annotations

import numbers

import numpy as np

from nbae.data.metrics import check_pixel_range

__all__ = ["NOISE_KINDS", "add_noise", "noisy_copies"]

NOISE_KINDS = ("flip", "gaussian", "mask")


def _check_level(kind: str, level) -> float:
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {', '.join(NOISE_KINDS)}")
    if isinstance(level, bool) or not isinstance(level, numbers.Real):
        raise ValueError(f"noise level must be a number, got {level!r}")
    level = float(level)
    if not np.isfinite(level):
        raise ValueError(f"noise level must be finite, got {level}")
    if kind == "gaussian":
        if level < 0:
            raise ValueError(f"gaussian noise level is a standard deviation, must be >= 0, "
                             f"got {level}")
    elif not 0.0 <= level <= 1.0:
        raise ValueError(f"{kind} noise level is a probability, must be in [0, 1], got {level}")
    return level


def _float_copy(X) -> np.ndarray:
    arr = np.asarray(X)
    # Keep float32 inputs float32 (the model may run in float32); everything else -> float64.
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    return np.array(arr, dtype=dtype, copy=True)


def _apply(X: np.ndarray, kind: str, level, rng: np.random.Generator, low: float,
           high: float) -> np.ndarray:
    """Noise ``X`` in place; ``level`` is a scalar or an array broadcastable to ``X``."""
    if kind == "gaussian":
        X += rng.normal(0.0, 1.0, size=X.shape).astype(X.dtype, copy=False) * level
        np.clip(X, low, high, out=X)
        return X
    hit = rng.random(X.shape) < level  # random() is in [0, 1): level 0 never, level 1 always
    if kind == "flip":
        X[hit] = (low + high) - X[hit]
    else:  # mask
        X[hit] = low
    return X


def _make_rng(seed, rng) -> np.random.Generator:
    if rng is not None:
        if seed is not None:
            raise ValueError("pass either seed or rng, not both")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def add_noise(X, kind: str, level: float, seed=None, rng=None, pixel_range=(0, 1)) -> np.ndarray:
    """Return a noisy copy of ``X`` (any shape); ``X`` itself is never modified.

    ``kind`` is ``"flip"``, ``"gaussian"`` or ``"mask"`` (see the module docstring); ``level`` is
    the per-pixel probability (flip, mask; in [0, 1]) or the standard deviation (gaussian; >= 0).
    Randomness comes from ``rng`` if given, else from ``numpy.random.default_rng(seed)``.
    ``level == 0`` returns an exact copy. The result is float (float32 stays float32).
    """
    level = _check_level(kind, level)
    low, high = check_pixel_range(pixel_range)
    generator = _make_rng(seed, rng)
    out = _float_copy(X)
    if level == 0.0:
        return out
    return _apply(out, kind, level, generator, low, high)


def noisy_copies(X, levels, copies: int, kind: str, seed=None, pixel_range=(0, 1)):
    """Build a noisy training/evaluation set: ``copies`` noisy versions of every row, per level.

    Returns ``(Xnoisy, Yclean, level_per_row)`` with ``len(levels) * copies * n`` rows ordered
    level-major, then copy, then original row: row ``(l * copies + c) * n + i`` is copy ``c`` of
    ``X[i]`` at ``levels[l]``. ``Yclean`` is the matching clean row and ``level_per_row`` the
    level used. All noise is drawn at once from ``numpy.random.default_rng(seed)``, so the
    result is deterministic from the seed. Rows at level 0 are exact copies.
    """
    clean = _float_copy(X)
    if clean.ndim != 2:
        raise ValueError(f"X must be a 2-D (samples, pixels) array, got shape {clean.shape}")
    levels_arr = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if levels_arr.ndim != 1 or levels_arr.size == 0:
        raise ValueError(f"levels must be a non-empty list of numbers, got {levels!r}")
    for level in levels_arr:
        _check_level(kind, float(level))
    if isinstance(copies, bool) or not isinstance(copies, numbers.Integral) or copies < 1:
        raise ValueError(f"copies must be a positive integer, got {copies!r}")
    low, high = check_pixel_range(pixel_range)
    rng = _make_rng(seed, None)

    n = clean.shape[0]
    reps = levels_arr.size * copies
    y_clean = np.tile(clean, (reps, 1))
    level_per_row = np.repeat(levels_arr, copies * n)
    noisy = _apply(y_clean.copy(), kind, level_per_row[:, None], rng, low, high)
    # Gaussian clipping would otherwise alter out-of-range values even at level 0.
    zero = level_per_row == 0.0
    if zero.any():
        noisy[zero] = y_clean[zero]
    return noisy, y_clean, level_per_row
