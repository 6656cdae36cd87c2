"""Dropout for the layer chains of :mod:`nbae.engine.kernels` (training only, seeded in the loop).

Inverted dropout as ``torch.nn.Dropout``: during training each output unit of layer ``l`` is
kept with probability ``1 - p_l`` and scaled by ``1 / (1 - p_l)``; at inference nothing
changes, so ``predict`` needs no dropout code. Keep decisions are ``next_uniform(rng) >= p``
on the model's splitmix64 stream, row by row, layer by layer in forward order.

Layout: a chain's activation ``H_{l+1} = f_l(Z_l)`` stays where :mod:`nbae.engine.kernels` keeps it
(``a_off[l + 1]``), because the activation's derivative is taken from it; the dropped copy
``A'_{l+1} = H_{l+1} * M_{l+1}`` that the next layer reads lives at ``do[0, l]`` and the mask
``M`` (0 or ``1 / (1 - p)``) at ``do[1, l]``, both in the same flat buffer. Layers with
``p_l = 0`` have neither and cost nothing extra.

These functions work for any chain (the autoencoder's too): ``forward_dropout`` replaces
``kernels.forward`` and ``backward_dropout`` replaces ``kernels.backward`` when some ``p_l > 0``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.kernels import activation_backward, forward, matmul_nt, next_uniform, view2d

_JIT = {"cache": True, "nogil": True}


@njit(**_JIT)
def forward_dropout(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, drop, do, tmp, rng):
    """Forward pass of a whole chain with dropout after layers whose ``drop[l] > 0``.

    theta, sizes, w_off, b_off, a_off, acts, slope, buf, B : as in ``kernels.forward``
    drop : (L,) float64 array / dropout probability of each layer's output (0: none)
    do : (2, L) int64 array / offsets in ``buf`` of the dropped copy (row 0) and of the mask
        (row 1) of each layer's output; unused where ``drop[l] == 0``
    tmp : (L + 1,) int64 array / scratch offsets (where each layer reads and writes)
    rng : (1,) uint64 array / splitmix64 state
    """
    L = acts.size
    src = a_off[0]
    for l in range(L):
        tmp[l] = src
        tmp[l + 1] = a_off[l + 1]
        forward(theta, sizes, w_off, b_off, tmp, acts, slope, buf, B, l, l + 1)
        p = drop[l]
        if p > 0.0:
            fo = sizes[l + 1]
            H = view2d(buf, a_off[l + 1], B, fo)
            Ad = view2d(buf, do[0, l], B, fo)
            M = view2d(buf, do[1, l], B, fo)
            scale = 1.0 / (1.0 - p)
            for i in range(B):
                for j in range(fo):
                    m = scale if next_uniform(rng) >= p else 0.0
                    M[i, j] = m
                    Ad[i, j] = H[i, j] * m
            src = do[0, l]
        else:
            src = a_off[l + 1]


@njit(**_JIT)
def backward_dropout(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B,
                     drop, do, dx, want_dx):
    """Backpropagate ``dL/dA_L`` (in ``d1``) through a chain run by :func:`forward_dropout`.

    Arguments as in ``kernels.backward`` and :func:`forward_dropout`, plus
    dx : (B, sizes[0]) array / receives dL/dA_0 when ``want_dx``
    want_dx : bool / whether the chain's input gradient is needed (a decoder's is)
    Weight gradients use each layer's actual (dropped) input; the gradient reaching a dropped
    output is multiplied by its mask before the activation's derivative.
    """
    L = acts.size
    cur = d1
    nxt = d2
    for l in range(L - 1, -1, -1):
        fi = sizes[l]
        fo = sizes[l + 1]
        D = view2d(cur, 0, B, fo)
        activation_backward(view2d(buf, a_off[l + 1], B, fo), D, acts[l], slope)
        dropped_in = l > 0 and drop[l - 1] > 0.0
        A = view2d(buf, do[0, l - 1] if dropped_in else a_off[l], B, fi)
        gW = view2d(grad, w_off[l], fi, fo)
        np.dot(A.T, D, gW)
        gb = grad[b_off[l]:b_off[l] + fo]
        gb[:] = 0.0
        for i in range(B):
            for j in range(fo):
                gb[j] += D[i, j]
        W = view2d(theta, w_off[l], fi, fo)
        if l > 0:
            Dp = view2d(nxt, 0, B, fi)
            matmul_nt(D, W, Dp)
            if dropped_in:
                M = view2d(buf, do[1, l - 1], B, fi)
                for i in range(B):
                    for j in range(fi):
                        Dp[i, j] *= M[i, j]
            t = cur
            cur = nxt
            nxt = t
        elif want_dx:
            matmul_nt(D, W, dx)
