"""The fused training loop of one lane group (see ``nbae.lanes_kernels`` for the layout).

``train_group`` runs whole epochs for the W lanes of one group without returning to Python;
groups share nothing, so the caller runs several of them on several threads (the kernels
release the GIL) with results identical to running them one after the other.
"""

from __future__ import annotations

import numpy as np
from numba import config as numba_config
from numba import njit
from numba.extending import overload

from nbae.engine.kernels import next_normal, next_uniform, shuffle_inplace
from nbae.engine.lanes.kernels import (
    HP_LR,
    LANE_PADDING,
    LANE_RUNNING,
    NOISE_FLIP,
    NOISE_GAUSSIAN,
    NOISE_MASK,
    NOISE_NONE,
    STATUS_EARLY_STOP,
    STATUS_NONFINITE,
    backward_lanes,
    forward_lanes,
    loss_lanes,
    optimizer_lanes,
)
from nbae.engine.lanes.math import _JIT, U, _slp, lane_scratch
from nbae.engine.lanes.simd import (
    vadd,
    vif_lt,
    vload,
    vmul,
    vsplat,
    vstore,
    vzero,
)
from nbae.engine.lanes.solo import backward_update_one, copy_one, forward_one, nonfinite_one


@_slp
@njit(**_JIT)
def gather_lanes(src, perm, start, B, dst, lanes):
    """dst[b, j, k] = src[perm[k, start + b], j]: each lane's own mini-batch rows."""
    W = len(lanes)
    m = src.shape[1]
    for b in range(B):
        for k in range(W):
            row = perm[k, start + b]
            for j in range(m):
                dst[U((b * m + j) * W + k)] = src[row, j]


@_slp
@njit(**_JIT)
def corrupt_lane(buf, B, m, k, W, noise, level, lo, hi, state):
    """Corrupt lane ``k`` of the (B, m, W) input batch with its own generator ``state``.

    Draws in row-major (b, j) order, the order nbae.kernels.corrupt uses for one model.
    """
    for b in range(B):
        for j in range(m):
            i = (b * m + j) * W + k
            if noise == NOISE_FLIP:
                if next_uniform(state) < level:
                    buf[i] = lo + hi - buf[i]
            elif noise == NOISE_MASK:
                if next_uniform(state) < level:
                    buf[i] = lo
            elif noise == NOISE_GAUSSIAN:
                x = buf[i] + level * next_normal(state)
                buf[i] = min(max(x, lo), hi)


@_slp
@njit(**_JIT)
def park_lane(theta, s1, s2, final, hp, k, W):
    """Save lane ``k``'s parameters into ``final``; zero its parameters, state and rate."""
    for p in range(theta.size // W):
        i = U(p * W + k)
        final[i] = theta[i]
        theta[i] = 0.0
        s1[i] = 0.0
        s2[i] = 0.0
    hp[HP_LR, k] = 0.0


# parameters from which one model updates each layer right after its backward step
# (``lanes.solo``): a model of a few thousand parameters stays in L1/L2 through two passes
_FUSE_MIN = 1 << 15


def _forward_one(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes):
    forward_one(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts)


def _forward_group(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes):
    forward_lanes(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes)


def _backward_update_group(theta, grad, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf,
                           d1, d2, B, opt, hp, t, parts, lanes):
    backward_lanes(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, lanes)
    optimizer_lanes(theta, grad, s1, s2, opt, hp, t, lanes)


def _backward_update_one(theta, grad, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf,
                         d1, d2, B, opt, hp, t, parts, lanes):
    if theta.size >= _FUSE_MIN:
        backward_update_one(theta, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf, d1,
                            d2, B, opt, hp, t, parts)
    else:  # small: all in cache anyway, and one update call beats 4 per layer
        backward_lanes(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B,
                       lanes)
        optimizer_lanes(theta, grad, s1, s2, opt, hp, t, lanes)


def _forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes):
    """The forward pass: ``lanes.solo`` for one model, ``forward_lanes`` for a group."""
    impl = _forward_one if len(lanes) == 1 else _forward_group
    impl(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes)


def _backward_update(theta, grad, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2,
                     B, opt, hp, t, parts, lanes):
    """Backward pass and update: fused per layer for one large model (``lanes.solo``), in
    two passes through ``grad`` for a group or a small model."""
    impl = _backward_update_one if len(lanes) == 1 else _backward_update_group
    impl(theta, grad, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, opt, hp,
         t, parts, lanes)


