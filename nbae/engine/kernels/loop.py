"""Entry points called from Python: full-batch loss and gradient, chunked prediction, the
data-set loss and the fused training loop.

``train_epochs`` takes its many inputs grouped in the named tuples below (Numba compiles
attribute access on a named tuple to a field load, and caches such signatures on disk). Each
field is documented where the tuple is defined.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from nbae.engine.codes import NOISE_NONE, STATUS_EARLY_STOP, STATUS_NONFINITE, STATUS_OK
from nbae.engine.kernels.batches import corrupt, gather_rows, shuffle_inplace
from nbae.engine.kernels.intrinsics import JIT, view2d
from nbae.engine.kernels.layers import backward, forward, loss_and_output_grad
from nbae.engine.kernels.optimizers import optimizer_step

Params = namedtuple("Params", "theta grad s1 s2 best")
Params.__doc__ = """Flat parameter-shaped arrays, all of the parameters' dtype.

theta : ndarray (n_params,)
    Parameters (W_0, b_0, W_1, ...), updated in place.
grad : ndarray (n_params,)
    Gradient scratch of the current mini-batch.
s1, s2 : ndarray (n_params,)
    Optimizer state: momentum buffer / Adagrad accumulator / Adam moments (``s2`` may be a
    1-element dummy for SGD and Adagrad).
best : ndarray (n_params,)
    Receives ``theta`` whenever an epoch's loss is a new minimum.
"""

Network = namedtuple("Network", "sizes w_off b_off acts slope loss")
Network.__doc__ = """The network's layout and loss.

sizes : int64 ndarray (L + 1,)
    Layer widths, input first.
w_off, b_off : int64 ndarray (L,)
    Offsets of W_l and b_l in ``theta``.
acts : int64 ndarray (L,)
    Activation code of each weight layer (nbae.engine.codes).
slope : float
    Negative-side slope of leaky_relu, in the parameters' dtype.
loss : int
    Loss code (MSE or BCE).
"""

Work = namedtuple("Work", "a_off buf ybuf d1 d2")
Work.__doc__ = """Preallocated work buffers, of the parameters' dtype.

a_off : int64 ndarray (L + 1,)
    Offset of activation A_l in ``buf`` (``cap * sizes[l]`` elements each).
buf : ndarray
    Activations of a batch of up to ``cap`` rows, A_0 (the input batch) first.
ybuf : ndarray (batch * sizes[L],)
    Target rows of the current mini-batch.
d1, d2 : ndarray (cap * max(sizes),)
    Ping-pong buffers of the backward pass.
"""

Optimizer = namedtuple("Optimizer", "code hp step")
Optimizer.__doc__ = """The optimizer.

code : int
    SGD, ADAGRAD or ADAM.
hp : ndarray (HP_SIZE,)
    Hyperparameters in the parameters' dtype, indexed by the HP_* constants.
step : int64 ndarray (2,)
    [optimizer steps taken, epochs finished], updated in place (survive a lost return value).
"""

Schedule = namedtuple("Schedule", "batch n_epochs epoch0 full_loss patience min_delta")
Schedule.__doc__ = """What one call runs.

batch : int
    Mini-batch size (the last batch of an epoch may be smaller).
n_epochs : int
    Epochs to run in this call.
