"""The matrix products of the lanes engine, register-tiled over explicit SIMD vectors.

A dense layer needs three products per step: the forward ``A W``, the weight gradient
``A^T D`` and the input gradient ``D W^T``. All three are ``lane_product`` with other
strides. Each output element is one chain of ``vfma`` over the inner index in ascending
order, starting from zero: the fixed summation order that makes a lane's bits independent of
the machine and of the group width.

Groups (W lanes): an fma chain cannot be split (that would reorder the sum), so its 4-5
cycle latency is hidden by computing a tile of 2 x 4 independent outputs at once: per inner
step 6 vector loads feed 8 vector fmas, and the 8 accumulators stay in registers (16 on AVX2
with W = one register, 32 with AVX-512). Edges fall back to 2 x 1, 1 x 4 and 1 x 1 tiles.

One model alone (W = 1) has no lanes to fill: ``column_product`` runs its vectors over V =
one register of output columns, the X operand broadcast, in 4-row x 3-vector tiles (12
accumulators; 4 broadcasts and 3 loads feed 12 fmas), with Y's rows in blocks packed strip
by strip (see there). A product whose Y has a contiguous *inner* index (D W^T) is computed
transposed (``transposed_product``): vectors over the batch. fma's two factors commute
exactly, so every output is the same chain as in a group: the same bits.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.lanes.math import _JIT
from nbae.engine.lanes.simd import (
    ONE,
    register_lanes,
    unlit,
    vbroadcast,
    vfma,
    vload,
    vstore,
    vzero,
)

# rows of Y per block of column_product (see there)
_TB = 64
# multiply-adds from which transposed_product beats scalar fma chains (its two scratch
# arrays cost more than a font layer's products)
_TRANSPOSE_MIN = 1 << 14


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
    if len(lanes) == 1 and o_c == 1 and yc == 1:
        column_product(X, unlit(xo), unlit(xr), unlit(xt), Y, unlit(yo), unlit(yt), O,
                       unlit(oo), unlit(o_r), R, C, T, unlit(0), C, unlit(_TB))
    elif len(lanes) == 1 and o_c == 1 and yt == 1 and R * C * T >= _TRANSPOSE_MIN:
        transposed_product(X, unlit(xo), unlit(xr), unlit(xt), Y, unlit(yo), unlit(yc), O,
                           unlit(oo), unlit(o_r), R, C, T)
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


@njit(**_JIT)
def column_product(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, c0, c1, TB):
    """O[r, c] = sum over t ascending (fma chain from 0) of X[r, t] * Y[t, c], for the
    columns c0 <= c < c1 (all rows); Y's and O's columns are contiguous.

    X, Y, O : flat arrays of one dtype (O must not overlap X or Y)
    xo, yo, oo : element offsets of X[0, 0], Y[0, 0], O[0, 0]
    xr, xt : element strides of X along r and t
    yt : element stride of Y along t; o_r : element stride of O along r
    R, C, T : rows, columns and inner length of the whole product
    c0, c1 : the column range to compute
    TB : rows of Y per block (T: no blocking; see the loop below)
    """
    cols = register_lanes(O)
    V = len(cols)
    n3 = (c1 - c0) // (3 * V)
    R4 = R - R % 4
    # Y's rows in blocks of TB, the tiles carrying their sums through O between blocks.
    # When several 4-row tiles share a block, it is first packed strip by strip (3 vectors
    # wide, contiguous rows), reading Y row after row, the order its memory lies in: read
    # strip by strip instead, rows a multiple of 2-4 KB apart (a row of W) fall into the
    # same few L1 sets and cross pages faster than the hardware prefetchers follow.
    pack = R4 >= 8 and yt != 3 * V
    S = 3 * V * TB  # elements per packed strip
    P = np.empty(S * n3, dtype=O.dtype) if pack else Y  # no allocation when unused
    for t0 in range(0, T, TB):
        tb = min(TB, T - t0)
        if pack:
            pack_strips(Y, yo + t0 * yt + c0, yt, tb, n3, P, S)
        for b in range(n3):
            c = c0 + b * 3 * V
            src, so, st = (P, b * S, 3 * V) if pack else (Y, yo + t0 * yt + c, yt)
            for r in range(0, R4, 4):
                _tile43(X, xo + r * xr + t0 * xt, xr, xt, src, so, st, O, oo + r * o_r + c,
                        o_r, tb, t0 > 0, cols)
    _edges(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, c0, c1)


@njit(inline="always")
def pack_strips(Y, y0, yt, T, n3, P, S):
    """Copy T rows of Y (row t at ``y0 + t * yt``) strip by strip into P: ``n3`` strips of
    3 vectors of columns, strip b at ``P[b * S:]``, its T rows contiguous."""
    cols = register_lanes(P)
    V = len(cols)
    for t in range(T):
        y = y0 + t * yt
        p = t * 3 * V
        for _ in range(n3):
            vstore(P, p, vload(Y, y, cols))
            vstore(P, p + V, vload(Y, y + V, cols))
            vstore(P, p + 2 * V, vload(Y, y + 2 * V, cols))
            y += 3 * V
            p += S


@njit(**_JIT)
def packed_product(X, xo, xr, xt, P, S, Y, yo, yt, O, oo, o_r, R, C, T):
    """``column_product`` of all C columns, one block (TB = T), with Y's full strips already
    packed into P (``pack_strips``, strip stride S): the weight gradient packs dL/dZ once per
    layer for all its blocks of rows. The same fma chains, the same bits."""
    cols = register_lanes(O)
    V = len(cols)
    n3 = C // (3 * V)
    R4 = R - R % 4
    for b in range(n3):
        for r in range(0, R4, 4):
            _tile43(X, xo + r * xr, xr, xt, P, b * S, 3 * V, O, oo + r * o_r + b * 3 * V, o_r,
                    T, False, cols)
    _edges(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, unlit(0), C)


@njit(inline="always")
def _edges(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, c0, c1):
    """column_product's edges: the rows below the last 4-row block, the last 1-2 vectors, the
    last C % V columns."""
    cols = register_lanes(O)
    V = len(cols)
    n3 = (c1 - c0) // (3 * V)
    cv = c0 + n3 * 3 * V
    nv = (c1 - cv) // V
    ce = cv + nv * V
    R4 = R - R % 4
    if R4 < R and n3 > 0:
        _tiles(X, xo + R4 * xr, xr, xt, Y, yo + c0, yt, V, O, oo + R4 * o_r + c0, o_r, V,
              R - R4, 3 * n3, T, cols, True)
    if nv > 0:
        _tiles(X, xo, xr, xt, Y, yo + cv, yt, V, O, oo + cv, o_r, V, R, nv, T, cols, True)
    if ce < c1:
        _tiles(X, xo, xr, xt, Y, yo + ce, yt, unlit(1), O, oo + ce, o_r, unlit(1), R, c1 - ce, T,
               unlit(ONE), False)


@njit(inline="always")
def _start(O, off, carry, cols):
    """An accumulator's start: the partial sum stored at ``O[off:]``, or zero."""
    return vload(O, off, cols) if carry else vzero(O, cols)


