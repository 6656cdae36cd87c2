"""Construction, validation, save/load of the Autoencoder API."""

import json
import zipfile

import numpy as np
import pytest

from nbae import Autoencoder
from nbae.engine.serialization import ModelFileError


def test_mirrored_architecture_and_activation_layout():
    ae = Autoencoder([35, 20, 10, 2], activation="tanh", latent_activation="identity",
                     output_activation="sigmoid")
    assert ae.sizes == [35, 20, 10, 2, 10, 20, 35]
    assert ae.activations == ["tanh", "tanh", "identity", "tanh", "tanh", "sigmoid"]
    assert ae.latent_dim == 2 and ae.input_dim == 35 and ae.output_dim == 35
    assert [w.shape for w in ae.weights] == [(35, 20), (20, 10), (10, 2), (2, 10), (10, 20),
                                             (20, 35)]
    assert ae.n_params == sum(w.size + b.size for w, b in zip(ae.weights, ae.biases,
                                                               strict=True))


def test_activation_lists_and_explicit_decoder():
    enc = Autoencoder([8, 6, 4, 2], activation=["relu", "tanh"])
    assert enc.activations == ["relu", "tanh", "identity", "tanh", "relu", "sigmoid"]
    full = Autoencoder([8, 6, 4, 2], activation=["relu", "tanh", "sigmoid", "leaky_relu"])
    assert full.activations[3:5] == ["sigmoid", "leaky_relu"]
    asym = Autoencoder([8, 4, 2], decoder=[2, 7, 8])
    assert asym.sizes == [8, 4, 2, 7, 8]
    X = np.random.default_rng(0).random((3, 8))
    assert asym.encode(X).shape == (3, 2) and asym.decode(np.zeros((4, 2))).shape == (4, 8)


def test_scaled_uniform_init():
    ae = Autoencoder([35, 20, 10, 2], init="scaled-uniform", seed=0)
    for l, W in enumerate(ae.weights):
        assert W.min() >= 0
        assert W.max() <= 1 / np.sqrt(l + 1)
        # U(0,1)/sqrt(l+1) has mean 0.5/sqrt(l+1)
        assert W.mean() == pytest.approx(0.5 / np.sqrt(l + 1), abs=0.25 / np.sqrt(l + 1))
    assert all(np.all(b == 0) for b in ae.biases)


@pytest.mark.parametrize("init,std", [("xavier", lambda fi, fo: np.sqrt(2 / (fi + fo))),
                                      ("he", lambda fi, fo: np.sqrt(2 / fi))])
def test_xavier_and_he_scale(init, std):
    ae = Autoencoder([400, 300, 2], init=init, seed=0)
    W = ae.weights[0]
    assert abs(W.mean()) < 0.01 * std(400, 300) * 10
    assert W.std() == pytest.approx(std(400, 300), rel=0.02)


def test_weights_are_settable_and_checked():
    ae = Autoencoder([4, 2])
    ae.weights = [np.ones((4, 2)), np.full((2, 4), 2.0)]
    assert np.all(ae.weights[1] == 2.0)
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(4, 2\)"):
        ae.weights = [np.ones((3, 2)), np.ones((2, 4))]
    with pytest.raises(ValueError, match="non-finite"):
        ae.biases = [np.array([np.nan, 0]), np.zeros(4)]


@pytest.mark.parametrize("kwargs,message", [
    ({"layers": [35]}, "at least an input and a latent"),
    ({"layers": [35, 0, 2]}, "integers >= 1"),
    ({"layers": "35,2"}, "list of integers"),
    ({"layers": [35, 2], "activation": "swish"}, "unknown activation 'swish'"),
    ({"layers": [8, 4, 2], "activation": ["tanh"] * 3}, "hidden layers"),
    ({"layers": [8, 2], "decoder": [3, 8]}, "decoder must run from the latent size 2"),
    ({"layers": [8, 2], "loss": "bce", "output_activation": "tanh"}, "outputs in \\(0, 1\\)"),
    ({"layers": [8, 2], "init": "orthogonal"}, "unknown init"),
    ({"layers": [8, 2], "dtype": "float16"}, "dtype must be"),
    ({"layers": [8, 2], "seed": -1}, "seed"),
])
def test_constructor_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Autoencoder(**kwargs)