if not numba_config.DISABLE_JIT:
    # chosen while typing, so each group width compiles only its own path (both paths in
    # every train_group doubled its compile time)
    @overload(_forward)
    def _forward_typed(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes):
        return _forward_one if lanes.count == 1 else _forward_group

    @overload(_backward_update)
    def _backward_update_typed(theta, grad, s1, s2, sizes, w_off, b_off, a_off, acts, slope,
                               buf, d1, d2, B, opt, hp, t, parts, lanes):
        return _backward_update_one if lanes.count == 1 else _backward_update_group


@_slp
@njit(**_JIT)
def dataset_loss_lanes(theta, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code, rows,
                       buf, ybuf, scratch, out, parts, lanes):
    """Per-lane mean loss over all rows of X (in order, ``rows`` at a time) into ``out``; the
    forward pass of training (one model: on ``parts`` threads)."""
    W = len(lanes)
    n = X.shape[0]
    L = acts.size
    d_in = sizes[0]
    d_out = sizes[L]
    part = lane_scratch(lanes, out)
    for k in range(W):
        out[k] = 0.0
    for start in range(0, n, rows):
        B = min(rows, n - start)
        for b in range(B):
            for j in range(d_in):
                for k in range(W):
                    buf[U((b * d_in + j) * W + k)] = X[start + b, j]
            for j in range(d_out):
                for k in range(W):
                    ybuf[U((b * d_out + j) * W + k)] = Y[start + b, j]
        _forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes)
        loss_lanes(buf, a_off[L], ybuf, scratch, B, d_out, loss_code, part, lanes)
        for k in range(W):
            out[k] += part[k] * B
    for k in range(W):
        out[k] /= n


@_slp
@njit(**_JIT)
def train_group(theta, grad, s1, s2, best, final, X, Y, sizes, w_off, b_off, a_off, acts,
                slope, loss_code, opt, hp, step, batch, n_epochs, shuffle, perm, rng, noise,
                noise_level, lo, hi, buf, ybuf, d1, d2, losses, track, status, epochs_done,
                epoch0, patience, min_delta, full_loss, parts, lanes):
    """Run up to ``n_epochs`` epochs of mini-batch training for the W lanes of one group.

    theta, grad, s1, s2 : flat (P * W) parameters, gradient, optimizer state (s2: Adam's v)
    best : parameters at each lane's lowest-loss epoch; final : parameters of stopped lanes
    X, Y : (n, d_in) inputs and (n, d_out) targets, shared by all lanes
    sizes, w_off, b_off : layer widths and the single-model parameter offsets (int64)
    a_off : lane-scaled activation offsets; acts : activation code per layer
    slope : leaky-relu slope (dtype); loss_code : MSE / BCE; opt : SGD / ADAGRAD / ADAM
    hp : (HP_SIZE, W) per-lane hyperparameters; step : [optimizer steps] of the group
    batch : mini-batch rows; n_epochs : epochs to run in this call
    shuffle : reshuffle every epoch; perm : (W, n) int64 row orders; rng : (W,) splitmix64 states
    noise : (W,) noise codes; noise_level, lo, hi : (W,) float64 noise level and pixel range
    buf : activations (cap rows); ybuf : targets (cap rows); d1, d2 : backprop ping-pong
    losses : (n_epochs, W) float64, receives each running lane's epoch loss
    track : (4, W) float64 [best loss, best epoch, early-stop reference, epochs w/o gain]
    status : (W,) int64, LANE_RUNNING or the stop status; epochs_done : (W,) epochs recorded
    epoch0 : epochs finished before this call; patience : (W,) int64 (0 = off)
    min_delta : (W,) float64; full_loss : 0 for the running loss, else rows per forward pass of
        the whole-set loss at the end of each epoch
    parts : threads for one model's large layers (W = 1 only; ``lanes.solo``)
    lanes : tuple whose length is W (a compile-time constant)

    The epoch semantics are those of nbae.kernels.train_epochs, per lane; in addition each
    epoch checks every running lane's parameters for inf/NaN. Returns epochs run (stops early
    when no lane is running).
    """
    W = len(lanes)
    n = X.shape[0]
    L = acts.size
    d_in = sizes[0]
    d_out = sizes[L]
    tot = lane_scratch(lanes, track)
    run = lane_scratch(lanes, track)
    chk = lane_scratch(lanes, theta)
    for e in range(n_epochs):
        alive = False
        for k in range(W):
            if status[k] == LANE_RUNNING:
                alive = True
                if shuffle:
                    shuffle_inplace(perm[k], rng[k:k + 1])
            run[k] = 0.0
        if not alive:
            return e
        for start in range(0, n, batch):
            B = min(batch, n - start)
            gather_lanes(X, perm, start, B, buf, lanes)
            for k in range(W):
                if noise[k] != NOISE_NONE and status[k] == LANE_RUNNING:
                    corrupt_lane(buf, B, d_in, k, W, noise[k], noise_level[k], lo[k], hi[k],
                                 rng[k:k + 1])
            gather_lanes(Y, perm, start, B, ybuf, lanes)
            _forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, parts, lanes)
            loss_lanes(buf, a_off[L], ybuf, d1, B, d_out, loss_code, tot, lanes)
            bad = False
            for k in range(W):
                run[k] += tot[k] * B
                if status[k] == LANE_RUNNING and not np.isfinite(tot[k]):
                    losses[e, k] = tot[k]
                    epochs_done[k] += 1
                    status[k] = STATUS_NONFINITE
                    bad = True
            step[0] += 1
            _backward_update(theta, grad, s1, s2, sizes, w_off, b_off, a_off, acts, slope, buf,
                             d1, d2, B, opt, hp, step[0], parts, lanes)
            if bad:  # park after the update, which ran on the lane's bad values
                for k in range(W):
                    if status[k] == STATUS_NONFINITE and hp[HP_LR, k] != 0:
                        park_lane(theta, s1, s2, final, hp, k, W)
        if full_loss:
            dataset_loss_lanes(theta, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code,
                               full_loss, buf, ybuf, d1, run, parts, lanes)
        else:
            for k in range(W):
                run[k] /= n
        # inf/NaN parameters of a lane: x * 0 is NaN exactly for non-finite x
        _nonfinite_check(theta, chk, parts, lanes)
        improved = False
        for k in range(W):
            tot[k] = 0.0  # becomes 1.0 for lanes whose loss improved
            if status[k] != LANE_RUNNING:
                continue
            loss = run[k]
            losses[e, k] = loss
            epochs_done[k] += 1
            if not (np.isfinite(loss) and np.isfinite(chk[k])):
                status[k] = STATUS_NONFINITE
                continue
            if loss < track[0, k]:
                track[0, k] = loss
                track[1, k] = epoch0 + e + 1
                tot[k] = 1.0
                improved = True
            if loss < track[2, k] - min_delta[k]:
                track[2, k] = loss
                track[3, k] = 0.0
            else:
                track[3, k] += 1.0
                if patience[k] > 0 and track[3, k] >= patience[k]:
                    status[k] = STATUS_EARLY_STOP
        if improved:
            _keep_best(theta, best, tot, chk, parts, lanes)
        for k in range(W):
            if status[k] != LANE_RUNNING and status[k] != LANE_PADDING and hp[HP_LR, k] != 0:
                park_lane(theta, s1, s2, final, hp, k, W)
    return n_epochs


