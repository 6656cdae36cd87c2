"""The VAE's reproducible arithmetic (``VAE.fit(reproducible=True)``, nbae.engine.vae_arith).

Its own exp, sin and cos against libm; gradients and training against the default (BLAS)
arithmetic; golden weight hashes that every CI machine must reproduce bit for bit.
PyTorch equivalence of the reproducible fit: tests/test_vae_torch.py.
"""

import copy
import hashlib

import numpy as np
import pytest
from numba import njit

from nbae.data.font import font_matrix, read_font
from nbae.engine.vae import VAE
from nbae.engine.vae_arith import exp_any, sincos


@pytest.fixture(scope="module")
def font():
    return font_matrix(read_font("data/font.h", "Font3"))


@njit(cache=True)
def _exp_all(y, out):
    for i in range(y.size):
        out[i] = exp_any(y[i])


@njit(cache=True)
def _sincos_all(t, out):
    for i in range(t.size):
        s, c = sincos(t[i])
        out[i, 0] = s
        out[i, 1] = c


def test_exp_of_any_sign_within_one_ulp():
    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, 1e-300, -1e-300, 709.78, 709.79, -745.2, -746.0, -1100.0, np.inf,
             -np.inf, np.nan, 1.0, -1.0, 0.5 * np.log(2.0)]
    y = np.concatenate([rng.uniform(-745.0, 709.78, 1_000_000), rng.uniform(-5, 5, 200_000),
                        edges])
    got = np.empty_like(y)
    _exp_all(y, got)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = np.exp(y)
        err = np.abs(got - ref)
    normal = np.isfinite(ref) & (ref >= np.finfo(float).tiny)
    assert (err[normal] <= np.spacing(ref[normal])).all()
    assert (err[~normal & np.isfinite(ref)] <= 5e-324).all()  # subnormal results: 1 unit
    np.testing.assert_array_equal(got[-len(edges):][9:11], [np.inf, 0.0])
    assert np.isnan(got[-4]) and got[-len(edges)] == 1.0


def test_sin_and_cos_of_box_muller_angles_within_one_ulp():
    rng = np.random.default_rng(1)
    t = np.concatenate([rng.uniform(0.0, 2 * np.pi, 1_000_000),
                        np.arange(0.0, 2 * np.pi, np.pi / 4), [np.nextafter(2 * np.pi, 0)]])
    got = np.empty((t.size, 2))
    _sincos_all(t, got)
    for k, f in enumerate((np.sin, np.cos)):
        ref = f(t)
        err = np.abs(got[:, k] - ref)
        assert err.max() <= 2.0**-53  # near the zeros: an absolute bound
        big = np.abs(ref) > 1e-3
        assert (err[big] <= np.spacing(np.abs(ref[big]))).all()


@pytest.mark.parametrize("layers,hidden,loss,out,rows", [
    ([35, 12, 6, 2], "tanh", "bce", "sigmoid", 32),
    ([35, 12, 6, 2], "relu", "mse", "sigmoid", 32),
    ([35, 12, 6, 2], "leaky_relu", "cce", "softmax", 32),
    ([35, 9, 2], "sigmoid", "bce", "sigmoid", 1),  # one row
    ([35, 2], "tanh", "mse", "identity", 5),  # one-layer chains: dz from the first backward step
    ([35, 400, 2], "tanh", "bce", "sigmoid", 32),  # wide layers: packed weight gradients
])
def test_gradients_equal_the_default_arithmetic(font, layers, hidden, loss, out, rows):
    vae = VAE(layers, activation=hidden, loss=loss, output_activation=out, seed=3)
    X = font[:rows] if loss != "cce" else (font[:rows] + 0.1) / (font[:rows] + 0.1).sum(
        1, keepdims=True)
    E = np.random.default_rng(2).standard_normal((len(X), 2))
    loss0, gW0, gb0 = vae.gradients(X, E)
    loss1, gW1, gb1 = vae.gradients(X, E, reproducible=True)
    assert loss1 == pytest.approx(loss0, rel=1e-13)
    for a, b in zip(gW0 + gb0, gW1 + gb1, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-14)
        assert np.abs(a).max() > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_packed_weight_gradient_is_the_lanes_product_bit_for_bit(dtype):
    from nbae.engine.lanes.kernels import dense_backward
    from nbae.engine.vae_arith import _packed_weight_gradient

    rng = np.random.default_rng(5)
    B, fi, fo = 20, 300, 70  # 70 columns: full strips and every edge; 300 rows: 6 blocks
    buf, d = rng.standard_normal(B * fi).astype(dtype), rng.standard_normal(B * fo).astype(dtype)
    theta = rng.standard_normal(fi * fo + fo).astype(dtype)
    g1, g2 = np.zeros(fi * fo + fo, dtype), np.full(fi * fo + fo, np.nan, dtype)
    dense_backward(buf, 0, fi, d, np.zeros(B * fi, dtype), fo, theta, g1, 0, fi * fo, B, False,
                   (0,))
    _packed_weight_gradient(buf, 0, fi, d, fo, g2, 0, B)
    np.testing.assert_array_equal(g2[:fi * fo], g1[:fi * fo])


