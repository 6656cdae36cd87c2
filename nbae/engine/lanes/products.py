"""The one matrix product of the lanes engine, register-tiled over explicit SIMD vectors.

A dense layer needs three products per step: the forward ``A W``, the weight gradient
``A^T D`` and the input gradient ``D W^T``. All three are ``lane_product`` with other
strides. Each output element is one chain of ``vfma`` over the inner index in ascending
order, starting from zero: the fixed summation order that makes a lane's bits independent of
the machine and of the group width.

Speed: an fma chain cannot be split (that would reorder the sum), so its 4-5 cycle latency is
hidden by computing a tile of 2 x 4 independent outputs at once: per inner step 6 vector loads
feed 8 vector fmas, and the 8 accumulators stay in registers (16 on AVX2 with W = one
register, 32 with AVX-512). Edges fall back to 2 x 1, 1 x 4 and 1 x 1 tiles. One model alone
runs the same tiles with its vectors over output columns.
"""

from __future__ import annotations

from numba import njit

from nbae.engine.lanes.math import _JIT
from nbae.engine.lanes.simd import register_lanes, vbroadcast, vfma, vload, vstore, vzero


@njit(**_JIT)
def lane_product(X, xo, xr, xt, Y, yo, yt, yc, O, oo, o_r, o_c, R, C, T, lanes):
    """O[r, c] = sum over t = 0..T-1 (ascending, fma chain from 0) of X[r, t] * Y[t, c].

    X, Y, O : flat lane-innermost arrays (O may be X's array only if the regions differ)
    xo, yo, oo : element offsets of X[0, 0], Y[0, 0], O[0, 0]
    xr, xt : element strides of X along r and t (multiples of W)
    yt, yc : element strides of Y along t and c
    o_r, o_c : element strides of O along r and c
    R, C, T : rows, columns and inner length
    lanes : tuple whose length W is the vector width (compile-time constant)
    """
    if len(lanes) == 1 and yc == 1 and o_c == 1:
        # one model alone: the columns of a row-major product are contiguous, so the vectors
        # run over V output columns instead of lanes (X[r, t] broadcast) -- the same fma chain
        # per output element, hence the same bits; the last C % V columns one by one
        cols = register_lanes(O)
        V = len(cols)
        Cv = C - C % V
        _tiles(X, xo, xr, xt, Y, yo, yt, V, O, oo, o_r, V, R, Cv // V, T, cols, True)
        _tiles(X, xo, xr, xt, Y, yo + Cv, yt, 1, O, oo + Cv, o_r, 1, R, C - Cv, T, lanes, False)
    else:
        _tiles(X, xo, xr, xt, Y, yo, yt, yc, O, oo, o_r, o_c, R, C, T, lanes, False)


@njit(inline="always")
def _xload(X, off, lanes, bcast):
    """X's operand vector: W lanes from ``X[off:]``, or the one element ``X[off]`` broadcast."""
    return vbroadcast(X, off, lanes) if bcast else vload(X, off, lanes)


@njit(**_JIT)
def _tiles(X, xo, xr, xt, Y, yo, yt, yc, O, oo, o_r, o_c, R, C, T, lanes, bcast):
    """The tiled product of ``lane_product`` (arguments as there; ``bcast``: X is broadcast)."""
    r = 0
    while r + 2 <= R:
        x0 = xo + r * xr
        x1 = x0 + xr
        c = 0
        while c + 4 <= C:
            y = yo + c * yc
            a00 = vzero(O, lanes)
            a01 = vzero(O, lanes)
            a02 = vzero(O, lanes)
            a03 = vzero(O, lanes)
            a10 = vzero(O, lanes)
            a11 = vzero(O, lanes)
            a12 = vzero(O, lanes)
            a13 = vzero(O, lanes)
            for t in range(T):
                u0 = _xload(X, x0 + t * xt, lanes, bcast)
                u1 = _xload(X, x1 + t * xt, lanes, bcast)
                yy = y + t * yt
                v = vload(Y, yy, lanes)
                a00 = vfma(u0, v, a00)
                a10 = vfma(u1, v, a10)
                v = vload(Y, yy + yc, lanes)
                a01 = vfma(u0, v, a01)
                a11 = vfma(u1, v, a11)
                v = vload(Y, yy + 2 * yc, lanes)
                a02 = vfma(u0, v, a02)
                a12 = vfma(u1, v, a12)
                v = vload(Y, yy + 3 * yc, lanes)
                a03 = vfma(u0, v, a03)
                a13 = vfma(u1, v, a13)
            o = oo + r * o_r + c * o_c
            vstore(O, o, a00)
            vstore(O, o + o_c, a01)
            vstore(O, o + 2 * o_c, a02)
            vstore(O, o + 3 * o_c, a03)
            vstore(O, o + o_r, a10)
            vstore(O, o + o_r + o_c, a11)
            vstore(O, o + o_r + 2 * o_c, a12)
            vstore(O, o + o_r + 3 * o_c, a13)
            c += 4
        while c < C:
            y = yo + c * yc
            a00 = vzero(O, lanes)
            a10 = vzero(O, lanes)
            for t in range(T):
                v = vload(Y, y + t * yt, lanes)
                a00 = vfma(_xload(X, x0 + t * xt, lanes, bcast), v, a00)
                a10 = vfma(_xload(X, x1 + t * xt, lanes, bcast), v, a10)
            o = oo + r * o_r + c * o_c
            vstore(O, o, a00)
            vstore(O, o + o_r, a10)
            c += 1
        r += 2
    if r < R:
        x0 = xo + r * xr
        c = 0
        while c + 4 <= C:
            y = yo + c * yc
            a00 = vzero(O, lanes)
            a01 = vzero(O, lanes)
            a02 = vzero(O, lanes)
            a03 = vzero(O, lanes)
            for t in range(T):
                u0 = _xload(X, x0 + t * xt, lanes, bcast)
                yy = y + t * yt
                a00 = vfma(u0, vload(Y, yy, lanes), a00)
                a01 = vfma(u0, vload(Y, yy + yc, lanes), a01)
                a02 = vfma(u0, vload(Y, yy + 2 * yc, lanes), a02)
                a03 = vfma(u0, vload(Y, yy + 3 * yc, lanes), a03)
            o = oo + r * o_r + c * o_c
            vstore(O, o, a00)
            vstore(O, o + o_c, a01)
            vstore(O, o + 2 * o_c, a02)
            vstore(O, o + 3 * o_c, a03)
            c += 4
        while c < C:
            y = yo + c * yc
            a00 = vzero(O, lanes)
            for t in range(T):
                a00 = vfma(_xload(X, x0 + t * xt, lanes, bcast), vload(Y, y + t * yt, lanes),
                           a00)
            vstore(O, oo + r * o_r + c * o_c, a00)
            c += 1

