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
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.lanes.kernels import (
    activation_backward_lanes,
    optimizer_constants,
    update_rows,
)
from nbae.engine.lanes.math import _JIT, lane_scratch
from nbae.engine.lanes.products import column_product, transposed_product
from nbae.engine.lanes.simd import register_lanes, vadd, vload, vstore, vzero

_BLOCK = 4096  # gradient elements per update block: 16 KB of float32, half of L1


@njit(**_JIT)
def backward_update_one(theta, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2,
                        B, opt, hp, t):
    """Backpropagate dL/dA_L (in ``d1``) and update every parameter of one model.

    theta, s1, s2 : flat parameters and optimizer state (s2: Adam's v)
    sizes, w_off, b_off, a_off, acts, slope : the network layout (``lanes.kernels``, W = 1)
    buf : the batch's activations from the forward pass; d1, d2 : backprop ping-pong
    B : rows in the batch; opt : SGD / ADAGRAD / ADAM; hp : (HP_SIZE, 1) hyperparameters
    t : optimizer step, 1-based
    """
    reg = register_lanes(theta)
    one = (0,)
    cv = optimizer_constants(lane_scratch(reg, theta), hp, t, reg)
    c1 = optimizer_constants(lane_scratch(one, theta), hp, t, one)
    width = 0
    for l in range(acts.size):
        width = max(width, sizes[l + 1])
    g = np.empty(max(_BLOCK, width), dtype=theta.dtype)
    cur = d1
    nxt = d2
    for l in range(acts.size - 1, -1, -1):
        fi = sizes[l]
        fo = sizes[l + 1]
        activation_backward_lanes(buf, a_off[l + 1], cur, B, fo, acts[l], slope, one)
        if l > 0:  # dA = D W^T before W changes
            transposed_product(cur, 0, fo, 1, theta, w_off[l], fo, nxt, 0, fi, B, fi, fo)
        _bias_gradient(cur, B, fo, g, reg)
        b = b_off[l]
        _update(theta[b:b + fo], g[:fo], s1[b:b + fo], s2[b:b + fo], opt, cv, c1, t, reg)
        rows = max(1, _BLOCK // fo)
        for i in range(0, fi, rows):
            r = min(rows, fi - i)
            # gW[i:i + r] = A[:, i:i + r]^T D: X[r', t'] = A[t', i + r'], summed over the batch
            column_product(buf, a_off[l] + i, 1, fi, cur, 0, fo, g, 0, fo, r, fo, B, 0, fo)
            w = w_off[l] + i * fo
            n = r * fo
            _update(theta[w:w + n], g[:n], s1[w:w + n], s2[w:w + n], opt, cv, c1, t, reg)
        tmp = cur
        cur = nxt
        nxt = tmp


@njit(inline="always")
def _update(theta, grad, s1, s2, opt, cv, c1, t, reg):
    """update_rows over a contiguous run: register vectors, then the last elements singly."""
    n = theta.size - theta.size % len(reg)
    update_rows(theta[:n], grad[:n], s1[:n], s2[:n], opt, cv, t, reg)
    update_rows(theta[n:], grad[n:], s1[n:], s2[n:], opt, c1, t, (0,))


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
        acc = vzero(g, (0,))
        for b in range(B):
            acc = vadd(acc, vload(d, b * fo + j, (0,)))
        vstore(g, j, acc)
