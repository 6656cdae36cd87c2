"""The explicit vector type of the lanes engine (nbae.engine.lanes.simd), op by op.

Every operation must be the IEEE operation per lane -- the engine's determinism rests on it --
so each is compared bit for bit with NumPy's (or, for fma, with exact rational arithmetic).
"""

from fractions import Fraction

import numpy as np
import pytest
from numba import njit

from nbae.engine.lanes import simd as S

W4 = (0,) * 4


@njit(cache=True)
def _binary_ops(a, b, out, lanes):
    W = len(lanes)
    for i in range(0, a.size, W):
        x = S.vload(a, i, lanes)
        y = S.vload(b, i, lanes)
        S.vstore(out, 0 * a.size + i, S.vadd(x, y))
        S.vstore(out, 1 * a.size + i, S.vsub(x, y))
        S.vstore(out, 2 * a.size + i, S.vmul(x, y))
        S.vstore(out, 3 * a.size + i, S.vdiv(x, y))
        S.vstore(out, 4 * a.size + i, S.vif_lt(x, y, x, y))
        S.vstore(out, 5 * a.size + i, S.vif_ge(x, y, x, y))


@njit(cache=True)
def _unary_ops(a, out, lanes):
    W = len(lanes)
    for i in range(0, a.size, W):
        x = S.vload(a, i, lanes)
        S.vstore(out, 0 * a.size + i, S.vsqrt(S.vabs(x)))
        S.vstore(out, 1 * a.size + i, S.vabs(x))
        S.vstore(out, 2 * a.size + i, S.vfloor(x))
        S.vstore(out, 3 * a.size + i, S.vneg(x))
        S.vstore(out, 4 * a.size + i, S.vbroadcast(a, i + 1, lanes))
        S.vstore(out, 5 * a.size + i, S.vadd(S.vzero(a, lanes), S.vsplat(2.5, x)))


@njit(cache=True)
def _fma(a, b, c, out, lanes):
    W = len(lanes)
    for i in range(0, a.size, W):
        S.vstore(out, i, S.vfma(S.vload(a, i, lanes), S.vload(b, i, lanes),
                                S.vload(c, i, lanes)))


@njit(cache=True)
def _pow2(k, out, lanes):
    W = len(lanes)
    for i in range(0, k.size, W):
        S.vstore(out, i, S.vpow2_from_biased(S.vload(k, i, lanes)))


def _same(x, y):
    return np.array_equal(x.view(np.uint8), y.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arithmetic_and_selects_are_the_ieee_operations(dtype):
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.standard_normal(64) * 10, [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0,
                                                      -2.5, 3.0]]).astype(dtype)
    b = np.concatenate([rng.standard_normal(64), [-0.0, 0.0, 1.0, np.nan, 2.0, np.inf, -2.5,
                                                  0.0]]).astype(dtype)
    out = np.zeros(6 * a.size, dtype)
    with np.errstate(all="ignore"):
        _binary_ops(a, b, out, W4)
        expect = [a + b, a - b, a * b, a / b, np.where(a < b, a, b), np.where(a >= b, a, b)]
    for k, e in enumerate(expect):
        got = out[k * a.size:(k + 1) * a.size]
        assert _same(np.where(np.isnan(e), 0, got), np.where(np.isnan(e), 0, e)), k
        assert (np.isnan(got) == np.isnan(e)).all(), k


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unary_operations_broadcast_and_splat(dtype):
    rng = np.random.default_rng(1)
    a = np.concatenate([rng.standard_normal(60) * 1e3, [0.5, -0.5, -0.0, 1e30]]).astype(dtype)
    ext = np.concatenate([a, np.zeros(4, dtype)])  # vbroadcast reads a[i + 1]
    out = np.zeros(6 * ext.size, dtype)
    _unary_ops(ext, out, W4)
    n = ext.size
    assert _same(out[:a.size], np.sqrt(np.abs(a)))
    assert _same(out[n:n + a.size], np.abs(a))
    assert _same(out[2 * n:2 * n + a.size], np.floor(a))
    assert _same(out[3 * n:3 * n + a.size], -a)
    bcast = out[4 * n:5 * n].reshape(-1, 4)
    assert _same(bcast, np.repeat(ext[1::4], 4).reshape(-1, 4))
    assert (out[5 * n:6 * n] == dtype(2.5)).all()


def test_fma_rounds_once():
    rng = np.random.default_rng(2)
    a, b, c = (rng.standard_normal(400) for _ in range(3))
    a[:4] = [1 + 2 ** -30, 0.1, 3.0, 2.0]  # cases where a * b + c rounds twice otherwise
    b[:4] = [1 - 2 ** -30, 10.0, 1 / 3, 0.5]
    c[:4] = [-1.0, -1.0, -1.0, -1.0]
    out = np.zeros_like(a)
    _fma(a, b, c, out, W4)
    exact = np.array([float(Fraction(x) * Fraction(y) + Fraction(z))
                      for x, y, z in zip(a, b, c, strict=True)])
    assert _same(out, exact)
    assert out[0] == -2.0 ** -60 and a[0] * b[0] + c[0] == 0.0  # unfused: two roundings


@pytest.mark.parametrize("dtype,bias,lo,hi", [(np.float64, 4503599627371519.0, -1022, 1023),
                                              (np.float32, 8388735.0, -126, 127)])
def test_power_of_two_from_exponent_bits(dtype, bias, lo, hi):
    k = np.arange(lo, hi + 1, dtype=np.float64)
    k = k[:k.size // 4 * 4]
    out = np.zeros(k.size, dtype)
    _pow2((k + bias).astype(dtype), out, W4)
    assert _same(out, np.ldexp(np.ones(k.size, dtype), k.astype(int)))


def test_register_widths_and_alignment_helpers():
    assert S.native_width(np.float64) in (4, 8)
    assert S.native_width(np.float32) == 2 * S.native_width(np.float64)
    assert len(S.register_lanes(np.zeros(1))) == S.native_width(np.float64)
    assert len(S.register_lanes(np.zeros(1, np.float32))) == S.native_width(np.float32)
