"""float32 activations of the lanes engine, in float32 vectors (``nbae.engine.lanes.simd``).

The float64 functions of ``nbae.engine.lanes.math`` evaluate a float32 model's activations in
float64 (4 lanes per AVX2 register, a degree-13 exp): about a third of a float32 lanes step
(measured in issue 9). These are Cephes' float32 algorithms (expf, tanhf; Moshier's
coefficients), written on explicit float32 vectors: 8 lanes per AVX2 register, a degree-5
polynomial, and still only IEEE operations in a fixed order -- no libm, no fused operations
-- so every lane's bits are the same on every x86-64 machine and for every group width.
Accuracy (tests/test_lanes.py): tanh within 2 ulp, sigmoid within 3 ulp (float32) of the
correctly rounded value.

``activation_block`` picks the float32 or float64 code by the array's dtype when a kernel is
compiled, so the float64 engine (and its committed results) is unchanged.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.core import config as numba_config
from numba.extending import overload

from nbae.engine.lanes.math import _seg, sigmoid_lanes, tanh_lanes
from nbae.engine.lanes.simd import (
    register_lanes,
    vabs,
    vadd,
    vdiv,
    vfloor,
    vif_ge,
    vif_lt,
    vload,
    vmul,
    vneg,
    vpow2_from_biased,
    vsplat,
    vstore,
    vsub,
)

_LOG2EF = 1.44269504088896341
_C1 = 0.693359375  # ln 2 = C1 - C2, C1 with 9 significant bits: k * C1 is exact
_C2 = -2.12194440e-4
_BIAS = 8388735.0  # 2^23 + 127 (see vpow2_from_biased)


@njit(inline="always")
def _c(x, like):
    return vsplat(x, like)


@njit(inline="always")
def vexpf(y):
    """exp(y) for float32 vectors with -104 <= y <= 0 (Cephes expf; 2^k in two factors, so
    results down to the subnormal range are one rounding of a normal product)."""
    k = vfloor(vadd(vmul(_c(_LOG2EF, y), y), _c(0.5, y)))
    r = vsub(vsub(y, vmul(k, _c(_C1, y))), vmul(k, _c(_C2, y)))
    # Cephes' polynomial P(r) = c0 + c1 r + ... + c5 r^5 by Estrin's scheme: (c0 + c1 r) +
    # r^2 (c2 + c3 r) + r^4 (c4 + c5 r), dependency depth 5 instead of Horner's 10 (the
    # activation loop is latency-bound: measured 1.65 -> see tests/benchmarks)
    r2 = vmul(r, r)
    p01 = vadd(_c(5.0000001201e-1, y), vmul(_c(1.6666665459e-1, y), r))
    p23 = vadd(_c(4.1665795894e-2, y), vmul(_c(8.3334519073e-3, y), r))
    p45 = vadd(_c(1.3981999507e-3, y), vmul(_c(1.9875691500e-4, y), r))
    p = vadd(p01, vmul(r2, vadd(p23, vmul(r2, p45))))
    e = vadd(vadd(vmul(p, r2), r), _c(1.0, y))
    k1 = vfloor(vmul(k, _c(0.5, y)))
    return vmul(vmul(e, vpow2_from_biased(vadd(k1, _c(_BIAS, y)))),
                vpow2_from_biased(vadd(vsub(k, k1), _c(_BIAS, y))))


@njit(inline="always")
def vtanhf(x):
    """tanh of a float32 vector (Cephes tanhf: odd polynomial below 0.625, else
    (1 - e) / (1 + e) with e = exp(-2|x|); |x| capped at 9, where tanh rounds to 1)."""
    a = vabs(x)
    a = vif_lt(_c(9.0, a), a, _c(9.0, a), a)  # min(|x|, 9)
    z = vmul(a, a)
    p = vadd(vmul(_c(-5.70498872745e-3, z), z), _c(2.06390887954e-2, z))
    p = vsub(vmul(p, z), _c(5.37397155531e-2, z))
    p = vadd(vmul(p, z), _c(1.33314422036e-1, z))
    p = vsub(vmul(p, z), _c(3.33332819422e-1, z))
    small = vadd(vmul(vmul(p, z), a), a)
    e = vexpf(vmul(_c(-2.0, a), a))
    one = _c(1.0, a)
    large = vdiv(vsub(one, e), vadd(one, e))
    t = vif_lt(a, _c(0.625, a), small, large)
    return vif_ge(x, _c(0.0, x), t, vneg(t))


@njit(inline="always")
def vsigmoidf(x):
    """1 / (1 + exp(-x)) of a float32 vector, as exp(-|x|) / (1 + exp(-|x|)) for x < 0."""
    a = vabs(x)
    e = vexpf(vneg(vif_lt(_c(104.0, a), a, _c(104.0, a), a)))
    d = vdiv(_c(1.0, e), vadd(_c(1.0, e), e))
    return vif_ge(x, _c(0.0, x), d, vmul(e, d))


def activation_block(F, off, n, code, lanes):
    """tanh (``code`` 1) or the logistic sigmoid (2) in place on ``F[off:off + n]``, n a
    multiple of W = len(lanes): float32 by the vector code above, float64 by lanes.math."""
    seg = F[off:off + n]  # NUMBA_DISABLE_JIT only (NumPy's functions: not exact)
    F[off:off + n] = np.tanh(seg) if code == 1 else 1.0 / (1.0 + np.exp(-seg))


if not numba_config.DISABLE_JIT:
    @overload(activation_block)
    def _activation_block(F, off, n, code, lanes):
        if F.dtype == types.float32:
            def impl32(F, off, n, code, lanes):
                reg = register_lanes(F)  # elementwise: whole registers, then lanes
                V = len(reg)
                W = len(lanes)
                bulk = off + (n - n % V)
                for i in range(off, bulk, V):
                    x = vload(F, i, reg)
                    vstore(F, i, vtanhf(x) if code == 1 else vsigmoidf(x))
                for i in range(bulk, off + n, W):
                    x = vload(F, i, lanes)
                    vstore(F, i, vtanhf(x) if code == 1 else vsigmoidf(x))
            return impl32

        def impl(F, off, n, code, lanes):
            if code == 1:
                tanh_lanes(_seg(F, off, n))
            else:
                sigmoid_lanes(_seg(F, off, n))
        return impl