@njit(**_JIT)
def _tile43(X, x, xr, xt, Y, y, yt, O, o, o_r, T, carry, cols):
    """One 4-row x 3-vector tile of ``column_product`` over T inner steps at X row offset
    ``x``, Y column offset ``y`` and O offset ``o``; with ``carry`` the sums go on from the
    partial sums in O (a stored float is exact: the same chain), else from zero."""
    V = len(cols)
    o1 = o + o_r
    o2 = o1 + o_r
    o3 = o2 + o_r
    a00 = _start(O, o, carry, cols)
    a01 = _start(O, o + V, carry, cols)
    a02 = _start(O, o + 2 * V, carry, cols)
    a10 = _start(O, o1, carry, cols)
    a11 = _start(O, o1 + V, carry, cols)
    a12 = _start(O, o1 + 2 * V, carry, cols)
    a20 = _start(O, o2, carry, cols)
    a21 = _start(O, o2 + V, carry, cols)
    a22 = _start(O, o2 + 2 * V, carry, cols)
    a30 = _start(O, o3, carry, cols)
    a31 = _start(O, o3 + V, carry, cols)
    a32 = _start(O, o3 + 2 * V, carry, cols)
    # running offsets, not t * stride: the index products and their spilled operands
    # otherwise cost as many instructions as the 12 fmas
    x1 = x + xr
    x2 = x1 + xr
    x3 = x2 + xr
    for _ in range(T):
        v0 = vload(Y, y, cols)
        v1 = vload(Y, y + V, cols)
        v2 = vload(Y, y + 2 * V, cols)
        u = vbroadcast(X, x, cols)
        a00 = vfma(u, v0, a00)
        a01 = vfma(u, v1, a01)
        a02 = vfma(u, v2, a02)
        u = vbroadcast(X, x1, cols)
        a10 = vfma(u, v0, a10)
        a11 = vfma(u, v1, a11)
        a12 = vfma(u, v2, a12)
        u = vbroadcast(X, x2, cols)
        a20 = vfma(u, v0, a20)
        a21 = vfma(u, v1, a21)
        a22 = vfma(u, v2, a22)
        u = vbroadcast(X, x3, cols)
        a30 = vfma(u, v0, a30)
        a31 = vfma(u, v1, a31)
        a32 = vfma(u, v2, a32)
        x += xt
        x1 += xt
        x2 += xt
        x3 += xt
        y += yt
    vstore(O, o, a00)
    vstore(O, o + V, a01)
    vstore(O, o + 2 * V, a02)
    vstore(O, o1, a10)
    vstore(O, o1 + V, a11)
    vstore(O, o1 + 2 * V, a12)
    vstore(O, o2, a20)
    vstore(O, o2 + V, a21)
    vstore(O, o2 + 2 * V, a22)
    vstore(O, o3, a30)
    vstore(O, o3 + V, a31)
    vstore(O, o3 + 2 * V, a32)


