"""Machine-independent inference: encode / decode / reconstruct with the lanes arithmetic.

``Autoencoder.encode`` and friends multiply through BLAS, whose kernels (and so the last bits
of every output) differ between CPUs. The studies whose committed numbers must be
bit-identical on any x86-64 machine (font and denoising) evaluate with these functions
instead: the lanes engine's forward pass with one lane (no BLAS, fixed summation order,
explicit fma, the project's own tanh/sigmoid), the same arithmetic as training with
``reproducible=True``. They agree with the BLAS results to rounding (tests/test_exact.py).
"""

from __future__ import annotations

import numpy as np

_ROWS = 256  # rows per kernel call: bounds the scratch buffer, not the result


def _forward(ae, X, first: int, last: int) -> np.ndarray:
    """Layers ``first .. last-1`` of ``ae`` applied to the rows of ``X``."""
    from nbae.engine.lanes import kernels as lk

    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != ae.sizes[first]:
        raise ValueError(f"expected an (n, {ae.sizes[first]}) array, got shape {X.shape}")
    dt = ae.dtype
    sizes = ae.sizes
    B = min(_ROWS, max(1, X.shape[0]))
    offs = np.cumsum([0] + [B * s for s in sizes]).astype(np.int64)
    buf = np.zeros(int(offs[-1]), dt)
    theta = np.ascontiguousarray(ae._theta)
    slope = dt.type(ae.leaky_slope)
    out = np.empty((X.shape[0], sizes[last]), dt)
    lanes = (0,)
    for r0 in range(0, X.shape[0], B):
        rows = min(B, X.shape[0] - r0)
        buf[offs[first]:offs[first] + rows * sizes[first]] = X[r0:r0 + rows].astype(dt).ravel()
        for l in range(first, last):
            lk.dense_forward(buf, offs[l], sizes[l], offs[l + 1], sizes[l + 1], theta,
                             ae._w_off[l], ae._b_off[l], rows, lanes)
            lk.activate_lanes(buf, offs[l + 1], rows, sizes[l + 1], ae._acts[l], slope, lanes)
        out[r0:r0 + rows] = buf[offs[last]:offs[last] + rows * sizes[last]].reshape(rows, -1)
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
