"""Walking the latent space: interpolations, grids, sampling, nearest neighbours.

Used by the study stages and by ``nbae interpolate`` / ``nbae generate``; all functions take a
trained model and return arrays, leaving drawing to :mod:`nbae.figures`.
"""

from __future__ import annotations

import numpy as np


def interpolate(ae, a, b, steps: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``steps`` points on the straight line between the codes of inputs ``a`` and ``b``.

    Returns (codes (steps, latent), decoded (steps, output)); the first and last rows are the
    codes of ``a`` and ``b`` themselves.
    """
    if int(steps) < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    za, zb = ae.encode(np.vstack([np.ravel(a), np.ravel(b)]))
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    Z = (1.0 - t) * za + t * zb
    return Z, ae.decode(Z)


def latent_grid(ae, center=None, dims=(0, 1), span=None, n: int = 9):
    """Decode an ``n x n`` grid varying latent coordinates ``dims`` around ``center``.

    ``center`` defaults to the origin; ``span`` is (x_min, x_max, y_min, y_max) and defaults
    to the range of the training codes stored in ``ae.metadata["latent_stats"]`` (else +-1
    around the centre). Other coordinates stay at the centre's values. Returns
    (xs, ys, images (n, n, output)) with row 0 at the top (largest y).
    """
    k = ae.latent_dim
    i, j = dims
    if not (0 <= i < k and 0 <= j < k and i != j):
        raise ValueError(f"dims must be two different latent coordinates in 0..{k - 1}")
    c = np.zeros(k) if center is None else np.asarray(center, dtype=np.float64).ravel()
    if c.size != k:
        raise ValueError(f"center has {c.size} values but the latent space has {k}")
    if span is None:
        stats = ae.metadata.get("latent_stats") or {}
        if "min" in stats and "max" in stats:
            lo, hi = np.asarray(stats["min"]), np.asarray(stats["max"])
            pad_i, pad_j = 0.1 * (hi[i] - lo[i]), 0.1 * (hi[j] - lo[j])
            span = (lo[i] - pad_i, hi[i] + pad_i, lo[j] - pad_j, hi[j] + pad_j)
        else:
            span = (c[i] - 1, c[i] + 1, c[j] - 1, c[j] + 1)
    xs = np.linspace(span[0], span[1], n)
    ys = np.linspace(span[3], span[2], n)
    Z = np.tile(c, (n * n, 1))
    Z[:, i] = np.tile(xs, n)
    Z[:, j] = np.repeat(ys, n)
    return xs, ys, ae.decode(Z).reshape(n, n, -1)


def sample_codes(ae, n: int, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """Draw ``n`` codes from a Gaussian fitted to the training codes (``latent_stats``)."""
    stats = ae.metadata.get("latent_stats")
    if not stats:
        raise ValueError("the model has no latent_stats (train it with nbae, which records the "
                         "distribution of its training codes)")
    mean = np.asarray(stats["mean"], dtype=np.float64)
    cov = np.asarray(stats["cov"], dtype=np.float64) * scale**2
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(mean, cov, size=int(n), method="eigh")


def nearest(queries, references) -> tuple[np.ndarray, np.ndarray]:
    """Index of and Euclidean distance to the nearest row of ``references`` for each query."""
    Q = np.asarray(queries, dtype=np.float64)
    R = np.asarray(references, dtype=np.float64)
    d2 = (Q**2).sum(1)[:, None] - 2 * Q @ R.T + (R**2).sum(1)[None, :]
    idx = np.argmin(d2, axis=1)
    return idx, np.sqrt(np.maximum(d2[np.arange(len(Q)), idx], 0.0))