def test_reproducible_fit_tracks_the_default_fit(font):
    thetas = []
    for reproducible in (False, True):
        vae = VAE([35, 25, 15, 5, 2], seed=0, kl_warmup=20)
        vae.fit(font, epochs=150, batch_size=5, lr=2e-3, restore_best=False,
                reproducible=reproducible)
        thetas.append(vae._theta.copy())
        assert (vae.training.get("engine") == "lanes") == reproducible
    # the two arithmetics round differently (fma chains vs BLAS, own vs libm exp/log/sin/cos)
    # but, over 1,050 steps, only in the last bits
    np.testing.assert_allclose(thetas[1], thetas[0], rtol=0, atol=1e-11)


def test_reproducible_fit_saves_and_loads_its_engine(font, tmp_path):
    vae = VAE([35, 6, 2], seed=0)
    vae.fit(font, epochs=3, reproducible=True)
    vae.save(tmp_path / "v.npz")
    assert VAE.load(tmp_path / "v.npz").training["engine"] == "lanes"


def test_reproducible_with_dropout_is_a_clear_error(font):
    vae = VAE([35, 12, 2], seed=0, dropout=0.2)
    with pytest.raises(ValueError, match="reproducible=True does not support dropout"):
        vae.fit(font, epochs=1, reproducible=True)
    assert vae.epochs_trained == 0


def _golden(font, optimizer, dtype):
    digest = hashlib.sha256()
    for seed in (0, 1):
        vae = VAE([35, 25, 15, 5, 2], seed=seed, dtype=dtype, kl_warmup=3)
        vae.fit(font, epochs=8, batch_size=5, optimizer=optimizer,
                lr={"sgd": 0.05, "adagrad": 0.02, "adam": 2e-3}[optimizer],
                momentum=0.9 if optimizer == "sgd" else 0.0, restore_best=False,
                reproducible=True)
        digest.update(vae._theta.tobytes())
    return digest.hexdigest()


# golden sha256 of the weights of seeds 0 and 1 after 8 shuffled epochs (56 steps, eps drawn
# by the compiled generator) on the font: the same on every x86-64 machine (regenerate only for
# an intended change of the arithmetic)
GOLDEN = {
    ("sgd", "float64"):
        "2aed477e8157c29d6d8d1b6c13c3be8bef327c2d46dae702596c8df2e385ca2c",
    ("adagrad", "float64"):
        "65e666bf124aebdf1c3992012a31b3cf86cc5586898350e4915c9ba26a320f29",
    ("adam", "float64"):
        "30363ad9741360dddecff7c472a7c4f0e1895b7a32e87d0246e18318835c68a6",
    ("adam", "float32"):
        "755f60cfccca384ca00e6ccbf6b5dc5cbc0bf4a949edaa8876cab8595c76c7fe",
}