@njit(**_JIT)
def transposed_product(X, xo, xr, xt, Y, yo, yc, O, oo, o_r, R, C, T):
    """``lane_product`` for one model whose Y has a contiguous inner index (Y[t, c] at
    ``yo + t + c * yc``; D W^T) and O contiguous columns: O^T = Y^T X^T by
    ``column_product``, its vectors over O's rows (padded to whole vectors in a scratch
    X^T), Y^T's rows broadcast. Each O[r, c] is the same fma chain over t ascending."""
    XT, Rp = pack_transposed(X, xo, xr, xt, R, T, O)
    OT = np.empty(C * Rp, dtype=O.dtype)
    z = unlit(0)
    column_product(Y, yo, yc, unlit(1), XT, z, Rp, OT, z, Rp, C, Rp, T, z, Rp, T)
    unpack_transposed(OT, Rp, O, oo, o_r, R, C)


@njit(inline="always")
def pack_transposed(X, xo, xr, xt, R, T, O):
    """(X^T with rows padded to Rp = whole vectors of O's dtype, Rp); padding stays zero."""
    V = len(register_lanes(O))
    Rp = -(-R // V) * V
    XT = np.zeros(T * Rp, dtype=O.dtype)
    for r in range(R):
        for t in range(T):
            XT[t * Rp + r] = X[xo + r * xr + t * xt]
    return XT, Rp


@njit(inline="always")
def unpack_transposed(OT, Rp, O, oo, o_r, R, C):
    """O[r, c] = OT[c, r] for the R real rows."""
    for r in range(R):
        for c in range(C):
            O[oo + r * o_r + c] = OT[c * Rp + r]
