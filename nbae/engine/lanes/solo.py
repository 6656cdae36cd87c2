"""One model alone (W = 1): backpropagation fused with the parameter update, layer by layer.

A group of models runs ``backward_lanes`` (every gradient into ``grad``) and then
``optimizer_lanes`` (one pass over all parameters). For one large model (the flower net's 1.3 M
float32 parameters: 5.4 MB per array) that order streams the parameters through memory three
times a step and writes and re-reads a whole gradient array, while a layer's gradient is
final as soon as its backward step has run. Here each layer is updated right after its own
backward step, a block of rows at a time, while the block's gradient is still in L1:

1. dL/dZ of the layer (the activation's derivative);
2. dL/dA of the layer below, ``D W^T``, with the weights not yet updated;
3. the bias gradient and its update;
4. per block of weight rows: the gradient ``A^T D`` into a small scratch, then the update.

Layer l - 1 needs only A (from the forward pass), W_{l-1} and dL/dA_l (step 2), none of which
step 4 changes, so every parameter receives exactly the gradient and the operations of the
unfused order: the same bits (asserted in tests/test_lanes.py).

``forward_one`` is the matching forward pass. With ``parts`` > 1 the large layers (batch x
fan-in x fan-out >= ``_SPLIT``) run their products and update blocks on that many threads
(Numba ``prange`` over column, row or block ranges): each number is still computed once, by
the same operations, so the bits do not depend on the thread count either. Small models
(the font nets) do not come here: ``lanes.train`` keeps the two-pass order for them.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from nbae.engine.lanes.kernels import (
    activate_lanes,
    activation_backward_lanes,
    optimizer_constants,
    update_rows,
)
from nbae.engine.lanes.math import _JIT, lane_scratch
from nbae.engine.lanes.products import (
    _TB,
    column_product,
    pack_strips,
    pack_transposed,
    packed_product,
    transposed_product,
    unpack_transposed,
)
from nbae.engine.lanes.simd import (
    ONE,
    register_lanes,
    unlit,
    vadd,
    vload,
    vmul,
    vstore,
    vzero,
)

_BLOCK = 4096  # gradient elements per update block: 16 KB of float32, half of L1
# multiply-adds of a layer below which it stays on one thread: a parallel region costs a few
# microseconds, a product of 2^18 multiply-adds takes ~5 us at 50 GFLOP/s
_SPLIT = 1 << 18
# parameters from which the per-epoch passes (inf/NaN check, best-weights copy) are split too:
# on the flower net they are 16 MB of memory traffic an epoch, ~10 % of two threads' epoch
_PASS_SPLIT = 1 << 16
_PAR = dict(_JIT, parallel=True)


@njit(**_JIT)
def forward_one(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts):
    """``forward_lanes`` for one model (W = 1); ``parts`` > 1 splits each large product's
    columns over that many threads (the same bits: each output is computed once, alike)."""
    i0 = unlit(0)
    i1 = unlit(1)
    for l in range(acts.size):
        fi = sizes[l]
        fo = sizes[l + 1]
        ao = a_off[l]
        oo = a_off[l + 1]
        if parts > 1 and B * fi * fo >= _SPLIT:
            _columns_split(buf, ao, fi, i1, theta, w_off[l], fo, buf, oo, fo, B, fo, fi, parts)
        else:
            column_product(buf, ao, fi, i1, theta, w_off[l], fo, buf, oo, fo, B, fo, fi, i0, fo,
                           unlit(_TB))
        b = b_off[l]
        for i in range(B):
            for j in range(fo):
                buf[oo + i * fo + j] += theta[b + j]
        activate_lanes(buf, oo, B, fo, acts[l], slope, unlit(ONE))


@njit(**_PAR)
def _columns_split(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, parts):
    """column_product with its 3-vector column blocks split into ``parts`` ranges."""
    V3 = 3 * len(register_lanes(O))
    nb = -(-C // V3)
    for p in prange(parts):
        c0 = min(C, nb * p // parts * V3)
        c1 = min(C, nb * (p + 1) // parts * V3)
        column_product(X, xo, xr, xt, Y, yo, yt, O, oo, o_r, R, C, T, c0, c1, unlit(_TB))


@njit(**_PAR)
def _transposed_split(X, xo, xr, xt, Y, yo, yc, O, oo, o_r, R, C, T, parts):
    """transposed_product with the rows of O^T (O's columns) in ``parts`` ranges of 4."""
    XT, Rp = pack_transposed(X, xo, xr, xt, R, T, O)
    OT = np.empty(C * Rp, dtype=O.dtype)
    n4 = -(-C // 4)
    for p in prange(parts):
        r0 = min(C, n4 * p // parts * 4)
        r1 = min(C, n4 * (p + 1) // parts * 4)
        z = unlit(0)
        column_product(Y, yo + r0 * yc, yc, unlit(1), XT, z, Rp, OT, r0 * Rp, Rp, r1 - r0, Rp,
                       T, z, Rp, T)
    unpack_transposed(OT, Rp, O, oo, o_r, R, C)


@njit(**_JIT)
def backward_update_one(theta, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2,
                        B, opt, hp, t, parts):
    """Backpropagate dL/dA_L (in ``d1``) and update every parameter of one model.

    theta, s1, s2 : flat parameters and optimizer state (s2: Adam's v)
    sizes, w_off, b_off, a_off, acts, slope : the network layout (``lanes.kernels``, W = 1)
    buf : the batch's activations from the forward pass; d1, d2 : backprop ping-pong
    B : rows in the batch; opt : SGD / ADAGRAD / ADAM; hp : (HP_SIZE, 1) hyperparameters
    t : optimizer step, 1-based
    parts : threads for the large layers (1: this thread only); the bits do not depend on it
    """
    reg = register_lanes(theta)
    one = unlit(ONE)
    i0 = unlit(0)
    i1 = unlit(1)
    cv = optimizer_constants(hp, t, reg, theta)
    c1 = optimizer_constants(hp, t, one, theta)
    width = 0
    narrow = sizes[1]
    for l in range(acts.size):
        width = max(width, sizes[l + 1])
        narrow = min(narrow, sizes[l + 1])
    g = np.empty(max(_BLOCK, width), dtype=theta.dtype)
    xp = np.empty(B * max(1, _BLOCK // narrow), dtype=theta.dtype)  # a block of A^T, packed
    dp = np.empty(B * width, dtype=theta.dtype)  # a layer's dL/dZ, packed strip by strip
    cur = d1
    nxt = d2
    for l in range(acts.size - 1, -1, -1):
        fi = sizes[l]
        fo = sizes[l + 1]
        activation_backward_lanes(buf, a_off[l + 1], cur, B, fo, acts[l], slope, one)
        split = parts > 1 and B * fi * fo >= _SPLIT
        if l > 0 and split:  # dA = D W^T before W changes
            _transposed_split(cur, i0, fo, i1, theta, w_off[l], fo, nxt, i0, fi, B, fi, fo,
                              parts)
        elif l > 0:
            transposed_product(cur, i0, fo, i1, theta, w_off[l], fo, nxt, i0, fi, B, fi, fo)
        _bias_gradient(cur, B, fo, g, reg)
        b = b_off[l]
        _update(theta[b:b + fo], g[:fo], s1[b:b + fo], s2[b:b + fo], opt, cv, c1, t, reg)
        rows = max(1, _BLOCK // fo)
        blocks = -(-fi // rows)
        # dL/dZ strip by strip, once for all blocks: its rows lie fo apart, 2-4 KB for the
        # flower net, and fell into the same few L1 sets (gradient products at 26-33 GFLOP/s)
        n3 = fo // (3 * len(reg))
        S = 3 * len(reg) * B
        pack_strips(cur, i0, fo, B, n3, dp, S)
        if split:
            _weights_split(theta, s1, s2, buf, a_off[l], fi, cur, dp, S, fo, B, w_off[l], rows,
                           blocks, opt, cv, c1, t, parts)
        else:
            _update_weights(theta, s1, s2, buf, a_off[l], fi, cur, dp, S, fo, B, w_off[l],
                            rows, 0, blocks, g, xp, opt, cv, c1, t)
        tmp = cur
        cur = nxt
        nxt = tmp


@njit(inline="always")
def _update_weights(theta, s1, s2, buf, ao, fi, d, dp, S, fo, B, wo, rows, k0, k1, g, xp, opt,
                    cv, c1, t):
    """Gradient and update of the weight row blocks k0 .. k1-1 (``rows`` rows each) of the
    layer whose input A is at ``buf[ao:]`` (B x fi), dL/dZ ``d`` (B x fo; its strips packed
    in ``dp``, stride S), W at ``wo``; ``g`` and ``xp`` are scratch."""
    reg = register_lanes(theta)
    for k in range(k0, k1):
        i = k * rows
        r = min(rows, fi - i)
        weight_gradient_block(buf, ao, fi, i, r, d, dp, S, fo, B, xp, g, unlit(0))
        w = wo + i * fo
        n = r * fo
        _update(theta[w:w + n], g[:n], s1[w:w + n], s2[w:w + n], opt, cv, c1, t, reg)


@njit(inline="always")
def weight_gradient_block(buf, ao, fi, i, r, d, dp, S, fo, B, xp, O, oo):
    """O[oo:] (r x fo) = A[:, i:i + r]^T D: rows i .. i+r-1 of a layer's weight gradient, for
    A (B x fi) at ``buf[ao:]`` and dL/dZ ``d`` (B x fo; its strips packed in ``dp``, stride S);
    ``xp`` is scratch of at least B * r."""
    # X[r', t'] = A[t', i + r'], summed over the batch. A's rows lie fi apart: the block's
    # columns are packed first (the same L1 sets otherwise), xp[t' * r + r'] = A[t', i + r']
    for tt in range(B):
        for q in range(r):
            xp[tt * r + q] = buf[ao + tt * fi + i + q]
    z = unlit(0)
    packed_product(xp, z, unlit(1), r, dp, S, d, z, fo, O, oo, fo, r, fo, B)


@njit(**_PAR)
def _weights_split(theta, s1, s2, buf, ao, fi, d, dp, S, fo, B, wo, rows, blocks, opt, cv, c1,
                   t, parts):
    """_update_weights over ``blocks`` row blocks split into ``parts`` ranges, each with
    its own scratch."""
    for p in prange(parts):
        g = np.empty(rows * fo, dtype=theta.dtype)
        xp = np.empty(rows * B, dtype=theta.dtype)
        _update_weights(theta, s1, s2, buf, ao, fi, d, dp, S, fo, B, wo, rows,
                        blocks * p // parts, blocks * (p + 1) // parts, g, xp, opt, cv, c1, t)


@njit(inline="always")
def _update(theta, grad, s1, s2, opt, cv, c1, t, reg):
    """update_rows over a contiguous run: register vectors, then the last elements singly."""
    n = theta.size - theta.size % len(reg)
    update_rows(theta[:n], grad[:n], s1[:n], s2[:n], opt, cv, t, reg)
    update_rows(theta[n:], grad[n:], s1[n:], s2[n:], opt, c1, t, unlit(ONE))


@njit(inline="always")
def _bias_gradient(d, B, fo, g, reg):
    """g[j] = sum over b ascending (adds from zero) of d[b, j], vectors over j."""
    V = len(reg)
    jv = fo - fo % V
    for j in range(0, jv, V):
        acc = vzero(g, reg)
        for b in range(B):
            acc = vadd(acc, vload(d, b * fo + j, reg))
        vstore(g, j, acc)
    for j in range(jv, fo):
        acc = vzero(g, unlit(ONE))
        for b in range(B):
            acc = vadd(acc, vload(d, b * fo + j, unlit(ONE)))
        vstore(g, j, acc)


@njit(**_JIT)
def nonfinite_one(theta, chk, parts):
    """chk[0] = NaN if ``theta`` holds an inf or NaN, else 0 (sums of x * 0, which is NaN
    exactly for non-finite x); on ``parts`` threads for a large model."""
    if parts > 1 and theta.size >= _PASS_SPLIT:
        part = np.empty(parts, dtype=theta.dtype)
        _nonfinite_split(theta, part, parts)
        chk[0] = 0.0
        for p in range(parts):
            chk[0] += part[p]
    else:
        chk[0] = _nonfinite_sum(theta, 0, theta.size)


@njit(**_PAR)
def _nonfinite_split(theta, part, parts):
    for p in prange(parts):
        part[p] = _nonfinite_sum(theta, _cut(theta.size, p, parts), _cut(theta.size, p + 1, parts))


@njit(**_JIT)
def copy_one(dst, src, parts):
    """dst[:] = src (the best-weights snapshot), on ``parts`` threads for a large model."""
    if parts > 1 and src.size >= _PASS_SPLIT:
        _copy_split(dst, src, parts)
    else:
        dst[:] = src


@njit(**_PAR)
def _copy_split(dst, src, parts):
    for p in prange(parts):
        i0 = _cut(src.size, p, parts)
        i1 = _cut(src.size, p + 1, parts)
        dst[i0:i1] = src[i0:i1]


@njit(inline="always")
def _cut(n, p, parts):
    """Start of part ``p`` of ``n`` elements in ``parts`` pieces, on a 64-element boundary."""
    return n if p == parts else min(n, (n // 64 * p // parts) * 64)


@njit(inline="always")
def _nonfinite_sum(theta, i0, i1):
    """Sum of theta[i] * 0 over i0 <= i < i1, in register vectors, then the rest singly."""
    reg = register_lanes(theta)
    V = len(reg)
    zero = vzero(theta, reg)
    acc = zero
    n = i0 + (i1 - i0) // V * V
    for i in range(i0, n, V):
        acc = vadd(acc, vmul(vload(theta, i, reg), zero))
    part = lane_scratch(reg, theta)
    vstore(part, 0, acc)
    s = part[0]
    for k in range(1, V):
        s += part[k]
    for i in range(n, i1):
        s += theta[i] * 0.0
    return s
