"""Machine-independent inference: encode / decode / reconstruct with the lanes arithmetic.

``Autoencoder.encode`` and friends multiply through BLAS, whose kernels (and so the last bits
of every output) differ between CPUs. The studies whose committed numbers must be
bit-identical on any x86-64 machine (font and denoising) evaluate with these functions
instead: the lanes engine's forward pass with one lane (no BLAS, fixed summation order,
explicit fma, the project's own tanh/sigmoid), the same arithmetic as training with
``reproducible=True``. They agree with the BLAS results to rounding
(tests/test_font_study.py). ``evaluator(model)`` gives any reproducibly trained model,
autoencoder or VAE, these methods (the VAE studies evaluate through it;
tests/test_vae_reproducible.py).
"""

from __future__ import annotations

import math

import numpy as np

_ROWS = 256  # rows per kernel call: bounds the scratch buffer, not the result


def _forward(ae, X, first: int, last: int) -> np.ndarray:
    """Layers ``first .. last-1`` of ``ae`` applied to the rows of ``X``."""
    return _chain(ae._theta, ae.sizes[first:last + 1], ae._w_off[first:last],
                  ae._b_off[first:last], ae._acts[first:last], ae.dtype, ae.leaky_slope, X)


def _chain(theta, sizes, w_off, b_off, acts, dt, leaky_slope, X) -> np.ndarray:
    """A chain of dense layers (widths ``sizes``, parameters at ``w_off``/``b_off`` in
    ``theta``, activation codes ``acts``) applied to the rows of ``X`` in the lanes
    arithmetic."""
    from nbae.engine.lanes import kernels as lk

    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"expected an (n, {sizes[0]}) array, got shape {X.shape}")
    L = len(acts)
    B = min(_ROWS, max(1, X.shape[0]))
    offs = np.cumsum([0] + [B * s for s in sizes]).astype(np.int64)
    buf = np.zeros(int(offs[-1]), dt)
    theta = np.ascontiguousarray(theta)
    slope = dt.type(leaky_slope)
    out = np.empty((X.shape[0], sizes[L]), dt)
    lanes = (0,)
    for r0 in range(0, X.shape[0], B):
        rows = min(B, X.shape[0] - r0)
        buf[:rows * sizes[0]] = X[r0:r0 + rows].astype(dt).ravel()
        for l in range(L):
            lk.dense_forward(buf, offs[l], sizes[l], offs[l + 1], sizes[l + 1], theta,
                             w_off[l], b_off[l], rows, lanes)
            lk.activate_lanes(buf, offs[l + 1], rows, sizes[l + 1], acts[l], slope, lanes)
        out[r0:r0 + rows] = buf[offs[L]:offs[L] + rows * sizes[L]].reshape(rows, -1)
    return out


def reconstruct(ae, X) -> np.ndarray:
    """``ae.reconstruct(X)``, bit-identical on every x86-64 machine."""
    return _forward(ae, X, 0, len(ae.sizes) - 1)


def encode(ae, X) -> np.ndarray:
    """``ae.encode(X)`` (the latent codes), bit-identical on every x86-64 machine."""
    return _forward(ae, X, 0, ae.n_encoder_layers)


def decode(ae, Z) -> np.ndarray:
    """``ae.decode(Z)``, bit-identical on every x86-64 machine."""
    return _forward(ae, Z, ae.n_encoder_layers, len(ae.sizes) - 1)


# ---------------------------------------------------------------------------------------------
# a trained model's inference in the arithmetic it was trained in


def evaluator(model):
    """``model`` itself, or, for a model trained with ``reproducible=True``, a view of it whose
    ``encode``, ``decode`` and ``reconstruct`` (and a VAE's ``sample`` and ``loss_terms``) run
    in the lanes arithmetic; every other attribute is the model's. The studies evaluate
    through it, so a reproducible model's numbers are the same on every machine."""
    if (getattr(model, "training", None) or {}).get("engine") != "lanes":
        return model
    return _ExactVAE(model) if hasattr(model, "_enc") else _ExactAutoencoder(model)


class _View:
    def __init__(self, model):
        object.__setattr__(self, "_model", model)

    def __getattr__(self, name):  # everything not overridden is the model's
        if name == "_model" or name.startswith("__"):  # copy/pickle probe before __init__
            raise AttributeError(name)
        return getattr(self._model, name)

    def __setattr__(self, name, value):
        setattr(self._model, name, value)


class _ExactAutoencoder(_View):
    def encode(self, X):
        return encode(self._model, X)

    def decode(self, Z):
        return decode(self._model, Z)

    def reconstruct(self, X):
        return reconstruct(self._model, X)

    predict = reconstruct


def log_array(a) -> np.ndarray:
    """Natural log of values >= 0, elementwise, in float64 (lanes.math._log: the same bits
    everywhere; a negative value gives a meaningless number, not NaN)."""
    from nbae.engine.lanes.math import log_inplace

    F = np.array(a, dtype=np.float64).ravel()
    log_inplace(F)
    return F.reshape(np.shape(a))


def exp_array(a) -> np.ndarray:
    """exp, elementwise, in float64 (vae_arith.exp_any: the same bits everywhere)."""
    from nbae.engine.vae_arith import exp_inplace

    F = np.array(a, dtype=np.float64).ravel()
    exp_inplace(F)
    return F.reshape(np.shape(a))


class _ExactVAE(_View):
    def encode(self, X, return_sigma=False):
        v = self._model
        X = v._check_inputs(X)
        es, ew, eb, eacts = v._enc
        H = _chain(v._theta, es, ew, eb, eacts, v.dtype, v.leaky_slope, X)
        mu = np.ascontiguousarray(H[:, :v.latent_dim])
        if not return_sigma:
            return mu
        return mu, exp_array(0.5 * H[:, v.latent_dim:].astype(np.float64)).astype(v.dtype)

    def decode(self, Z):
        v = self._model
        Z = v._check_codes(Z)
        ds, dw, db, dacts = v._dec
        return _chain(v._theta, ds, dw, db, dacts, v.dtype, v.leaky_slope, Z)

    def reconstruct(self, X):
        return self.decode(self.encode(X))

    predict = reconstruct

    def sample(self, n: int, seed: int = 0):
        return self.decode(self._model._prior_codes(n, seed))

    def loss_terms(self, X, Y=None, n_samples: int = 1, seed: int = 0) -> dict:
        from nbae.engine.vae import loss_terms

        return loss_terms(self._model, X, Y, n_samples, seed, self.encode, self.decode,
                          log_array, exact=True)

    def loss(self, X, Y=None, n_samples: int = 1, seed: int = 0) -> float:
        t = self.loss_terms(X, Y, n_samples=n_samples, seed=seed)
        return math.fsum(t["reconstruction"] + self.beta * t["kl"]) / len(t["kl"])
