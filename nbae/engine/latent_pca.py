"""Sweeps along the principal axes of the training codes (where the codes actually vary).

A sweep of two raw latent coordinates can show almost nothing: in a many-unit latent space
the training codes may hardly move along units 1 and 2, so 81 decodings look alike (issue 11,
the flower latent grid). The principal axes of the centred training codes are the directions
of largest spread; sweeping them, in units of the codes' own standard deviation along each
axis, shows the largest changes the model has learnt. Arrays in, arrays out (decoding is the
caller's business), so the figures and the studies can both use it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["PrincipalAxes", "PrincipalGrid", "principal_axes", "principal_grid"]


class PrincipalAxes(NamedTuple):
    """Principal axes of a set of codes, largest spread first."""

    mean: np.ndarray        # (k,) mean code
    directions: np.ndarray  # (r, k) unit vectors, one per row, r = min(m, k)
    std: np.ndarray         # (r,) standard deviation (ddof=0) of the codes along each axis
    explained: np.ndarray   # (r,) share of the total variance along each axis (sums to 1)


class PrincipalGrid(NamedTuple):
    """An ``n x n`` sweep over two principal axes; ``codes[i, j]`` sits at ``(xs[j], ys[i])``."""

    xs: np.ndarray          # (n,) offsets along the first swept axis, in its std units
    ys: np.ndarray          # (n,) offsets along the second, largest first (row 0 at the top)
    codes: np.ndarray       # (n, n, k) latent codes to decode
    directions: np.ndarray  # (2, k) the two swept unit vectors
    std: np.ndarray         # (2,) std of the training codes along them (the unit of xs, ys)
    explained: np.ndarray   # (2,) share of the training codes' variance along them


def _codes(Z) -> np.ndarray:
    try:
        Z = np.asarray(Z, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("Z must be a numeric (n, latent) array of training codes") from None
    if Z.ndim != 2 or Z.shape[0] < 2 or Z.shape[1] < 2:
        raise ValueError(f"Z must be (n, latent) codes with n >= 2 and latent >= 2, "
                         f"got shape {Z.shape}")
    if not np.isfinite(Z).all():
        raise ValueError("Z contains NaN or infinite values")
    return Z


def principal_axes(Z) -> PrincipalAxes:
    """Principal axes of the codes ``Z`` (n, k) from the SVD of the centred codes.

    Signs are made deterministic: each direction's largest-magnitude component is positive
    (so a sweep does not flip between runs or BLAS builds).
    """
    Z = _codes(Z)
    mean = Z.mean(axis=0)
    _, s, vt = np.linalg.svd(Z - mean, full_matrices=False)
    big = np.argmax(np.abs(vt), axis=1)
    vt = vt * np.sign(vt[np.arange(len(vt)), big])[:, None]
    var = s**2 / Z.shape[0]
    total = var.sum()
    explained = var / total if total > 0 else np.zeros_like(var)
    return PrincipalAxes(mean, vt, np.sqrt(var), explained)


def principal_grid(Z, center=None, n: int = 9, span: float | None = 2.0,
                   dims=(0, 1)) -> PrincipalGrid:
    """Codes of an ``n x n`` sweep along principal axes ``dims`` of ``Z`` around ``center``.

    ``Z`` (m, k) are the training codes; ``center`` (k,) is the code the sweep is centred on
    (default: their mean); ``span`` is the half-width of the sweep in standard deviations of
    the codes' projection on each axis (2.0: from -2 to +2 std; None: far enough from
    ``center`` to reach the farthest training code on either axis); ``dims`` are the two
    0-based principal axes (0 = largest spread). ``codes[i, j] = center + xs[j] * std[0] *
    directions[0] + ys[i] * std[1] * directions[1]``, with ``ys`` decreasing so row 0 is the
    top of a picture, as in :func:`nbae.latent.latent_grid`.
    """
    Z = _codes(Z)
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if span is not None:
        span = float(span)
        if not (np.isfinite(span) and span > 0):
            raise ValueError(f"span must be a positive number of standard deviations, "
                             f"got {span!r}")
    axes = principal_axes(Z)
    r, k = axes.directions.shape
    try:
        a, b = (int(d) for d in dims)
    except (TypeError, ValueError):
        raise ValueError(f"dims must be two principal axis numbers, got {dims!r}") from None
    if not (0 <= a < r and 0 <= b < r and a != b) or list(dims) != [a, b]:
        raise ValueError(f"dims must be two different principal axes in 0..{r - 1}, got {dims!r}")
    c = axes.mean if center is None else np.asarray(center, dtype=np.float64).ravel()
    if c.size != k or not np.isfinite(c).all():
        raise ValueError(f"center must be {k} finite values (a code), got shape {c.shape}")
    std = axes.std[[a, b]]
    # a direction with (numerically) no spread would sweep nothing: say so instead
    if std.min() <= 1e-12 * max(axes.std[0], 1e-300):
        flat = [a, b][int(np.argmin(std))]
        raise ValueError(f"the codes do not vary along principal axis {flat + 1}; "
                         f"sweep a lower axis or the latent coordinates")
    if span is None:  # the codes' own reach along the two axes, in their std units
        span = float(np.abs((Z - c) @ axes.directions[[a, b]].T / std).max())
    xs = np.linspace(-span, span, int(n))
    ys = xs[::-1].copy()
    va, vb = axes.directions[a] * std[0], axes.directions[b] * std[1]
    codes = c + xs[None, :, None] * va + ys[:, None, None] * vb
    return PrincipalGrid(xs, ys, codes, axes.directions[[a, b]], std, axes.explained[[a, b]])
