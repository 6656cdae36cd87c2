"""Numba kernels that train a group of W same-shaped models in lockstep, one model per lane.

Layout
------
A group holds ``W`` models ("lanes"). Every per-model quantity has the lane index innermost:
parameter ``p`` of the single-model flat layout (``nbae.kernels``: ``W_l`` at ``w_off[l]``,
``b_l`` at ``b_off[l]``) of lane ``k`` sits at ``theta[p * W + k]``; activation ``(b, i)`` of
layer ``l`` sits at ``buf[a_off[l] + (b * sizes[l] + i) * W + k]`` (``a_off`` already counts
lanes). So each arithmetic step of the training loop is one vector operation over the lanes.

``W`` is a compile-time constant: it arrives as the length of the tuple ``lanes`` (e.g.
``(0,) * 8``), and each group width gets its own machine code (cached on disk). The heavy
kernels (the three products of ``lanes.products``, the optimizer, float32 activations) are
written on explicit vectors of W values (``lanes.simd.Vec``: one LLVM vector), so they are
vector code by construction; the light ones are scalar lane loops of constant trip count that
LLVM's SLP vectoriser packs (``_slp``).

Determinism
-----------
No BLAS, no fastmath, no reductions across lanes. Every output element is summed in one fixed
order (ascending fan-in index for A W, ascending batch row for the weight and bias gradients,
ascending fan-out index for D W^T). Fused multiply-add policy: each step of those dot
products is one explicit ``llvm.fma`` (``vfma``; correctly rounded whether the CPU has FMA or
libm emulates it); every other operation is an unfused IEEE operation: Numba compiles without
fastmath flags, so LLVM never contracts ``a * b + c`` by itself (asserted in
tests/test_lanes.py on the generated assembly). exp, tanh, sigmoid and log are the project's
own polynomial code (``lanes.math``; float32 activations: ``lanes.math32``), not libm's.
Lanes never mix, so lane ``k`` computes exactly the same operations whether ``W`` is 1 or
16: its bits do not depend on the group size or on the other lanes. Gaussian input noise
(``nbae.engine.kernels.next_normal``) draws with the project's own log and cos too
(``nbae.engine.kernels.libm``).

A lane that stops (early stop, divergence) is *parked*: its weights at the stop go to
``final``, its parameters, optimizer state and learning rate become zero, so it goes on
computing finite zeros in lockstep without ever producing NaNs or slow subnormals.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.lanes.math import (
    _JIT,
    U,
    _exp_np,
    _log,
    _seg,
    _slp,
    lane_scratch,
)
from nbae.engine.lanes.math32 import activation_block
from nbae.engine.lanes.products import lane_product
from nbae.engine.lanes.simd import (
    register_lanes,
    vadd,
    vdiv,
    vload,
    vmul,
    vsqrt,
    vstore,
    vsub,
    vzero,
)

IDENTITY, TANH, SIGMOID, RELU, LEAKY_RELU, SOFTMAX = 0, 1, 2, 3, 4, 5
MSE, BCE = 0, 1
SGD, ADAGRAD, ADAM = 0, 1, 2
NOISE_NONE, NOISE_FLIP, NOISE_GAUSSIAN, NOISE_MASK = 0, 1, 2, 3
STATUS_OK, STATUS_EARLY_STOP, STATUS_NONFINITE = 0, 1, 2
LANE_RUNNING, LANE_PADDING = -1, 3  # lane status while training; a filler lane never runs

# Per-lane hyperparameters: rows of ``hp`` (shape (HP_SIZE, W), the parameters' dtype).
HP_LR, HP_MOMENTUM, HP_BETA1, HP_BETA2, HP_EPS, HP_WEIGHT_DECAY = 0, 1, 2, 3, 4, 5
HP_SIZE = 6

# ---------------------------------------------------------------------------------------------
# layer kernels (all on flat per-group arrays, lane index innermost)


@njit(**_JIT)
def dense_forward(buf, ao, fi, oo, fo, theta, wo, bo, B, lanes):
    """O = A W + b for all lanes: O[b, j] = fma-chain over i = 0..fi-1 from 0, then + b[j].

    buf : flat activations; ao / oo : offsets of A (B x fi) and O (B x fo), lane-scaled
    fi, fo : fan-in, fan-out; theta : flat parameters; wo, bo : lane-scaled offsets of W, b
    B : rows in the batch; lanes : tuple whose length is the group width W
    """
    W = len(lanes)
    lane_product(buf, ao, fi * W, W, theta, wo, fo * W, W, buf, oo, fo * W, W, B, fo, fi, lanes)
    for b in range(B):
        o = oo + b * fo * W
        for j in range(fo):
            vstore(buf, o + j * W, vadd(vload(buf, o + j * W, lanes),
                                        vload(theta, bo + j * W, lanes)))


@njit(**_JIT)
def dense_backward(buf, ao, fi, d, nxt, fo, theta, grad, wo, bo, B, need_da, lanes):
    """Weight/bias gradients of one layer and, if ``need_da``, dL/dA into ``nxt``.

    buf, ao : activations and the lane-scaled offset of the layer input A (B x fi)
    d : dL/dZ (B x fo, from offset 0); nxt : receives dL/dA = D W^T (B x fi)
    theta, grad : parameters and gradient; wo, bo : lane-scaled offsets of W and b
    B : rows; need_da : compute dL/dA (False for the first layer); lanes : width tuple
    gW[i, j] sums over b ascending, gb[j] over b ascending, dA[b, i] over j ascending.
    """
    W = len(lanes)
    # gW = A^T D: rows i (stride W in A), inner b (stride fi * W in A, fo * W in D)
    lane_product(buf, ao, W, fi * W, d, 0, fo * W, W, grad, wo, fo * W, W, fi, fo, B, lanes)
    for j in range(fo):
        acc = vzero(grad, lanes)
        for b in range(B):
            acc = vadd(acc, vload(d, (b * fo + j) * W, lanes))
        vstore(grad, bo + j * W, acc)
    if need_da:  # dA = D W^T: rows b, inner j (stride W in D, W in W), columns i (fo * W)
        lane_product(d, 0, fo * W, W, theta, wo, W, fo * W, nxt, 0, fi * W, W, B, fi, fo,
                     lanes)


@_slp
@njit(**_JIT)
def activate_lanes(buf, off, B, m, code, slope, lanes):
    """Apply activation ``code`` in place to the (B, m, W) block at ``buf[off:]``."""
    W = len(lanes)
    n = B * m * W
    if code == IDENTITY:
        return
    if code == TANH or code == SIGMOID:
        activation_block(buf, off, n, code, lanes)
    elif code == RELU:
        seg = _seg(buf, off, n)
        for i in range(n):
            seg[i] = max(seg[i], 0.0)
    elif code == LEAKY_RELU:
        seg = _seg(buf, off, n)
        for i in range(n):
            z = seg[i]
            seg[i] = z if z > 0 else slope * z
    else:  # softmax over the m outputs of each row and lane, shifted by the row max
        mx = lane_scratch(lanes, buf)
        s = lane_scratch(lanes, np.empty(0))  # float64 sums, like nbae.kernels
        for b in range(B):
            row = off + b * m * W
            for k in range(W):
                mx[k] = buf[U(row + k)]
                s[k] = 0.0
            for j in range(1, m):
                for k in range(W):
                    mx[k] = max(mx[k], buf[U(row + j * W + k)])
            for j in range(m):
                for k in range(W):
                    e = _exp_np(max(np.float64(buf[U(row + j * W + k)] - mx[k]), -745.0))
                    buf[U(row + j * W + k)] = e
                    s[k] += e
            for j in range(m):
                for k in range(W):
                    buf[U(row + j * W + k)] *= 1.0 / s[k]


@_slp
@njit(**_JIT)
def activation_backward_lanes(buf, off, d, B, m, code, slope, lanes):
    """Turn dL/dA in ``d`` (B, m, W) into dL/dZ in place, from the outputs at ``buf[off:]``."""
    W = len(lanes)
    n = B * m * W
    if code == IDENTITY:
        return
    if code == TANH:
        for i in range(n):
            a = buf[U(off + i)]
            d[i] *= 1.0 - a * a
    elif code == SIGMOID:
        for i in range(n):
            a = buf[U(off + i)]
            d[i] *= a * (1.0 - a)
    elif code == RELU:
        for i in range(n):
            if buf[U(off + i)] <= 0:
                d[i] = 0.0
    elif code == LEAKY_RELU:
        for i in range(n):
            if buf[U(off + i)] <= 0:
                d[i] *= slope
    else:  # softmax: dL/dz_j = a_j (d_j - sum_i d_i a_i) per row and lane
        dot = lane_scratch(lanes, np.empty(0))
        for b in range(B):
            row = b * m * W
            for k in range(W):
                dot[k] = 0.0
            for j in range(m):
                for k in range(W):
                    dot[k] += d[U(row + j * W + k)] * buf[U(off + row + j * W + k)]
            for j in range(m):
                for k in range(W):
                    d[U(row + j * W + k)] = buf[U(off + row + j * W + k)] * (d[U(row + j * W + k)]
                                                                       - dot[k])


@_slp
@njit(**_JIT)
def loss_lanes(buf, off, t, d, B, m, code, total, lanes):
    """Per-lane mean loss of outputs ``buf[off:]`` against targets ``t`` (both (B, m, W)).

    Writes dL/dA into ``d`` and the losses into ``total`` (float64, W); each lane sums its
    B * m terms in row-major order, as nbae.kernels.loss_and_output_grad does.
    """
    W = len(lanes)
    inv_n = 1.0 / (B * m)
    tot = lane_scratch(lanes, total)
    a = lane_scratch(lanes, buf)
    y = lane_scratch(lanes, buf)
    for k in range(W):
        tot[k] = 0.0
    for r in range(B * m):
        for k in range(W):
            a[k] = buf[U(off + r * W + k)]
            y[k] = t[U(r * W + k)]
        for k in range(W):
            if code == MSE:
                e = a[k] - y[k]
                tot[k] += e * e
                y[k] = 2.0 * e * inv_n
            else:
                la = max(_log(np.float64(a[k])), -100.0)
                l1a = max(_log(np.float64(1.0 - a[k])), -100.0)
                tot[k] -= y[k] * la + (1.0 - y[k]) * l1a
                y[k] = (a[k] - y[k]) / max(a[k] * (1.0 - a[k]), 1e-12) * inv_n
        for k in range(W):
            d[U(r * W + k)] = y[k]
    for k in range(W):
        total[k] = tot[k] * inv_n


@_slp
@njit(**_JIT)
def forward_lanes(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes):
    """All layers on the B-row batch at ``buf[a_off[0]:]``; offsets w_off/b_off unscaled."""
    W = len(lanes)
    for l in range(acts.size):
        dense_forward(buf, a_off[l], sizes[l], a_off[l + 1], sizes[l + 1], theta,
                      w_off[l] * W, b_off[l] * W, B, lanes)
        activate_lanes(buf, a_off[l + 1], B, sizes[l + 1], acts[l], slope, lanes)


@_slp
@njit(**_JIT)
def backward_lanes(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, lanes):
    """Backpropagate dL/dA_L (in ``d1``) through every layer into ``grad``; d1/d2 ping-pong."""
    W = len(lanes)
    cur = d1
    nxt = d2
    for l in range(acts.size - 1, -1, -1):
        activation_backward_lanes(buf, a_off[l + 1], cur, B, sizes[l + 1], acts[l], slope,
                                  lanes)
        dense_backward(buf, a_off[l], sizes[l], cur, nxt, sizes[l + 1], theta, grad,
                       w_off[l] * W, b_off[l] * W, B, l > 0, lanes)
        t = cur
        cur = nxt
        nxt = t


@_slp
@njit(**_JIT)
def optimizer_lanes(theta, grad, s1, s2, opt, hp, t, lanes):
    """One update of every lane with its own hyperparameters (column k of ``hp``), step ``t``.

    The formulas and their operation order are those of nbae.kernels.optimizer_step
    (torch.optim semantics); SGD's momentum buffer is used with any momentum (0 included).
    Every row of W values is one vector (``nbae.engine.lanes.simd``); the per-lane constants
    are prepared once per call, in the scalar code and rounding of nbae.kernels. One model
    alone (W = 1) updates a register's worth of its parameters per vector instead, its one
    column of ``hp`` serving every lane: the same operations on every parameter.
    """
    if len(lanes) > 1:
        _optimizer_rows(theta, grad, s1, s2, opt, hp, t, lanes)
        return
    reg = register_lanes(theta)
    n = theta.size - theta.size % len(reg)
    _optimizer_rows(theta[:n], grad[:n], s1[:n], s2[:n], opt, hp, t, reg)
    _optimizer_rows(theta[n:], grad[n:], s1[n:], s2[n:], opt, hp, t, lanes)


@njit(**_JIT)
def _optimizer_rows(theta, grad, s1, s2, opt, hp, t, lanes):
    """optimizer_lanes on whole rows of W lanes; hp has W columns, or one for all lanes."""
    update_rows(theta, grad, s1, s2, opt, optimizer_constants(hp, t, lanes, theta), t, lanes)


@njit(**_JIT)
def optimizer_constants(hp, t, lanes, like):
    """The per-step constants of the update, rows of W values (lane k from column k % K of
    ``hp``) in ``like``'s dtype, rounded as nbae.kernels rounds them: lr, weight decay, eps,
    momentum, beta2, 1 - beta1, 1 - beta2, lr / (1 - beta1^t), 1 / sqrt(1 - beta2^t)."""
    W = len(lanes)
    K = hp.shape[1]
    c = np.empty(9 * W, dtype=like.dtype)
    for k in range(W):
        j = k % K
        c[k] = hp[HP_LR, j]
        c[W + k] = hp[HP_WEIGHT_DECAY, j]
        c[2 * W + k] = hp[HP_EPS, j]
        c[3 * W + k] = hp[HP_MOMENTUM, j]
        c[4 * W + k] = hp[HP_BETA2, j]
        c[5 * W + k] = 1.0 - hp[HP_BETA1, j]
        c[6 * W + k] = 1.0 - hp[HP_BETA2, j]
        c[7 * W + k] = hp[HP_LR, j] / (1.0 - np.float64(hp[HP_BETA1, j]) ** t)
        c[8 * W + k] = 1.0 / np.sqrt(1.0 - np.float64(hp[HP_BETA2, j]) ** t)
    return c


@njit(**_JIT)
def update_rows(theta, grad, s1, s2, opt, c, t, lanes):
    """Update the ``theta.size // W`` rows of W values with gradient ``grad`` and the
    constants ``c`` of ``optimizer_constants`` (step ``t``): torch.optim's formulas."""
    W = len(lanes)
    lr = vload(c, 0, lanes)
    wd = vload(c, W, lanes)
    eps = vload(c, 2 * W, lanes)
    P = theta.size // W
    if opt == SGD:
        mom = vload(c, 3 * W, lanes)
        for p in range(P):
            i = p * W
            th = vload(theta, i, lanes)
            g = vadd(vload(grad, i, lanes), vmul(wd, th))
            a = vadd(vmul(mom, vload(s1, i, lanes)), g) if t > 1 else g
            vstore(s1, i, a)
            vstore(theta, i, vsub(th, vmul(lr, a)))
    elif opt == ADAGRAD:
        for p in range(P):
            i = p * W
            th = vload(theta, i, lanes)
            g = vadd(vload(grad, i, lanes), vmul(wd, th))
            a = vadd(vload(s1, i, lanes), vmul(g, g))
            vstore(s1, i, a)
            vstore(theta, i, vsub(th, vdiv(vmul(lr, g), vadd(vsqrt(a), eps))))
    else:
        b2 = vload(c, 4 * W, lanes)
        omb1 = vload(c, 5 * W, lanes)
        omb2 = vload(c, 6 * W, lanes)
        step = vload(c, 7 * W, lanes)
        inv_bc2 = vload(c, 8 * W, lanes)
        for p in range(P):
            i = p * W
            th = vload(theta, i, lanes)
            g = vadd(vload(grad, i, lanes), vmul(wd, th))
            m = vload(s1, i, lanes)
            m = vadd(m, vmul(omb1, vsub(g, m)))
            v = vadd(vmul(b2, vload(s2, i, lanes)), vmul(vmul(omb2, g), g))
            vstore(s1, i, m)
            vstore(s2, i, v)
            vstore(theta, i, vsub(th, vdiv(vmul(step, m), vadd(vmul(vsqrt(v), inv_bc2),
                                                                 eps))))
