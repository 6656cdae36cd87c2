"""The variational autoencoder: exact gradients, PyTorch equivalence, API and files."""

import numpy as np
import pandas as pd
import pytest
from reference import act

from nbae.engine.model import Autoencoder
from nbae.engine.serialization import ModelFileError
from nbae.engine.vae import VAE
from nbae.engine.vae_io import load_any

ACTS = ["identity", "tanh", "sigmoid", "relu", "leaky_relu", "softmax"]


def _data(rng, n, d, low=0.05, high=0.95):
    return rng.uniform(low, high, size=(n, d))


def _flat(gW, gb):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(gW, gb, strict=True)])


def _fd(vae, X, E, h=1e-6):
    theta = vae._theta
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        old = theta[i]
        theta[i] = old + h
        up = vae.gradients(X, E)[0]
        theta[i] = old - h
        down = vae.gradients(X, E)[0]
        theta[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def _numpy_loss(vae, X, E, beta):
    """The loss convention written out in NumPy, from the model's weights."""
    A = X
    ne = vae.n_encoder_layers
    for W, b, name in zip(vae.weights[:ne], vae.biases[:ne], vae.activations[:ne], strict=True):
        A = act(name, A @ W + b, vae.leaky_slope)
    k = vae.latent_dim
    mu, lv = A[:, :k], A[:, k:]
    A = mu + np.exp(0.5 * lv) * E
    for W, b, name in zip(vae.weights[ne:], vae.biases[ne:], vae.activations[ne:], strict=True):
        A = act(name, A @ W + b, vae.leaky_slope)
    if vae.loss_name == "mse":
        rec = ((A - X) ** 2).sum(1)
    elif vae.loss_name == "cce":
        rec = -(X * np.log(A)).sum(1)
    else:
        rec = -(X * np.maximum(np.log(A), -100) + (1 - X) * np.maximum(np.log(1 - A), -100)).sum(1)
    kl = -0.5 * (1 + lv - mu**2 - np.exp(lv)).sum(1)
    return (rec + beta * kl).mean()


# ---------------------------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("hidden", ACTS)
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_gradient_matches_finite_differences(hidden, loss):
    rng = np.random.default_rng(0)
    vae = VAE([6, 5, 2], activation=hidden, loss=loss, beta=0.7, seed=3)
    X = _data(rng, 7, 6)
    E = rng.standard_normal((7, 2))
    lossv, gW, gb = vae.gradients(X, E)
    assert lossv == pytest.approx(_numpy_loss(vae, X, E, 0.7), rel=1e-12)
    np.testing.assert_allclose(_flat(gW, gb), _fd(vae, X, E), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("layers,decoder,output", [
    ([6, 3], None, "sigmoid"),               # heads straight on the input
    ([6, 5, 4, 3], [3, 6], "identity"),      # deeper encoder, one-layer decoder, mse
    ([6, 4, 2], [2, 5, 4, 6], "tanh"),
])
def test_gradient_other_shapes(layers, decoder, output):
    rng = np.random.default_rng(1)
    loss = "bce" if output == "sigmoid" else "mse"
    vae = VAE(layers, decoder=decoder, output_activation=output, loss=loss, seed=4)
    X = _data(rng, 5, 6)
    E = rng.standard_normal((5, layers[-1]))
    lossv, gW, gb = vae.gradients(X, E)
    assert lossv == pytest.approx(_numpy_loss(vae, X, E, 1.0), rel=1e-12)
    np.testing.assert_allclose(_flat(gW, gb), _fd(vae, X, E), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_categorical_cross_entropy_gradient(hidden):
    rng = np.random.default_rng(3)
    vae = VAE([6, 5, 2], activation=hidden, output_activation="softmax", loss="cce", seed=2)
    X = _data(rng, 6, 6)
    X /= X.sum(1, keepdims=True)  # soft targets: distributions over the 6 outputs
    E = rng.standard_normal((6, 2))
    lossv, gW, gb = vae.gradients(X, E)
    assert lossv == pytest.approx(_numpy_loss(vae, X, E, 1.0), rel=1e-12)
    np.testing.assert_allclose(_flat(gW, gb), _fd(vae, X, E), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="needs a softmax output"):
        VAE([6, 2], output_activation="sigmoid", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="non-negative targets"):
        vae.gradients(X - 0.5, E)


def test_loss_terms_split_and_beta_zero():
    rng = np.random.default_rng(2)
    vae = VAE([6, 5, 2], seed=0)
    X = _data(rng, 4, 6)
    E = rng.standard_normal((4, 2))
    E_before = E.copy()
    full = vae.gradients(X, E)[0]
    np.testing.assert_array_equal(E, E_before)  # the caller's eps is not touched
    t = vae.last_loss_terms
    assert full == pytest.approx(t["reconstruction"] + t["kl"], rel=1e-14)
    assert vae.gradients(X, E, beta=0.0)[0] == pytest.approx(t["reconstruction"], rel=1e-14)
    # the NumPy per-row terms at z = mu + sigma * eps agree with the kernel's batch means
    terms = vae.loss_terms(X, n_samples=1, seed=0)
    assert terms["kl"].mean() == pytest.approx(t["kl"], rel=1e-12)
    E0 = np.random.default_rng(0).standard_normal((4, 2))  # the draw loss_terms(seed=0) makes
    assert vae.loss(X, seed=0) == pytest.approx(vae.gradients(X, E0)[0], rel=1e-12)


def test_eps_generator_is_standard_normal():
    from nbae.engine.vae_arith import DEFAULT, EXACT
    from nbae.engine.vae_kernels import draw_eps

    draws = []
    for lanes in (DEFAULT, EXACT):  # libm's log, sin, cos; the project's own
        E = np.empty((50000, 2))
        draw_eps(E, np.array([7], dtype=np.uint64), np.zeros((0, 2)), np.zeros(1, np.int64),
                 lanes)
        assert abs(E.mean()) < 0.01 and abs(E.std() - 1) < 0.01
        assert abs(np.corrcoef(E[:-1, 0], E[1:, 0])[0, 1]) < 0.02
        assert abs(np.mean(E**4) - 3) < 0.1  # Gaussian kurtosis
        draws.append(E)
    # the same draws up to the last bits of the two libraries
    np.testing.assert_allclose(draws[1], draws[0], rtol=0, atol=1e-14)


@pytest.mark.parametrize("hidden", ["tanh", "relu", "sigmoid"])
def test_dropout_gradient(hidden):
    rng = np.random.default_rng(4)
    vae = VAE([6, 5, 4, 2], activation=hidden, dropout=[0.4, 0.0, 0.5, 0.3], seed=1)
    # non-zero biases: a row whose inputs are all dropped would sit on relu's kink at z = b = 0
    vae.biases = [rng.uniform(0.05, 0.3, b.shape) for b in vae.biases]
    X = _data(rng, 7, 6)
    E = rng.standard_normal((7, 2))
    lossv, gW, gb = vae.gradients(X, E, dropout_seed=3)
    fd = np.zeros_like(vae._theta)
    for i in range(fd.size):  # the same masks at every evaluation: dropout_seed fixes them
        old = vae._theta[i]
        vae._theta[i] = old + 1e-6
        up = vae.gradients(X, E, dropout_seed=3)[0]
        vae._theta[i] = old - 1e-6
        fd[i] = (up - vae.gradients(X, E, dropout_seed=3)[0]) / 2e-6
        vae._theta[i] = old
    np.testing.assert_allclose(_flat(gW, gb), fd, rtol=1e-5, atol=1e-7)
    assert lossv != vae.gradients(X, E, dropout_seed=4)[0]  # other masks, other loss
    plain = VAE([6, 5, 4, 2], activation=hidden, seed=1)
    plain.biases = vae.biases
    assert lossv != plain.gradients(X, E)[0]
    np.testing.assert_array_equal(vae.encode(X), plain.encode(X))  # inference: no dropout
    with pytest.raises(ValueError, match="dropout must be in"):
        VAE([6, 5, 2], dropout=1.0)
    with pytest.raises(ValueError, match="dropout lists 1 values but the network has 2"):
        VAE([6, 5, 2], dropout=[0.1])


# ---------------------------------------------------------------------------------------------
# API


@pytest.fixture(scope="module")
def font_like():
    rng = np.random.default_rng(5)
    return (rng.random((16, 12)) > 0.5).astype(np.float64)


def test_fit_history_and_shapes(font_like):
    X = font_like
    vae = VAE([12, 8, 2], seed=2, kl_warmup=5)
    h = vae.fit(X, epochs=12, batch_size=4, lr=1e-2)
    assert list(h.columns) == ["epoch", "loss", "reconstruction", "kl", "beta"]
    assert h["epoch"].tolist() == list(range(1, 13))
    np.testing.assert_allclose(h["beta"], np.minimum(1, np.arange(1, 13) / 5))
    np.testing.assert_allclose(h["loss"], h["reconstruction"] + h["beta"] * h["kl"], rtol=1e-12)
    assert vae.training["best_epoch"] >= 5  # warm-up epochs are not candidates
    mu, sigma = vae.encode(X, return_sigma=True)
    assert mu.shape == sigma.shape == (16, 2) and (sigma > 0).all()
    np.testing.assert_array_equal(vae.encode(X), mu)
    assert vae.reconstruct(X).shape == (16, 12)
    np.testing.assert_array_equal(vae.sample(3, seed=4), vae.sample(3, seed=4))
    assert not np.array_equal(vae.sample(3, seed=4), vae.sample(3, seed=5))
    # the warm-up continues across fit calls
    h2 = vae.fit(X, epochs=2, batch_size=4, lr=1e-2)
    assert h2["epoch"].tolist() == [13, 14] and vae.epochs_trained == 14


def test_metric_and_callback(font_like):
    vae = VAE([12, 6, 2], seed=0)
    seen = []

    def metric(m):
        return {"mu_norm": np.abs(m.encode(font_like)).mean()}

    def callback(m, hist):
        seen.append(len(hist))
        return len(hist) >= 4

    h = vae.fit(font_like, epochs=7, metric=metric, metric_every=3, callback=callback,
                callback_every=2)
    assert seen == [2, 4] and vae.training["stop_reason"] == "callback"
    assert h["mu_norm"].notna().tolist() == [False, False, True, True]


def test_seeded_and_reproducible(font_like):
    runs = []
    for seed in (3, 3, 4):
        vae = VAE([12, 6, 2], seed=seed)
        vae.fit(font_like, epochs=5, batch_size=4)
        runs.append(vae.get_params())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_input_noise_denoising_vae(font_like):
    runs = {}
    for name, noise in (("none", None), ("zero", {"kind": "flip", "level": 0.0}),
                        ("flip", {"kind": "flip", "level": 0.2})):
        vae = VAE([12, 6, 2], seed=3)
        runs[name] = vae.fit(font_like, epochs=5, batch_size=4, input_noise=noise)
    pd.testing.assert_frame_equal(runs["none"], runs["zero"])  # level 0 draws nothing
    assert not np.allclose(runs["none"]["loss"], runs["flip"]["loss"])
    with pytest.raises(ValueError, match="probability"):
        VAE([12, 2]).fit(font_like, epochs=1, input_noise={"kind": "mask", "level": 2})


def test_float32(font_like):
    v32 = VAE([12, 6, 2], seed=1, dtype="float32")
    v64 = VAE([12, 6, 2], seed=1)
    E = np.random.default_rng(0).standard_normal((16, 2))
    l32, l64 = v32.gradients(font_like, E)[0], v64.gradients(font_like, E)[0]
    assert l32 == pytest.approx(l64, rel=1e-5)
    v32.fit(font_like, epochs=3)
    assert v32.get_params().dtype == np.float32 and v32.sample(2).dtype == np.float32


def test_save_load_roundtrip(tmp_path, font_like):
    vae = VAE([12, 6, 2], activation="relu", beta=0.5, kl_warmup=3, seed=1,
              metadata={"dataset": "toy"})
    vae.fit(font_like, epochs=4, batch_size=4)
    path = tmp_path / "vae.npz"
    vae.save(path)
    back = VAE.load(path)
    assert back.config() == vae.config() and back.metadata == {"dataset": "toy"}
    np.testing.assert_array_equal(back.get_params(), vae.get_params())
    np.testing.assert_array_equal(back.sample(4, seed=1), vae.sample(4, seed=1))
    assert back.training["epochs_run"] == 4 and back.epochs_trained == 4
    # a loaded model continues training exactly as the saved one would have
    vae.fit(font_like, epochs=2, batch_size=4)
    back.fit(font_like, epochs=2, batch_size=4)
    np.testing.assert_array_equal(back.get_params(), vae.get_params())
    assert isinstance(load_any(path), VAE)
    ae = Autoencoder([12, 6, 2])
    ae.save(tmp_path / "ae.npz")
    assert isinstance(load_any(tmp_path / "ae.npz"), Autoencoder)
    with pytest.raises(ModelFileError, match="not a VAE"):
        VAE.load(tmp_path / "ae.npz")


def test_bad_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not an nbae model"):
        VAE.load(tmp_path / "junk.npz")
    with pytest.raises(ModelFileError, match="no such model file"):
        VAE.load(tmp_path / "missing.npz")
    vae = VAE([12, 6, 2])
    vae.save(tmp_path / "v.npz")
    with np.load(tmp_path / "v.npz") as z:
        arrays = dict(z)
    arrays["W1"] = arrays["W1"][:, :2]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="W1 has shape"):
        VAE.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("kwargs,match", [
    ({"layers": [12]}, "at least an input"),
    ({"layers": [12, 2], "beta": -1}, "beta must be >= 0"),
    ({"layers": [12, 2], "kl_warmup": 1.5}, "kl_warmup must be an integer"),
    ({"layers": [12, 2], "output_activation": "tanh"}, "needs outputs in"),
    ({"layers": [12, 2], "decoder": [3, 12]}, "decoder must run"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAE(**kwargs)


def test_bad_fit_arguments(font_like):
    vae = VAE([12, 6, 2])
    with pytest.raises(ValueError, match="latent_noise has 3 rows"):
        vae.fit(font_like, epochs=1, latent_noise=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="momentum applies"):
        vae.fit(font_like, epochs=1, optimizer="adam", momentum=0.5)
    with pytest.raises(ValueError, match="X has 5 columns"):
        vae.fit(np.zeros((4, 5)), epochs=1)
    with pytest.raises(ValueError, match="targets in"):
        vae.fit(font_like * 2, epochs=1)
    with pytest.raises(ValueError, match="Z has 3 columns"):
        vae.decode(np.zeros((2, 3)))


def test_interrupt_keeps_best_weights_and_history(font_like):
    vae = VAE([12, 6, 2], seed=0)

    def stop(m, hist):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vae.fit(font_like, epochs=20, batch_size=4, callback=stop, callback_every=5)
    assert vae.training["stop_reason"] == "interrupted" and len(vae.history) == 5
    assert vae.training["restored_best"] and vae.epochs_trained == 5


def test_divergence_is_reported(font_like):
    from nbae.engine.model import TrainingDiverged

    vae = VAE([12, 6, 2], loss="mse", output_activation="identity", seed=0)
    with pytest.raises(TrainingDiverged, match="NaN/inf"):
        vae.fit(font_like * 1e3, epochs=50, optimizer="sgd", lr=10.0)
    assert np.isfinite(vae.get_params()).all()
    assert isinstance(vae.history, pd.DataFrame)