def _nonfinite_group(theta, chk, parts, lanes):
    """chk[k] = NaN if lane k has an inf/NaN parameter, else 0 (x * 0 is NaN exactly for
    non-finite x)."""
    W = len(lanes)
    zero = vzero(theta, lanes)
    acc = zero
    for p in range(theta.size // W):
        acc = vadd(acc, vmul(vload(theta, p * W, lanes), zero))
    vstore(chk, 0, acc)


def _nonfinite_one(theta, chk, parts, lanes):
    nonfinite_one(theta, chk, parts)


def _keep_best_group(theta, best, improved, chk, parts, lanes):
    """best = theta in the lanes whose ``improved`` is 1: one vector select per parameter."""
    W = len(lanes)
    for k in range(W):
        chk[k] = 1.0 if improved[k] == 1.0 else 0.0
    flag = vload(chk, 0, lanes)
    half = vsplat(0.5, flag)
    for p in range(theta.size // W):
        i = p * W
        vstore(best, i, vif_lt(half, flag, vload(theta, i, lanes), vload(best, i, lanes)))


def _keep_best_one(theta, best, improved, chk, parts, lanes):
    copy_one(best, theta, parts)


def _nonfinite_check(theta, chk, parts, lanes):
    """Per-epoch inf/NaN check of every lane's parameters into ``chk``."""
    impl = _nonfinite_one if len(lanes) == 1 else _nonfinite_group
    impl(theta, chk, parts, lanes)


def _keep_best(theta, best, improved, chk, parts, lanes):
    """Best-weights snapshot of the improved lanes (``chk`` is scratch)."""
    impl = _keep_best_one if len(lanes) == 1 else _keep_best_group
    impl(theta, best, improved, chk, parts, lanes)


if not numba_config.DISABLE_JIT:
    @overload(_nonfinite_check)
    def _nonfinite_check_typed(theta, chk, parts, lanes):
        return _nonfinite_one if lanes.count == 1 else _nonfinite_group

    @overload(_keep_best)
    def _keep_best_typed(theta, best, improved, chk, parts, lanes):
        return _keep_best_one if lanes.count == 1 else _keep_best_group