epoch0 : int
    Epochs finished before this call (``track``'s best epoch counts from 1 across calls).
full_loss : int
    0: an epoch's loss is the running mean of its batch losses; else the rows per forward
    pass of the end-of-epoch loss over the whole training set.
patience : int
    Stop after this many epochs without an improvement larger than ``min_delta`` (0: never).
min_delta : float
    Improvement the early-stopping rule requires.
"""

Sampling = namedtuple("Sampling", "shuffle perm rng noise level lo hi")
Sampling.__doc__ = """Sample order and input corruption.

shuffle : bool
    Shuffle ``perm`` at the start of every epoch.
perm : int64 ndarray (n,)
    Sample order; its state carries across calls, so chunked calls equal one long call.
rng : uint64 ndarray (1,)
    splitmix64 state of the shuffling and the noise.
noise : int
    Noise code (NOISE_NONE, NOISE_FLIP, NOISE_GAUSSIAN, NOISE_MASK).
level : float
    Flip/mask probability or Gaussian standard deviation.
lo, hi : float
    Pixel range: flips map x to lo + hi - x, masks set lo, Gaussian noise is clipped to it.
"""

Record = namedtuple("Record", "losses track")
Record.__doc__ = """What training reports back, in place.

losses : float64 ndarray (n_epochs,)
    Loss of each epoch this call runs.
track : float64 ndarray (4,)
    [best loss, best epoch, early-stopping reference loss, epochs without improvement].
"""


@njit(**JIT)
def loss_and_grad(theta, grad, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code,
                  buf, d1, d2):
    """Mean loss over all rows of ``X`` and its gradient in ``grad`` (one full batch).

    Parameters
    ----------
    theta, grad : ndarray (n_params,)
        Parameters; receives the gradient.
    X, Y : ndarray (n, sizes[0]), (n, sizes[L])
        Inputs and targets.
    sizes, w_off, b_off, a_off, acts, slope
        Layout, as in :func:`nbae.engine.kernels.layers.forward` (``a_off`` for ``n`` rows).
    loss_code : int
        MSE or BCE.
    buf, d1, d2 : ndarray
        Activation and backward buffers sized for ``n`` rows.
    """
    B = X.shape[0]
    L = acts.size
    A0 = view2d(buf, 0, B, sizes[0])
    A0[:, :] = X
    forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, L)
    out = view2d(buf, a_off[L], B, sizes[L])
    D = view2d(d1, 0, B, sizes[L])
    loss = loss_and_output_grad(out, Y, loss_code, D)
    backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B)
    return loss


@njit(**JIT)
def predict(theta, X, sizes, w_off, b_off, acts, slope, l0, l1, chunk):
    """Outputs of layers ``l0 .. l1-1`` applied to ``X``, in chunks of ``chunk`` rows.

    Parameters
    ----------
    theta : ndarray (n_params,)
        Parameters.
    X : ndarray (n, sizes[l0])
        Inputs of layer ``l0``.
    sizes, w_off, b_off, acts, slope
        Layout, as in :func:`nbae.engine.kernels.layers.forward`.
    l0, l1 : int
        First and one-past-last weight layer (0, L: the whole network).
    chunk : int
        Rows per forward pass (bounds the buffer this allocates).
    """
    n = X.shape[0]
    out = np.empty((n, sizes[l1]), dtype=theta.dtype)
    widths = sizes[l0:l1 + 1]
    a_off = np.zeros(sizes.size, dtype=np.int64)
    total = 0
    for l in range(l0, l1 + 1):
        a_off[l] = total
        total += chunk * sizes[l]
    buf = np.empty(total, dtype=theta.dtype)
    for start in range(0, n, chunk):
        B = min(chunk, n - start)
        A0 = view2d(buf, a_off[l0], B, widths[0])
        A0[:, :] = X[start:start + B]
        forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, l0, l1)
        out[start:start + B] = view2d(buf, a_off[l1], B, sizes[l1])
    return out


@njit(**JIT)
def dataset_loss(theta, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code, batch, buf,
                 scratch):
    """Mean loss over all rows of ``X``, forward passes of ``batch`` rows in the given buffers.

    Parameters
    ----------
    theta : ndarray (n_params,)
        Parameters.
    X, Y : ndarray (n, sizes[0]), (n, sizes[L])
        Inputs and targets.
    sizes, w_off, b_off, a_off, acts, slope
        Layout, as in :func:`nbae.engine.kernels.layers.forward`.
    loss_code : int
        MSE or BCE.
    batch : int
        Rows per forward pass (``buf`` and ``scratch`` must hold that many).
    buf : ndarray
        Activation buffer.
    scratch : ndarray (batch * sizes[L],)
        Receives the (unused) output gradient.
    """
    n = X.shape[0]
    L = acts.size
    d_in = sizes[0]
    d_out = sizes[L]
    total = 0.0
    for start in range(0, n, batch):
        B = min(batch, n - start)
        A0 = view2d(buf, 0, B, d_in)
        A0[:, :] = X[start:start + B]
        forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, L)
        out = view2d(buf, a_off[L], B, d_out)
        total += loss_and_output_grad(out, Y[start:start + B], loss_code,
                                      view2d(scratch, 0, B, d_out)) * B
    return total / n



@njit(**JIT)
def train_epochs(params, X, Y, net, work, opt, schedule, sampling, record):
    """Run up to ``schedule.n_epochs`` epochs of mini-batch training in compiled code.

    Parameters
    ----------
    params : Params
        Parameters, gradient, optimizer state and best parameters.
    X : ndarray (n, sizes[0])
        Inputs, C-contiguous, of the parameters' dtype.
    Y : ndarray (n, sizes[L])
        Targets (``X`` for a plain autoencoder).
    net : Network
        Layer widths, offsets, activation codes, leaky slope and loss code.
    work : Work
        Activation, target and backward buffers.
    opt : Optimizer
        Optimizer code, hyperparameters and step counters.
    schedule : Schedule
        Batch size, epochs of this call, epoch offset, epoch-loss mode and early stopping.
    sampling : Sampling
        Shuffling and input noise.
    record : Record
        Per-epoch losses and the best/early-stopping tracker.

    Each epoch optionally shuffles ``perm``, then for every mini-batch: gather rows, optionally
    corrupt the inputs, forward, loss, backward, optimizer step. ``record.losses[e]`` receives
    the epoch's loss: with ``full_loss``, the loss of the end-of-epoch parameters on the whole
    training set (one extra forward pass, inputs uncorrupted), else the sample-weighted mean of
    the epoch's mini-batch losses (each taken before its update). Whenever the epoch loss is a
    new minimum, ``theta`` is copied into ``params.best``.

    Returns (epochs run, status): status 1 = early stop, 2 = non-finite loss (training stops
    before the update that would use the bad value; the caller restores ``params.best``).
    """
    theta, grad, s1, s2, best_theta = params
    sizes, w_off, b_off, acts, slope, loss_code = net
    a_off, buf, ybuf, d1, d2 = work
    step = opt.step
    losses, track = record
    n = X.shape[0]
    L = acts.size
    d_in = sizes[0]
    d_out = sizes[L]
    batch = schedule.batch
    for e in range(schedule.n_epochs):
        if sampling.shuffle:
            shuffle_inplace(sampling.perm, sampling.rng)
        total = 0.0
        for start in range(0, n, batch):
            B = min(batch, n - start)
            A0 = view2d(buf, 0, B, d_in)
            gather_rows(X, sampling.perm, start, B, A0)
            if sampling.noise != NOISE_NONE:
                corrupt(A0, sampling.noise, sampling.level, sampling.lo, sampling.hi,
                        sampling.rng)
            T = view2d(ybuf, 0, B, d_out)
            gather_rows(Y, sampling.perm, start, B, T)
            forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, L)
            out = view2d(buf, a_off[L], B, d_out)
            D = view2d(d1, 0, B, d_out)
            bl = loss_and_output_grad(out, T, loss_code, D)
            if not np.isfinite(bl):
                losses[e] = bl
                return e + 1, STATUS_NONFINITE
            total += bl * B
            backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B)
            step[0] += 1
            optimizer_step(theta, grad, s1, s2, opt.code, opt.hp, step[0])
        loss = total / n
        if schedule.full_loss:
            loss = dataset_loss(theta, X, Y, sizes, w_off, b_off, a_off, acts, slope, loss_code,
                                schedule.full_loss, buf, d1)
            if not np.isfinite(loss):
                losses[e] = loss
                return e + 1, STATUS_NONFINITE
        losses[e] = loss
        step[1] += 1
        if loss < track[0]:
            track[0] = loss
            track[1] = schedule.epoch0 + e + 1
            best_theta[:] = theta
        if loss < track[2] - schedule.min_delta:
            track[2] = loss
            track[3] = 0
        else:
            track[3] += 1
            if schedule.patience > 0 and track[3] >= schedule.patience:
                return e + 1, STATUS_EARLY_STOP
    return schedule.n_epochs, STATUS_OK
