"""Layer kernels: activations and their derivatives, losses, matrix products, and the forward
and backward passes over the flat parameter and activation buffers (layout in
:mod:`nbae.engine.kernels`)."""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.codes import IDENTITY, LEAKY_RELU, MSE, RELU, SIGMOID, SOFTMAX, TANH
from nbae.engine.kernels.intrinsics import (
    JIT,
    JIT_NP,
    sigmoid_inplace,
    tanh_inplace,
    view1d,
    view2d,
)

# ---------------------------------------------------------------------------------------------
# activations


@njit(**JIT_NP)
def activate(Z, code, slope):
    """Apply activation ``code`` to ``Z`` (rows = samples) in place."""
    n, m = Z.shape
    if code == IDENTITY:
        return
    if code == SOFTMAX:
        for i in range(n):
            mx = Z[i, 0]
            for j in range(1, m):
                if Z[i, j] > mx:
                    mx = Z[i, j]
            s = 0.0
            for j in range(m):
                e = np.exp(Z[i, j] - mx)  # shift by the row max: exp never overflows
                Z[i, j] = e
                s += e
            inv = 1.0 / s
            for j in range(m):
                Z[i, j] *= inv
        return
    # one loop per activation (not a branch per element) so that the simple ones vectorise
    if code == TANH:
        tanh_inplace(view1d(Z))
    elif code == SIGMOID:
        sigmoid_inplace(view1d(Z))
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                Z[i, j] = max(Z[i, j], 0.0)
    elif code == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                z = Z[i, j]
                Z[i, j] = z if z > 0 else slope * z


@njit(**JIT_NP)
def activation_backward(A, D, code, slope):
    """Turn ``D = dL/dA`` into ``dL/dZ`` in place, given the activation's output ``A``.

    tanh' = 1 - a^2, sigmoid' = a (1 - a), relu' = [a > 0], leaky' = 1 if a > 0 else slope
    (for slope >= 0, a > 0 exactly when z > 0; at z = 0 both use the left branch, like
    PyTorch). Softmax couples a row: dL/dz_i = a_i (d_i - sum_j d_j a_j), its full Jacobian.
    """
    n, m = A.shape
    if code == IDENTITY:
        return
    if code == SOFTMAX:
        for i in range(n):
            dot = 0.0
            for j in range(m):
                dot += D[i, j] * A[i, j]
            for j in range(m):
                D[i, j] = A[i, j] * (D[i, j] - dot)
        return
    if code == TANH:
        for i in range(n):
            for j in range(m):
                D[i, j] *= 1.0 - A[i, j] * A[i, j]
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                D[i, j] *= A[i, j] * (1.0 - A[i, j])
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                if A[i, j] <= 0:
                    D[i, j] = 0.0
    elif code == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                if A[i, j] <= 0:
                    D[i, j] *= slope


# ---------------------------------------------------------------------------------------------
# losses: the mean over all B * m elements, like torch.nn.MSELoss() / BCELoss()


@njit(**JIT_NP)
def loss_and_output_grad(A, Y, code, D):
    """Return the mean loss of output ``A`` against target ``Y``; write dL/dA into ``D``.

    MSE: L = mean((a - y)^2), dL/da = 2 (a - y) / N.
    BCE: L = -mean(y log a + (1 - y) log(1 - a)) with each log clamped at -100 and
    dL/da = (a - y) / max(a (1 - a), 1e-12) / N, PyTorch's conventions, so saturated outputs
    give large but finite values.
    """
    n, m = A.shape
    inv_n = 1.0 / (n * m)
    total = 0.0
    for i in range(n):
        for j in range(m):
            a = A[i, j]
            y = Y[i, j]
            if code == MSE:
                r = a - y
                total += r * r
                D[i, j] = 2.0 * r * inv_n
            else:
                la = max(np.log(a), -100.0)
                l1a = max(np.log(1.0 - a), -100.0)
                total -= y * la + (1.0 - y) * l1a
                D[i, j] = (a - y) / max(a * (1.0 - a), 1e-12) * inv_n
    return total * inv_n