@pytest.mark.parametrize("optimizer,dtype", [
    ("sgd", "float64"), ("adagrad", "float64"), ("adam", "float64"),
    pytest.param("adam", "float32", marks=pytest.mark.slow),  # one more compile (~45 s)
])
def test_golden_weights(font, optimizer, dtype):
    assert _golden(font, optimizer, dtype) == GOLDEN[optimizer, dtype]


# sha256 of a reproducible VAE's evaluations (mu, sigma, reconstruction, prior samples, loss
# terms; the golden Adam models of seed 0): the same on every x86-64 machine
GOLDEN_EVAL = {
    "float64": "9da7271ba3da37bec4406e14daa42a28c55d8a8585aac30392e4b7e62d19fd66",
    "float32": "df46021204d7f42c2f62a556a734b46a4532586f05ad0c121dfd20e2484291dd",
}


def _golden_eval(font, dtype):
    from nbae.engine.exact import evaluator

    vae = VAE([35, 25, 15, 5, 2], seed=0, dtype=dtype, kl_warmup=3)
    vae.fit(font, epochs=8, batch_size=5, lr=2e-3, restore_best=False, reproducible=True)
    ev = evaluator(vae)
    mu, sigma = ev.encode(font, return_sigma=True)
    terms = ev.loss_terms(font, n_samples=2, seed=5)
    digest = hashlib.sha256()
    for a in (mu, sigma, ev.reconstruct(font), ev.sample(4, seed=2), terms["reconstruction"],
              terms["kl"]):
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
def test_golden_evaluations(font, dtype):
    assert _golden_eval(font, dtype) == GOLDEN_EVAL[dtype]


def test_evaluator_runs_a_reproducible_model_in_its_own_arithmetic(font):
    from nbae.engine.exact import evaluator

    blas = VAE([35, 12, 2], seed=0)
    blas.fit(font, epochs=5)
    assert evaluator(blas) is blas  # trained on BLAS: evaluated on BLAS
    vae = VAE([35, 12, 2], seed=0, loss="mse")
    vae.fit(font, epochs=5, reproducible=True)
    ev = evaluator(vae)
    assert ev is not vae and ev.latent_dim == 2 and ev.training is vae.training
    mu, sigma = ev.encode(font, return_sigma=True)
    mu0, sigma0 = vae.encode(font, return_sigma=True)
    np.testing.assert_allclose(mu, mu0, rtol=0, atol=1e-13)
    np.testing.assert_allclose(sigma, sigma0, rtol=1e-14)
    np.testing.assert_allclose(ev.reconstruct(font), vae.reconstruct(font), rtol=0, atol=1e-13)
    np.testing.assert_allclose(ev.sample(5, seed=3), vae.sample(5, seed=3), rtol=0, atol=1e-13)
    t, t0 = ev.loss_terms(font, n_samples=3, seed=1), vae.loss_terms(font, n_samples=3, seed=1)
    for key in ("reconstruction", "kl"):
        np.testing.assert_allclose(t[key], t0[key], rtol=1e-12)
    assert ev.loss(font, seed=1) == pytest.approx(vae.loss(font, seed=1), rel=1e-12)
    ev.metadata["note"] = "kept"  # attributes are the model's, writes included
    assert vae.metadata["note"] == "kept"
    assert copy.copy(ev).latent_dim == 2  # no recursion through __getattr__
    with pytest.raises(ValueError, match="35"):
        ev.encode(np.zeros((2, 34)))


def test_nearest_photos_by_exact_sums_agrees_with_the_blas_search():
    from nbae.engine.latent import nearest
    from nbae.studies.vae import nearest_photos

    rng = np.random.default_rng(4)
    X, S = rng.random((40, 64)), rng.random((7, 64))
    got = nearest_photos(S, X)
    idx, dist = nearest(S, X)
    np.testing.assert_array_equal(got["index"], idx)
    np.testing.assert_allclose(got["rms"], dist / 8.0, rtol=1e-12)
    d = [np.sqrt(((S[i] - S[j]) ** 2).mean()) for i in range(7) for j in range(i + 1, 7)]
    assert got["spread_rms"] == pytest.approx(np.mean(d), rel=1e-13)
