"""The project's own log, sin and cos: fixed sequences of IEEE operations, no libm.

NumPy's and Numba's ``log``/``cos`` call the machine's libm, and glibc picks among variants of
them (with and without FMA) by CPU, so their last bits may depend on the machine. Everything
that must be the same bits on every x86-64 machine uses these instead: the gaussian noise
draws (``batches.next_normal``), the lanes engine's BCE loss (``lanes.math`` re-exports
``_log``) and the reproducible VAE (``nbae.engine.vae_arith``). Accuracy (tests): log < 1 ulp
(fdlibm's e_log.c), sin and cos within 1 ulp for 0 <= t < 8 (2^-53 absolute near zeros).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.kernels.intrinsics import _bits_from_f64, _f64_from_bits

# ---------------------------------------------------------------------------------------------
# natural log (fdlibm's e_log.c algorithm, < 1 ulp), vectorisable

_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (also lanes.math's exp reduction)
_LN2_LO = 1.90821492927058770002e-10


@njit(inline="always")
def _log(x):
    """log(x) for float64 x >= 0 (log 0 = -inf, log inf = inf, NaN stays NaN)."""
    tiny = x < 2.2250738585072014e-308  # subnormal (or 0): scale by 2^54 first
    xs = x * 18014398509481984.0 if tiny else x
    bits = _bits_from_f64(xs)
    k = (bits >> 52) - 1023
    m = _f64_from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # in [1, 2)
    big = m > 1.4142135623730951
    m = m * 0.5 if big else m
    k = k + 1 if big else k
    k = k - 54 if tiny else k
    f = m - 1.0  # exact
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                                              + w * 1.531383769920937332e-01))
    t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (
        1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    dk = np.float64(k)
    out = dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
    if x == 0.0:
        return -np.inf
    if not x < np.inf:  # inf or NaN
        return x + x
    return out



# ---------------------------------------------------------------------------------------------
# sin and cos of a Box-Muller angle

# pi/2 in two parts (fdlibm): _PIO2_1 has 33 significant bits, so n * _PIO2_1 is exact for the
# small n of a Box-Muller angle in [0, 2 pi)
_PIO2_1 = 1.57079632673412561417e00
_PIO2_1T = 6.07710050650619224932e-11
_INV_PIO2 = 6.36619772367581382433e-01


@njit(inline="always")
def _kernel_sin(x):
    """sin(x), |x| <= pi/4 (FreeBSD msun k_sin.c, < 1 ulp)."""
    z = x * x
    w = z * z
    r = 8.33333333332248946124e-03 + z * (-1.98412698298579493134e-04
                                          + z * 2.75573137070700676789e-06) \
        + z * w * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)
    return x + z * x * (-1.66666666666666324348e-01 + z * r)


@njit(inline="always")
def _kernel_cos(x):
    """cos(x), |x| <= pi/4 (FreeBSD msun k_cos.c, < 1 ulp)."""
    z = x * x
    w = z * z
    r = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03
                                               + z * 2.48015872894767294178e-05)) \
        + w * w * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09
                                                      + z * -1.13596475577881948265e-11))
    hz = 0.5 * z
    v = 1.0 - hz
    return v + (((1.0 - v) - hz) + z * r)


@njit(inline="always")
def sincos(t):
    """(sin t, cos t) for float64 0 <= t < 8 (a Box-Muller angle 2 pi u): within 1 ulp, and
    within 2^-53 of the zeros (tests/test_vae_reproducible.py).

    Cody-Waite reduction by pi/2 (exact for these t: n <= 5, and t - n * _PIO2_1 is exact by
    Sterbenz's lemma), then the quadrant's kernel polynomials.
    """
    n = np.floor(t * _INV_PIO2 + 0.5)
    r = (t - n * _PIO2_1) - n * _PIO2_1T
    s = _kernel_sin(r)
    c = _kernel_cos(r)
    q = int(n) & 3
    if q == 0:
        return s, c
    if q == 1:
        return c, -s
    if q == 2:
        return -s, -c
    return -c, s