@njit(**JIT)
def loss_value(A, Y, code):
    """Mean loss only (the gradient goes to a scratch array; not on a hot path)."""
    return loss_and_output_grad(A, Y, code, np.empty_like(A))


# ---------------------------------------------------------------------------------------------
# matrix products. BLAS (np.dot into a preallocated output) wins almost everywhere, even on
# 5x35x25 products; the exception is D W^T for small layers, where a row-dot-row loop is ~2x
# faster than the BLAS call's fixed cost.

_SMALL_NT = 4096  # fan_in * fan_out below which matmul_nt uses the loop (measured crossover)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot_rows(D, W, out):
    B, fo = D.shape
    fi = W.shape[0]
    for i in range(B):
        for k in range(fi):
            s = D[i, 0] - D[i, 0]
            for j in range(fo):
                s += D[i, j] * W[k, j]
            out[i, k] = s


@njit(**JIT)
def matmul_nt(D, W, out):
    """out = D @ W.T"""
    if W.shape[0] * W.shape[1] <= _SMALL_NT:
        _dot_rows(D, W, out)
    else:
        np.dot(D, W.T, out)


# ---------------------------------------------------------------------------------------------
# forward and backward passes on the flat buffers


@njit(**JIT)
def forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, l0, l1):
    """Run weight layers ``l0 .. l1-1`` on the ``B``-row batch at ``A_{l0}`` in ``buf``.

    Parameters
    ----------
    theta : ndarray (n_params,)
        Flat parameters (layout in :mod:`nbae.engine.kernels`).
    sizes : int64 ndarray (L + 1,)
        Layer widths, input first.
    w_off, b_off : int64 ndarray (L,)
        Offsets of W_l and b_l in ``theta``.
    a_off : int64 ndarray (L + 1,)
        Offset of activation A_l in ``buf``.
    acts : int64 ndarray (L,)
        Activation code of each weight layer.
    slope : float
        Negative-side slope of leaky_relu.
    buf : ndarray
        Activation buffer; A_{l0} holds the input, A_{l0+1} .. A_{l1} are written.
    B : int
        Rows in the batch.
    l0, l1 : int
        First and one-past-last weight layer to run.
    """
    for l in range(l0, l1):
        fi = sizes[l]
        fo = sizes[l + 1]
        A = view2d(buf, a_off[l], B, fi)
        O = view2d(buf, a_off[l + 1], B, fo)
        W = view2d(theta, w_off[l], fi, fo)
        b = theta[b_off[l]:b_off[l] + fo]
        np.dot(A, W, O)
        for i in range(B):
            for j in range(fo):
                O[i, j] += b[j]
        activate(O, acts[l], slope)


@njit(**JIT)
def backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B):
    """Backpropagate ``dL/dA_L`` (in ``d1``) through every layer; fill ``grad``.

    Parameters
    ----------
    theta : ndarray (n_params,)
        Flat parameters.
    grad : ndarray (n_params,)
        Receives dL/dtheta in the same layout.
    sizes, w_off, b_off, a_off, acts, slope
        As in :func:`forward`.
    buf : ndarray
        Activations A_0 .. A_L of the batch, as :func:`forward` left them.
    d1, d2 : ndarray (cap * max(sizes),)
        Ping-pong buffers; ``d1`` holds dL/dA_L on entry and is overwritten.
    B : int
        Rows in the batch.
    """
    L = acts.size
    cur = d1
    nxt = d2
    for l in range(L - 1, -1, -1):
        fi = sizes[l]
        fo = sizes[l + 1]
        D = view2d(cur, 0, B, fo)
        O = view2d(buf, a_off[l + 1], B, fo)
        activation_backward(O, D, acts[l], slope)
        A = view2d(buf, a_off[l], B, fi)
        gW = view2d(grad, w_off[l], fi, fo)
        np.dot(A.T, D, gW)
        gb = grad[b_off[l]:b_off[l] + fo]
        gb[:] = 0.0
        for i in range(B):
            for j in range(fo):
                gb[j] += D[i, j]
        if l > 0:
            W = view2d(theta, w_off[l], fi, fo)
            Dp = view2d(nxt, 0, B, fi)
            matmul_nt(D, W, Dp)
            t = cur
            cur = nxt
            nxt = t

