"""Batch assembly: the splitmix64 generator behind shuffling and input noise, row gathering
and input corruption."""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.codes import NOISE_FLIP, NOISE_GAUSSIAN, NOISE_MASK
from nbae.engine.kernels.intrinsics import JIT
from nbae.engine.kernels.libm import _log, sincos

# ---------------------------------------------------------------------------------------------
# random numbers: splitmix64, so that shuffling and noise are reproducible from one state word
# and independent of NumPy's and Numba's global generators.


@njit(**JIT)
def next_u64(state):
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(**JIT)
def next_uniform(state):
    """Uniform float64 in [0, 1) with 53 random bits."""
    return np.float64(next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(**JIT)
def next_normal(state):
    """Standard normal by the Box-Muller transform (one value per call, for simplicity), with
    the project's own log and cos (``libm``): the same draws on every machine."""
    u1 = 1.0 - next_uniform(state)  # (0, 1]: log is finite
    u2 = next_uniform(state)
    return np.sqrt(-2.0 * _log(u1)) * sincos(2.0 * np.pi * u2)[1]


@njit(**JIT)
def shuffle_inplace(perm, state):
    """Fisher-Yates shuffle of an index array."""
    for i in range(perm.size - 1, 0, -1):
        j = np.int64(next_uniform(state) * (i + 1))
        if j > i:  # guards the (measure-zero) rounding of u * (i + 1) up to i + 1
            j = i
        t = perm[i]
        perm[i] = perm[j]
        perm[j] = t



# ---------------------------------------------------------------------------------------------
# batch assembly


@njit(**JIT)
def gather_rows(src, idx, start, B, dst):
    """Copy rows ``src[idx[start:start+B]]`` into the ``B``-row matrix ``dst``."""
    for r in range(B):
        row = idx[start + r]
        for j in range(src.shape[1]):
            dst[r, j] = src[row, j]


@njit(**JIT)
def corrupt(A, noise, level, lo, hi, state):
    """Corrupt a batch in place: flip (x -> lo + hi - x), gaussian (clipped), or mask (x -> lo).

    Parameters
    ----------
    A : ndarray (B, d)
        The input batch.
    noise : int
        NOISE_FLIP, NOISE_GAUSSIAN or NOISE_MASK (anything else: no change).
    level : float
        Flip/mask probability per element, or the Gaussian standard deviation.
    lo, hi : float
        Pixel range.
    state : uint64 ndarray (1,)
        splitmix64 state, advanced.
    """
    n, m = A.shape
    for i in range(n):
        for j in range(m):
            if noise == NOISE_FLIP:
                if next_uniform(state) < level:
                    A[i, j] = lo + hi - A[i, j]
            elif noise == NOISE_MASK:
                if next_uniform(state) < level:
                    A[i, j] = lo
            elif noise == NOISE_GAUSSIAN:
                x = A[i, j] + level * next_normal(state)
                A[i, j] = min(max(x, lo), hi)

