"""Kernel gradients against central finite differences and against the NumPy reference."""

import numpy as np
import pytest
from reference import gradients as ref_gradients

from nbae import Autoencoder

ACTS = ["identity", "tanh", "sigmoid", "relu", "leaky_relu", "softmax"]


def _data(rng, n, d, low=0.05, high=0.95):
    return rng.uniform(low, high, size=(n, d))


def _model(hidden, latent="identity", output="sigmoid", loss="mse", seed=3):
    # xavier keeps pre-activations away from relu kinks where finite differences break down
    return Autoencoder([6, 5, 3], activation=hidden, latent_activation=latent,
                       output_activation=output, loss=loss, init="xavier", seed=seed)


def _finite_differences(ae, X, Y, h=1e-6):
    theta = ae._theta
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        old = theta[i]
        theta[i] = old + h
        up = ae.loss(X, Y)
        theta[i] = old - h
        down = ae.loss(X, Y)
        theta[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def _flat(gW, gb):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(gW, gb, strict=True)])


@pytest.mark.parametrize("hidden", ACTS)
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_gradient_matches_finite_differences(hidden, loss):
    rng = np.random.default_rng(0)
    ae = _model(hidden, latent=hidden, loss=loss)
    X = _data(rng, 7, 6)
    _, gW, gb = ae.gradients(X)
    fd = _finite_differences(ae, X, X)
    np.testing.assert_allclose(_flat(gW, gb), fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("output", ["identity", "tanh", "softmax", "leaky_relu"])
def test_output_activation_gradients(output):
    rng = np.random.default_rng(1)
    ae = _model("tanh", output=output, loss="bce" if output == "softmax" else "mse")
    X = _data(rng, 4, 6)
    X = X / X.sum(axis=1, keepdims=True) if output == "softmax" else X
    _, gW, gb = ae.gradients(X)
    np.testing.assert_allclose(_flat(gW, gb), _finite_differences(ae, X, X), rtol=1e-5,
                               atol=1e-8)


def test_leaky_slope_is_used():
    rng = np.random.default_rng(2)
    X = _data(rng, 5, 6, -1, 1)
    grads = []
    for slope in (0.2, 0.5):
        ae = Autoencoder([6, 5, 3], activation="leaky_relu", output_activation="identity",
                         init="xavier", seed=3, leaky_slope=slope)
        _, gW, gb = ae.gradients(X)
        np.testing.assert_allclose(_flat(gW, gb), _finite_differences(ae, X, X), rtol=1e-5,
                                   atol=1e-8)
        grads.append(_flat(gW, gb))
    assert not np.allclose(grads[0], grads[1])


@pytest.mark.parametrize("hidden", ACTS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_matches_numpy_reference(hidden, dtype):
    rng = np.random.default_rng(4)
    ae = Autoencoder([8, 6, 4, 2], activation=hidden, output_activation="sigmoid",
                     init="xavier", seed=5, dtype=dtype)
    X = _data(rng, 9, 8)
    loss, gW, gb = ae.gradients(X)
    W64 = [w.astype(np.float64) for w in ae.weights]
    b64 = [b.astype(np.float64) for b in ae.biases]
    rloss, rW, rb = ref_gradients(W64, b64, ae.activations, "mse", X, X)
    tol = 1e-12 if dtype == "float64" else 2e-5
    assert loss == pytest.approx(rloss, rel=tol)
    np.testing.assert_allclose(_flat(gW, gb), _flat(rW, rb), rtol=tol * 10, atol=tol)
    ref_out = X
    for W, b, name in zip(W64, b64, ae.activations, strict=True):
        from reference import act
        ref_out = act(name, ref_out @ W + b)
    np.testing.assert_allclose(ae.reconstruct(X), ref_out, rtol=tol * 10, atol=tol)
