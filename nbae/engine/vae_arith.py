"""The VAE's two arithmetics: BLAS and libm (the default), or the reproducible one.

The dispatchers below (``vexp``, ``vlog``, ``vsincos``, ``chain_forward``,
``chain_backward``) take ``lanes`` last. ``()`` selects the default arithmetic: the dense
layers of :mod:`nbae.engine.kernels` (BLAS products) and NumPy's exp/log/cos/sin (the
machine's libm). ``(0,)`` selects the arithmetic of ``Autoencoder.fit(reproducible=True)``:
the lanes engine's products (one fixed fma chain per output, no BLAS), its activations, and
the project's own exp, log, sin and cos (below) -- only IEEE operations in a fixed order, so a
VAE's weights are the same bits on every x86-64 machine. The choice is made while Numba
types the caller (``@overload``): each arithmetic compiles only its own code. Each
implementation is written once, as a plain function (``_default_*`` / ``_exact_*``); the
dispatcher's Python body picks one the same way (the NUMBA_DISABLE_JIT path).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core import config as numba_config
from numba.extending import overload

from nbae.engine.kernels import backward, forward, matmul_nt, view1d, view2d
from nbae.engine.kernels.libm import sincos
from nbae.engine.lanes.kernels import (
    activation_backward_lanes,
    dense_backward,
    forward_lanes,
)
from nbae.engine.lanes.math import _JIT, _exp_np, _log
from nbae.engine.lanes.products import lane_product, pack_strips
from nbae.engine.lanes.simd import register_lanes, unlit
from nbae.engine.lanes.solo import _BLOCK, _bias_gradient, weight_gradient_block

EXACT = (0,)  # ``lanes`` of the reproducible arithmetic (one model: W = 1)
DEFAULT = ()  # ``lanes`` of the default arithmetic

# ---------------------------------------------------------------------------------------------
# exp of any sign (log, sin and cos: nbae.engine.kernels.libm): fixed IEEE operations

_EXP_MAX = 709.782712893384  # log(largest double): above it exp overflows


@njit(inline="always")
def exp_any(y):
    """exp(y) for a float64 ``y`` of any sign, within ~1 ulp (NaN stays NaN).

    ``lanes.math._exp_np``'s reduction and polynomial hold for positive arguments too (2^k in
    two factors of at most 2^512); only the overflow and underflow ends are set here.
    """
    if y != y:
        return y
    if y > _EXP_MAX:
        return np.inf
    if y < -1075.0:
        return 0.0
    return _exp_np(y)


@njit(**_JIT)
def exp_inplace(F):
    """exp_any over a contiguous float64 array, in place (machine-independent inference)."""
    for i in range(F.size):
        F[i] = exp_any(F[i])


# ---------------------------------------------------------------------------------------------
# the per-value functions of the VAE's kernels, by arithmetic


def _default_exp(y, lanes):
    return np.exp(y)


def _exact_exp(y, lanes):
    return exp_any(np.float64(y))


def _default_log(x, lanes):
    return np.log(x)


def _exact_log(x, lanes):
    return _log(np.float64(x))


def _default_sincos(t, lanes):
    return np.sin(t), np.cos(t)


def _exact_sincos(t, lanes):
    return sincos(t)


def vexp(y, lanes):
    """exp(y) (float64 in the reproducible arithmetic)."""
    return (_exact_exp if len(lanes) else _default_exp)(y, lanes)


def vlog(x, lanes):
    """log(x) of x >= 0 (float64 in the reproducible arithmetic)."""
    return (_exact_log if len(lanes) else _default_log)(x, lanes)


def vsincos(t, lanes):
    """(sin t, cos t) of a Box-Muller angle."""
    return (_exact_sincos if len(lanes) else _default_sincos)(t, lanes)


# ---------------------------------------------------------------------------------------------
# the dense chains (encoder, decoder) by arithmetic


@njit(**_JIT)
def backward_to_input(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B,
                      dx):
    """:func:`nbae.engine.kernels.backward` (whose arguments these are), then the gradient with
    respect to the chain's input, dL/dA_0 = D_0 W_0^T, into ``dx`` (B, sizes[0]): the decoder
    passes it on to the reparameterisation.

    ``backward`` runs the layers from the last to layer 0 and swaps its ping-pong buffers after
    each but layer 0 (L - 1 swaps), so it leaves D_0 = dL/dZ_0 in ``d1`` when the chain has
    an odd number of layers L, else in ``d2``.
    """
    backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B)
    D0 = view2d(d1 if acts.size % 2 == 1 else d2, 0, B, sizes[1])
    matmul_nt(D0, view2d(theta, w_off[0], sizes[0], sizes[1]), dx)


def _default_forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes):
    forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, 0, acts.size)


def _exact_forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes):
    forward_lanes(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes)


def chain_forward(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes):
    """Forward pass of one chain on the B rows at ``buf[a_off[0]:]`` (kernels.forward's
    arguments)."""
    impl = _exact_forward if len(lanes) else _default_forward
    impl(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes)


def _default_backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, dx,
                      lanes):
    if dx.shape[0]:
        backward_to_input(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B,
                          dx)
    else:
        backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B)


def chain_backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, dx,
                   lanes):
    """Backpropagate dL/dA_L (in ``d1``) through one chain into ``grad``; if ``dx`` has rows,
    also write dL/dA_0 there (the decoder passes it on to the reparameterisation)."""
    impl = _exact_backward if len(lanes) else _default_backward
    impl(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, dx, lanes)


@njit(**_JIT)
def _backward_lanes_to_input(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1,
                             d2, B, dx, lanes):
    """``lanes.kernels.backward_lanes`` that also writes dL/dA_0 into ``dx`` when ``dx`` has
    rows: the same products, one more for the first layer (the VAE calls it with W = 1).
    One model's large layers take their weight gradient from ``_packed_weight_gradient``
    (the same fma chains, the same bits, faster)."""
    W = len(lanes)
    cur = d1
    nxt = d2
    dxf = view1d(dx)
    for l in range(acts.size - 1, -1, -1):
        fi = sizes[l]
        fo = sizes[l + 1]
        activation_backward_lanes(buf, a_off[l + 1], cur, B, fo, acts[l], slope, lanes)
        out = nxt if l > 0 else dxf
        need_da = l > 0 or dx.shape[0] > 0
        if W == 1 and B * fi * fo >= _PACKED_MIN:
            _packed_weight_gradient(buf, a_off[l], fi, cur, fo, grad, w_off[l], B)
            # bias: dense_backward's sum (b ascending from zero), over register vectors
            _bias_gradient(cur, B, fo, grad[b_off[l]:b_off[l] + fo], register_lanes(grad))
            if need_da:  # dense_backward's D W^T
                z, one = unlit(0), unlit(1)
                lane_product(cur, z, fo, one, theta, w_off[l], one, fo, out, z, fi, one, B, fi,
                             fo, lanes)
        else:
            dense_backward(buf, a_off[l], fi, cur, out, fo, theta, grad, w_off[l] * W,
                           b_off[l] * W, B, need_da, lanes)
        t = cur
        cur = nxt
        nxt = t


# multiply-adds of a layer from which one model's weight gradient is a packed product
_PACKED_MIN = 1 << 16


@njit(**_JIT)
def _packed_weight_gradient(buf, ao, fi, d, fo, grad, wo, B):
    """gW = A^T D of one model's layer (A: B x fi at ``buf[ao:]``, D: B x fo) into ``grad`` at
    ``wo``, as ``lanes.solo`` computes it before its fused update: D's column strips packed
    once, A^T in blocks of rows packed, ``packed_product`` per block."""
    reg = register_lanes(grad)
    z = unlit(0)
    n3 = fo // (3 * len(reg))
    S = 3 * len(reg) * B
    dp = np.empty(max(1, n3 * S), dtype=grad.dtype)
    pack_strips(d, z, fo, B, n3, dp, S)
    rows = max(1, _BLOCK // fo)
    xp = np.empty(B * rows, dtype=grad.dtype)
    for i in range(0, fi, rows):
        weight_gradient_block(buf, ao, fi, i, min(rows, fi - i), d, dp, S, fo, B, xp, grad,
                              wo + i * fo)


def _exact_backward(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B, dx,
                    lanes):
    _backward_lanes_to_input(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2,
                             B, dx, lanes)


if not numba_config.DISABLE_JIT:
    # each dispatcher resolves, while its caller is typed, to one of its two implementations
    for _dispatch, _default, _exact_impl in (
            (vexp, _default_exp, _exact_exp), (vlog, _default_log, _exact_log),
            (vsincos, _default_sincos, _exact_sincos),
            (chain_forward, _default_forward, _exact_forward),
            (chain_backward, _default_backward, _exact_backward)):
        def _typer(*args, _d=_default, _e=_exact_impl):
            return _e if len(args[-1]) else _d
        overload(_dispatch, strict=False)(_typer)
