"""The one matrix product of the lanes engine, register-tiled over explicit SIMD vectors.

A dense layer needs three products per step: the forward ``A W``, the weight gradient
``A^T D`` and the input gradient ``D W^T``. All three are ``lane_product`` with other
strides. Each output element is one chain of ``vfma`` over the inner index in ascending
order, starting from zero: the fixed summation order that makes a lane's bits independent of
the machine and of the group width.

Speed: an fma chain cannot be split (that would reorder the sum), so its 4-5 cycle latency is
hidden by computing a tile of 2 x 4 independent outputs at once: per inner step 6 vector loads
feed 8 vector fmas, and the 8 accumulators stay in registers (16 on AVX2 with W = one
register, 32 with AVX-512). Edges fall back to 2 x 1, 1 x 4 and 1 x 1 tiles.
"""

from __future__ import annotations

from numba import njit

from nbae.engine.lanes.math import _JIT
from nbae.engine.lanes.simd import register_lanes, vbroadcast, vfma, vload, vstore, vzero

# one model alone (W = 1): the columns of a row-major product are contiguous, so the vector
# runs over output columns instead of lanes -- the same fma chain per output element, hence
# the same bits, at vector speed


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
    if len(lanes) == 1 and yc == 1 and o_c == 1:  # one model: vectors over columns
        column_product(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, register_lanes(O))
        return
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
                u0 = vload(X, x0 + t * xt, lanes)
                u1 = vload(X, x1 + t * xt, lanes)
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
                a00 = vfma(vload(X, x0 + t * xt, lanes), v, a00)
                a10 = vfma(vload(X, x1 + t * xt, lanes), v, a10)
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
                u0 = vload(X, x0 + t * xt, lanes)
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
                a00 = vfma(vload(X, x0 + t * xt, lanes), vload(Y, y + t * yt, lanes), a00)
            vstore(O, oo + r * o_r + c * o_c, a00)
            c += 1


@njit(**_JIT)
def column_product(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, cols):
    """``lane_product`` of one model whose Y and O columns are contiguous (yc = o_c = 1).

    Vectors of V = len(cols) consecutive columns; X[r, t] is broadcast. Tiles: 2 rows x 4V
    columns, then 2 x V, then single columns (and the same with one row for odd R); each
    output is still one fma chain over t = 0..T-1 from 0.
    """
    V = len(cols)
    r = 0
    while r < R:
        two = r + 1 < R
        x0 = xo + r * xr
        x1 = x0 + xr if two else x0  # an odd last row recomputes row r (not stored)
        o0 = oo + r * o_r
        c = 0
        while c + 4 * V <= C:
            a0 = vzero(O, cols)
            a1 = vzero(O, cols)
            a2 = vzero(O, cols)
            a3 = vzero(O, cols)
            b0 = vzero(O, cols)
            b1 = vzero(O, cols)
            b2 = vzero(O, cols)
            b3 = vzero(O, cols)
            for t in range(T):
                u0 = vbroadcast(X, x0 + t * xt, cols)
                u1 = vbroadcast(X, x1 + t * xt, cols)
                y = yo + t * yt + c
                v = vload(Y, y, cols)
                a0 = vfma(u0, v, a0)
                b0 = vfma(u1, v, b0)
                v = vload(Y, y + V, cols)
                a1 = vfma(u0, v, a1)
                b1 = vfma(u1, v, b1)
                v = vload(Y, y + 2 * V, cols)
                a2 = vfma(u0, v, a2)
                b2 = vfma(u1, v, b2)
                v = vload(Y, y + 3 * V, cols)
                a3 = vfma(u0, v, a3)
                b3 = vfma(u1, v, b3)
            vstore(O, o0 + c, a0)
            vstore(O, o0 + c + V, a1)
            vstore(O, o0 + c + 2 * V, a2)
            vstore(O, o0 + c + 3 * V, a3)
            if two:
                vstore(O, o0 + o_r + c, b0)
                vstore(O, o0 + o_r + c + V, b1)
                vstore(O, o0 + o_r + c + 2 * V, b2)
                vstore(O, o0 + o_r + c + 3 * V, b3)
            c += 4 * V
        while c + V <= C:
            a0 = vzero(O, cols)
            b0 = vzero(O, cols)
            for t in range(T):
                v = vload(Y, yo + t * yt + c, cols)
                a0 = vfma(vbroadcast(X, x0 + t * xt, cols), v, a0)
                b0 = vfma(vbroadcast(X, x1 + t * xt, cols), v, b0)
            vstore(O, o0 + c, a0)
            if two:
                vstore(O, o0 + o_r + c, b0)
            c += V
        one = (0,)
        while c < C:
            a0 = vzero(O, one)
            b0 = vzero(O, one)
            for t in range(T):
                v = vload(Y, yo + t * yt + c, one)
                a0 = vfma(vload(X, x0 + t * xt, one), v, a0)
                b0 = vfma(vload(X, x1 + t * xt, one), v, b0)
            vstore(O, o0 + c, a0)
            if two:
                vstore(O, o0 + o_r + c, b0)
            c += 1
        r += 2
