"""principal_axes / principal_grid against a NumPy eigendecomposition of the covariance."""

from __future__ import annotations

import numpy as np
import pytest

from nbae.engine.latent_pca import principal_axes, principal_grid

RNG = np.random.default_rng(7)


def _codes(n=400, k=4, spreads=(3.0, 1.0, 0.3, 0.05)):
    Q, _ = np.linalg.qr(RNG.normal(size=(k, k)))  # a random rotation
    return RNG.normal(size=(n, k)) * np.asarray(spreads) @ Q.T + RNG.normal(size=k), Q


def test_axes_match_covariance_eigendecomposition():
    Z, _ = _codes()
    ax = principal_axes(Z)
    w, v = np.linalg.eigh(np.cov(Z.T, ddof=0))
    w, v = w[::-1], v[:, ::-1]
    np.testing.assert_allclose(ax.std, np.sqrt(w), rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(ax.directions * v.T, axis=1)), 1.0, atol=1e-10)
    np.testing.assert_allclose(ax.explained, w / w.sum(), rtol=1e-10)
    np.testing.assert_allclose(ax.mean, Z.mean(axis=0))
    big = np.abs(ax.directions).argmax(axis=1)
    assert (ax.directions[np.arange(4), big] > 0).all()  # deterministic signs


def test_signs_do_not_depend_on_row_order():
    Z, _ = _codes()
    a = principal_axes(Z).directions
    b = principal_axes(Z[RNG.permutation(len(Z))]).directions
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_grid_codes_sit_at_their_axis_values():
    Z, _ = _codes()
    center = Z[5]
    g = principal_grid(Z, center, n=5, span=2.0, dims=(0, 2))
    ax = principal_axes(Z)
    assert g.codes.shape == (5, 5, 4)
    np.testing.assert_allclose(g.xs, [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(g.ys, [2, 1, 0, -1, -2])  # row 0 at the top
    np.testing.assert_allclose(g.directions, ax.directions[[0, 2]])
    np.testing.assert_allclose(g.std, ax.std[[0, 2]])
    offsets = (g.codes - center) @ g.directions.T / g.std  # back to std units
    np.testing.assert_allclose(offsets[..., 0], np.broadcast_to(g.xs, (5, 5)), atol=1e-12)
    np.testing.assert_allclose(offsets[..., 1], np.broadcast_to(g.ys[:, None], (5, 5)),
                               atol=1e-12)
    np.testing.assert_allclose(g.codes[2, 2], center)
    np.testing.assert_allclose(principal_grid(Z, n=3).codes[1, 1], Z.mean(axis=0))


def test_sweeps_the_directions_the_codes_vary_along():
    # codes that move only in latent coordinates 2 and 3: a sweep of coordinates 0 and 1
    # would change nothing, the principal sweep moves exactly coordinates 2 and 3
    a, b = RNG.normal(0, 4.0, 200), RNG.normal(0, 1.0, 200)
    a, b = a - a.mean(), b - b.mean()
    b -= a * (a @ b) / (a @ a)  # exactly uncorrelated: the axes are exactly e2 and e3
    Z = np.zeros((200, 6))
    Z[:, 2], Z[:, 3] = a, b
    g = principal_grid(Z, n=9, span=2.0)
    std = principal_axes(Z).std
    spread = np.ptp(g.codes.reshape(-1, 6), axis=0)
    np.testing.assert_allclose(spread, [0, 0, 4 * std[0], 4 * std[1], 0, 0], atol=1e-9)


def test_span_none_reaches_the_farthest_code():
    Z, _ = _codes()
    g = principal_grid(Z, Z[0], n=3, span=None, dims=(1, 0))
    proj = (Z - Z[0]) @ g.directions.T / g.std
    assert g.xs[-1] == pytest.approx(np.abs(proj).max())
    assert np.abs(proj).max(axis=0).max() == pytest.approx(g.ys[0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(n=1), "n must"),
    (dict(n=2.5), "n must"),
    (dict(span=0), "span"),
    (dict(span=np.nan), "span"),
    (dict(dims=(1, 1)), "dims"),
    (dict(dims=(0, 4)), "dims"),
    (dict(center=[0, 0]), "center"),
])
def test_bad_arguments(kwargs, match):
    Z, _ = _codes()
    with pytest.raises(ValueError, match=match):
        principal_grid(Z, **kwargs)


def test_bad_codes_and_flat_axes():
    with pytest.raises(ValueError, match="n >= 2"):
        principal_grid(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        principal_grid(np.array([[0, 1], [np.nan, 2.0]]))
    line = np.outer(np.arange(10.0), [1, 2, 3])  # the codes vary along one direction only
    with pytest.raises(ValueError, match="principal axis 2"):
        principal_grid(line)
