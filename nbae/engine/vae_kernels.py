"""Numba kernels of the variational autoencoder (Kingma & Welling 2014).

Network
-------
The encoder is a chain of dense layers ending in one *head* layer of width ``2k`` with the
identity activation; its output row is ``[mu | logvar]`` (``mu`` in the first ``k`` columns,
``log sigma^2`` in the last ``k``), i.e. the usual two heads fused into one matrix product.
The latent code is drawn by the reparameterisation ``z = mu + sigma * eps`` with
``sigma = exp(logvar / 2)`` and ``eps ~ N(0, I)``, and the decoder is a second chain from ``z``
(width ``k``) to the output. Both chains use the flat layout of :mod:`nbae.engine.kernels`: their
offset arrays (``*_w``, ``*_b`` into ``theta``/``grad``, ``*_a`` into ``buf``) are absolute, so
the two chains share one parameter vector, one gradient, one optimizer state and one
activation buffer, and the forward pass, the activations and the optimizer steps of
:mod:`nbae.engine.kernels` run unchanged on each chain.

Loss convention (stated once, used everywhere)
----------------------------------------------
Per sample, ``rec_i = sum_j l(a_ij, y_ij)`` summed over the output features (``l`` is the squared
error, the binary cross-entropy with PyTorch's clamp of each log at -100, or for softmax outputs
the categorical cross-entropy ``-y log a``) and
``KL_i = -1/2 sum_j (1 + logvar_ij - mu_ij^2 - exp(logvar_ij))``, the closed form of
``KL(N(mu, sigma^2) || N(0, I))``. The mini-batch loss is the *mean over the batch* of
``rec_i + beta_t KL_i``. This is pytorch/examples' ``vae/main.py`` (``binary_cross_entropy(...,
reduction='sum') + KLD``) divided by the batch size, so that the learning rate does not depend
on the batch size; with BCE and ``beta = 1`` it is the negative ELBO in nats per sample.
``beta_t = beta * min(1, epoch / warmup)`` (1-based epoch counted over the model's whole
training) when ``warmup > 0``, else ``beta``: a linear KL warm-up.

Random numbers
--------------
``eps`` comes from the splitmix64 stream of :mod:`nbae.engine.kernels` (``next_uniform``, 53-bit
uniforms) by the Box-Muller transform, both outputs used: two uniforms give two independent
normals ``r cos t`` and ``r sin t`` (``r = sqrt(-2 ln(1 - u1))``, ``t = 2 pi u2``), filling ``E``
row-major. It is the state word that shuffles, so a seed fixes the whole run. For tests,
``eps_src`` (rows of ``k``, consumed in visiting order, one row per sample per step) replaces
the generator: the same ``eps`` can be fed to another framework.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.dropout_kernels import backward_dropout, forward_dropout
from nbae.engine.kernels import (
    BCE,
    MSE,
    NOISE_NONE,
    STATUS_EARLY_STOP,
    STATUS_NONFINITE,
    STATUS_OK,
    corrupt,
    gather_rows,
    next_uniform,
    optimizer_step,
    shuffle_inplace,
    view1d,
    view2d,
)
from nbae.engine.vae_arith import (
    backward_to_input,
    chain_backward,
    chain_forward,
    vexp,
    vlog,
    vsincos,
)

_JIT = {"cache": True, "nogil": True}
_JIT_NP = {"cache": True, "nogil": True, "error_model": "numpy"}

# columns of the per-epoch ``losses`` array and of the ``out`` triple
COL_LOSS, COL_REC, COL_KL = 0, 1, 2
# categorical cross-entropy (VAE only so far; nbae.engine.kernels has MSE = 0 and BCE = 1)
CCE = 2

__all__ = ["BCE", "CCE", "COL_KL", "COL_LOSS", "COL_REC", "MSE", "backward_to_input", "beta_at",
           "draw_eps", "vae_batch", "vae_loss_and_grad", "vae_train_epochs"]


@njit(**_JIT)
def beta_at(beta, warmup, epoch):
    """KL weight in 1-based ``epoch``: linear warm-up over ``warmup`` epochs (0: none)."""
    if warmup <= 0 or epoch >= warmup:
        return beta
    return beta * epoch / warmup


@njit(**_JIT)
def draw_eps(E, rng, eps_src, eps_pos, lanes):
    """Fill the (B, k) matrix ``E`` with standard normals.

    E : (B, k) array / destination
    rng : (1,) uint64 array / splitmix64 state, used when ``eps_src`` is empty
    eps_src : (m, k) array / injected noise rows (tests); empty (0, k) to draw from ``rng``
    eps_pos : (1,) int64 array / next unread row of ``eps_src``; advanced by B
    lanes : ``()`` or ``(0,)`` / the arithmetic (libm or the project's own log, sin, cos;
        see nbae.engine.vae_arith)
    """
    B, k = E.shape
    if eps_src.shape[0] == 0:
        F = view1d(E)
        n = F.size
        for i in range(0, n, 2):
            u1 = 1.0 - next_uniform(rng)  # (0, 1]: the log is finite
            r = np.sqrt(-2.0 * vlog(u1, lanes))
            s, c = vsincos(2.0 * np.pi * next_uniform(rng), lanes)
            F[i] = r * c
            if i + 1 < n:
                F[i + 1] = r * s
        return
    p = eps_pos[0]
    for i in range(B):
        for j in range(k):
            E[i, j] = eps_src[p + i, j]
    eps_pos[0] = p + B


@njit(**_JIT_NP)
def recon_loss_and_grad(A, Y, code, D, lanes):
    """Batch mean of the per-sample summed loss of output ``A``; dL/dA into ``D``.

    MSE: sum_j (a - y)^2, d/da = 2 (a - y). BCE: -sum_j (y log a + (1 - y) log(1 - a)) with
    each log clamped at -100, d/da = (a - y) / max(a (1 - a), 1e-12) (PyTorch's conventions).
    CCE (``A`` a softmax output): -sum_j y log a with the log clamped at -100, and ``D`` gets
    the gradient with respect to the softmax's *input*, a sum_j y_j - y (the fused, stable
    form; the caller skips the softmax's own backward). Everything is divided by the batch
    size ``B``. ``lanes`` picks the log (see nbae.engine.vae_arith).
    """
    if code == CCE:
        return _cce_loss_and_grad(A, Y, D, lanes)
    n, m = A.shape
    inv_b = 1.0 / n
    total = 0.0
    for i in range(n):
        for j in range(m):
            a = A[i, j]
            y = Y[i, j]
            if code == MSE:
                r = a - y
                total += r * r
                D[i, j] = 2.0 * r * inv_b
            else:
                la = max(vlog(a, lanes), -100.0)
                l1a = max(vlog(1.0 - a, lanes), -100.0)
                total -= y * la + (1.0 - y) * l1a
                D[i, j] = (a - y) / max(a * (1.0 - a), 1e-12) * inv_b
    return total * inv_b


@njit(**_JIT_NP)
def _cce_loss_and_grad(A, Y, D, lanes):
    n, m = A.shape
    inv_b = 1.0 / n
    total = 0.0
    for i in range(n):
        sy = 0.0
        for j in range(m):
            y = Y[i, j]
            sy += y
            total -= y * max(vlog(A[i, j], lanes), -100.0)
        for j in range(m):
            D[i, j] = (A[i, j] * sy - Y[i, j]) * inv_b
    return total * inv_b


@njit(**_JIT)
def vae_batch(theta, grad, T, es, ew, eb, ea, eacts, ds, dw, db, da, dacts, dacts_b, slope,
              loss_code, beta_t, buf, E, dz, d1, d2, B, out, edrop, edo, ddrop, ddo, tmp, rng,
              lanes):
    """Loss and gradient of one mini-batch whose inputs are already at the encoder's ``A_0``.

    theta : (P,) array / all parameters (flat layout of nbae.engine.kernels)
    grad : (P,) array / receives dL/dtheta
    T : (B, d_out) array / targets
    es, ew, eb, ea, eacts : int64 arrays / encoder chain: widths (last = 2k), weight, bias and
        activation offsets, activation codes
    ds, dw, db, da, dacts : int64 arrays / decoder chain, ``ds[0] = k``
    dacts_b : int64 array / decoder activation codes for the backward pass: ``dacts`` with
        the softmax output replaced by identity under CCE (its gradient comes fused)
    slope : float / leaky_relu slope
    loss_code : int / MSE, BCE or CCE
    beta_t : float / KL weight of this step
    buf : (cap * sum of widths,) array / activations of both chains; the head's log-variance
        columns are overwritten with exp(logvar) once z is drawn
    E : (B, k) array / the noise eps of this batch; overwritten with sigma * eps
    dz : (B, k) array / scratch for dL/dz
    d1, d2 : (cap * max width,) arrays / ping-pong gradient buffers
    B : int / rows in the batch
    out : (3,) float64 array / receives [loss, reconstruction, KL], batch means
    edrop, ddrop : float64 arrays / dropout probability of each layer's output per chain
        (all 0: no dropout, and the plain kernels.forward/backward run)
    edo, ddo : (2, L) int64 arrays / buffer offsets of dropped copies and masks
        (see nbae.engine.dropout_kernels)
    tmp : int64 array / scratch offsets, one more than the longer chain's layers
    rng : (1,) uint64 array / splitmix64 state for the dropout masks
    lanes : ``()`` / the default arithmetic (BLAS, libm); ``(0,)`` the reproducible one
        (nbae.engine.vae_arith; no dropout)
    """
    Le = eacts.size
    Ld = dacts.size
    k = ds[0]
    drop = _any_positive(edrop) or _any_positive(ddrop)
    if drop:
        forward_dropout(theta, es, ew, eb, ea, eacts, slope, buf, B, edrop, edo, tmp, rng)
    else:
        chain_forward(theta, es, ew, eb, ea, eacts, slope, buf, B, lanes)
    H = view2d(buf, ea[Le], B, 2 * k)
    Z = view2d(buf, da[0], B, k)
    kl = 0.0
    for i in range(B):
        for j in range(k):
            mu = H[i, j]
            lv = H[i, k + j]
            se = vexp(0.5 * lv, lanes) * E[i, j]
            v = vexp(lv, lanes)
            Z[i, j] = mu + se
            kl += 1.0 + lv - mu * mu - v
            # what the backward pass needs, computed once: sigma * eps and exp(logvar) (the
            # head's outputs are not read again: its activation is the identity)
            E[i, j] = se
            H[i, k + j] = v
    kl *= -0.5 / B
    if drop:
        forward_dropout(theta, ds, dw, db, da, dacts, slope, buf, B, ddrop, ddo, tmp, rng)
    else:
        chain_forward(theta, ds, dw, db, da, dacts, slope, buf, B, lanes)
    A = view2d(buf, da[Ld], B, ds[Ld])
    rec = recon_loss_and_grad(A, T, loss_code, view2d(d1, 0, B, ds[Ld]), lanes)
    out[COL_REC] = rec
    out[COL_KL] = kl
    out[COL_LOSS] = rec + beta_t * kl
    if not np.isfinite(out[COL_LOSS]):
        return
    if drop:
        backward_dropout(theta, grad, ds, dw, db, da, dacts_b, slope, buf, d1, d2, B, ddrop,
                         ddo, dz, True)
    else:
        chain_backward(theta, grad, ds, dw, db, da, dacts_b, slope, buf, d1, d2, B, dz, lanes)
    # reparameterisation and KL: dL/dmu = dz + beta mu / B,
    # dL/dlogvar = dz eps sigma / 2 + beta (exp(logvar) - 1) / (2 B)
    G = view2d(d1, 0, B, 2 * k)
    c = beta_t / B
    for i in range(B):
        for j in range(k):
            g = dz[i, j]
            G[i, j] = g + c * H[i, j]
            G[i, k + j] = 0.5 * (g * E[i, j] + c * (H[i, k + j] - 1.0))
    if drop:
        backward_dropout(theta, grad, es, ew, eb, ea, eacts, slope, buf, d1, d2, B, edrop, edo,
                         dz, False)
    else:
        chain_backward(theta, grad, es, ew, eb, ea, eacts, slope, buf, d1, d2, B, dz[:0], lanes)


@njit(**_JIT)
def _any_positive(a):
    for v in a:
        if v > 0.0:
            return True
    return False


@njit(**_JIT)
def vae_loss_and_grad(theta, grad, X, Y, es, ew, eb, ea, eacts, ds, dw, db, da, dacts, dacts_b,
                      slope, loss_code, beta_t, buf, E, dz, d1, d2, out, edrop, edo, ddrop, ddo,
                      tmp, rng, lanes):
    """:func:`vae_batch` on all rows of ``X`` with the given noise ``E`` (one full batch)."""
    B = X.shape[0]
    A0 = view2d(buf, ea[0], B, es[0])
    A0[:, :] = X
    vae_batch(theta, grad, Y, es, ew, eb, ea, eacts, ds, dw, db, da, dacts, dacts_b, slope,
              loss_code, beta_t, buf, E, dz, d1, d2, B, out, edrop, edo, ddrop, ddo, tmp, rng,
              lanes)


@njit(**_JIT)
def vae_train_epochs(theta, grad, s1, s2, best_theta, X, Y, es, ew, eb, ea, eacts, ds, dw, db,
                     da, dacts, dacts_b, slope, loss_code, beta, warmup, opt, hp, step, batch,
                     n_epochs, shuffle, perm, rng, eps_src, eps_pos, buf, ybuf, ebuf, dz, d1, d2,
                     losses, track, epoch0, patience, min_delta, edrop, edo, ddrop, ddo, tmp,
                     noise, noise_level, lo, hi, lanes):
    """Run up to ``n_epochs`` epochs of VAE training entirely in compiled code.

    Arguments as in :func:`vae_batch` and :func:`nbae.kernels.train_epochs`, plus:

    beta : float / full KL weight
    warmup : int / epochs of linear KL warm-up (0: none)
    eps_src, eps_pos : see :func:`draw_eps`
    edrop, edo, ddrop, ddo, tmp : dropout settings, see :func:`vae_batch` (masks come from
        ``rng`` after the batch's eps draws)
    noise, noise_level, lo, hi : input corruption as in ``kernels.train_epochs`` (a denoising
        VAE: corrupted inputs, clean targets; drawn before the batch's eps)
    lanes : ``()`` or ``(0,)`` / the arithmetic, see :func:`vae_batch`
    ebuf : (cap * k,) array / the batch's noise
    losses : (n_epochs, 3) float64 array / per epoch [loss, reconstruction, KL], sample-weighted
        means of the mini-batch values (each taken before its update)
    track : (4,) float64 array / [best loss, best epoch, early-stopping reference, epochs
        without improvement]; epochs still in the warm-up are not tracked (their loss uses a
        smaller beta and is not comparable)
    epoch0 : int / epochs run before this call (for the warm-up and ``track``)

    Returns (epochs run, status) like :func:`nbae.kernels.train_epochs`.
    """
    n = X.shape[0]
    k = ds[0]
    d_in = es[0]
    d_out = ds[ds.size - 1]
    out = np.zeros(3)
    for e in range(n_epochs):
        ep = epoch0 + e + 1
        beta_t = beta_at(beta, warmup, ep)
        if shuffle:
            shuffle_inplace(perm, rng)
        t_loss = 0.0
        t_rec = 0.0
        t_kl = 0.0
        for start in range(0, n, batch):
            B = min(batch, n - start)
            A0 = view2d(buf, ea[0], B, d_in)
            gather_rows(X, perm, start, B, A0)
            if noise != NOISE_NONE:
                corrupt(A0, noise, noise_level, lo, hi, rng)
            T = view2d(ybuf, 0, B, d_out)
            gather_rows(Y, perm, start, B, T)
            E = view2d(ebuf, 0, B, k)
            draw_eps(E, rng, eps_src, eps_pos, lanes)
            dzB = view2d(dz, 0, B, k)
            vae_batch(theta, grad, T, es, ew, eb, ea, eacts, ds, dw, db, da, dacts, dacts_b,
                      slope, loss_code, beta_t, buf, E, dzB, d1, d2, B, out, edrop, edo, ddrop,
                      ddo, tmp, rng, lanes)
            if not np.isfinite(out[COL_LOSS]):
                losses[e, :] = out
                return e + 1, STATUS_NONFINITE
            t_loss += out[COL_LOSS] * B
            t_rec += out[COL_REC] * B
            t_kl += out[COL_KL] * B
            step[0] += 1
            optimizer_step(theta, grad, s1, s2, opt, hp, step[0])
        loss = t_loss / n
        losses[e, COL_LOSS] = loss
        losses[e, COL_REC] = t_rec / n
        losses[e, COL_KL] = t_kl / n
        step[1] += 1
        if warmup > 0 and ep < warmup:
            continue
        if loss < track[0]:
            track[0] = loss
            track[1] = ep
            best_theta[:] = theta
        if loss < track[2] - min_delta:
            track[2] = loss
            track[3] = 0
        else:
            track[3] += 1
            if patience > 0 and track[3] >= patience:
                return e + 1, STATUS_EARLY_STOP
    return n_epochs, STATUS_OK