@pytest.mark.parametrize("kwargs,message", [
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
    ({"lr": 0}, "lr must be > 0"),
    ({"lr": float("nan")}, "lr must be"),
    ({"epochs": -1}, "epochs must be an integer >= 0"),
    ({"batch_size": 0}, "batch_size"),
    ({"optimizer": "adam", "momentum": 0.9}, "momentum applies to optimizer 'sgd' only"),
    ({"betas": (0.9, 1.0)}, "betas"),
    ({"input_noise": {"kind": "salt"}}, "unknown noise kind"),
    ({"input_noise": {"kind": "flip", "level": 2}}, "probability"),
])
def test_fit_validation(kwargs, message):
    ae = Autoencoder([6, 2])
    with pytest.raises(ValueError, match=message):
        ae.fit(np.zeros((4, 6)), **kwargs)


def test_data_validation():
    ae = Autoencoder([6, 2])
    with pytest.raises(ValueError, match="X has 5 columns but the model expects 6"):
        ae.fit(np.zeros((4, 5)))
    with pytest.raises(ValueError, match="non-finite values \\(first at row 1, column 2\\)"):
        X = np.zeros((4, 6))
        X[1, 2] = np.inf
        ae.fit(X)
    with pytest.raises(ValueError, match="2-D array"):
        ae.encode(np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match="X has 4 rows but Y has 3"):
        ae.fit(np.zeros((4, 6)), np.zeros((3, 6)))
    with pytest.raises(ValueError, match="Z has 3 columns but the model expects 2"):
        ae.decode(np.zeros((1, 3)))
    bce = Autoencoder([6, 2], loss="bce")
    with pytest.raises(ValueError, match="targets in \\[0, 1\\]"):
        bce.fit(np.full((2, 6), 2.0))


def test_save_load_round_trip(tmp_path):
    X = (np.random.default_rng(0).random((10, 12)) > 0.5).astype(float)
    ae = Autoencoder([12, 6, 2], activation="leaky_relu", leaky_slope=0.1, dtype="float32",
                     seed=4, metadata={"labels": list("abcdefghij")})
    ae.fit(X, epochs=20, batch_size=4)
    path = tmp_path / "m.npz"
    ae.save(path)
    back = Autoencoder.load(path)
    assert back.sizes == ae.sizes and back.activations == ae.activations
    assert back.dtype == np.float32 and back.leaky_slope == 0.1
    assert back.metadata["labels"] == list("abcdefghij")
    assert back.training["epochs_run"] == 20
    np.testing.assert_array_equal(back.get_params(), ae.get_params())
    np.testing.assert_array_equal(back.reconstruct(X), ae.reconstruct(X))
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temp files left


def test_load_errors(tmp_path):
    ae = Autoencoder([6, 3, 2])
    good = tmp_path / "good.npz"
    ae.save(good)
    with pytest.raises(ModelFileError, match="no such model file"):
        Autoencoder.load(tmp_path / "missing.npz")
    with pytest.raises(ModelFileError, match="not a regular file"):
        Autoencoder.load(tmp_path)  # a directory
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="truncated.npz: not a readable"):
        Autoencoder.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.zeros(3))
    with pytest.raises(ModelFileError, match="not an nbae model"):
        Autoencoder.load(foreign)
    # a file whose arrays do not fit its architecture record
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["W1"] = np.zeros((4, 4))
    bad = tmp_path / "mismatch.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match=r"W1 has shape \(4, 4\)"):
        Autoencoder.load(bad)
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 99
    arrays["W1"] = np.zeros((3, 2))
    arrays["meta"] = np.array(json.dumps(meta))
    newer = tmp_path / "newer.npz"
    np.savez(newer, **arrays)
    with pytest.raises(ModelFileError, match="newer than this nbae"):
        Autoencoder.load(newer)
    assert zipfile.is_zipfile(good)


def test_save_is_atomic_when_metadata_cannot_be_written(tmp_path):
    ae = Autoencoder([6, 2], metadata={"bad": float("nan")})
    ae.metadata["obj"] = object()
    with pytest.raises(TypeError):
        ae.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_load_rejects_a_non_zip_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ModelFileError, match=r"data.csv: not an nbae model \(.npz\) file"):
        Autoencoder.load(path)
