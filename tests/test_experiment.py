"""Configs to models (nbae.studies.experiment) and latent-space walks (nbae.engine.latent)."""

import numpy as np
import pytest

from nbae.engine.latent import interpolate, latent_grid, nearest, sample_codes
from nbae.studies.experiment import (
    check_config,
    describe,
    fit_from_config,
    latent_stats,
    model_from_config,
)

CFG = {"layers": [10, 6, 2], "activation": "tanh", "output_activation": "sigmoid",
       "init": "xavier", "optimizer": "adam", "lr": 0.01, "batch_size": 4, "epochs": 30}


def _data():
    return (np.random.default_rng(0).random((12, 10)) > 0.5).astype(float)


def test_check_config_names_the_unknown_key():
    with pytest.raises(ValueError, match=r"arch\.3: unknown setting\(s\) 'learning_rate'"):
        check_config({**CFG, "learning_rate": 0.1}, "arch.3")
    with pytest.raises(ValueError, match="'layers' is required"):
        check_config({"lr": 0.1})
    with pytest.raises(ValueError, match=r"arch\.3: lr must be > 0"):
        fit_from_config(model_from_config(CFG), {**CFG, "lr": 0}, _data(), where="arch.3")


def test_fit_from_config_trains_and_records_latent_stats():
    X = _data()
    ae = model_from_config(CFG, metadata={"dataset": "test"})
    history = fit_from_config(ae, CFG, X, epochs=5)  # overrides win over the config
    assert len(history) == 5 and ae.training["batch_size"] == 4
    stats = ae.metadata["latent_stats"]
    Z = ae.encode(X)
    np.testing.assert_allclose(stats["mean"], Z.mean(0))
    np.testing.assert_allclose(stats["cov"], np.cov(Z, rowvar=False))
    np.testing.assert_allclose(stats["min"], Z.min(0))
    assert latent_stats(ae, X) == stats
    assert ae.metadata["dataset"] == "test"


def test_describe():
    assert describe(CFG) == "10-6-2 tanh/sigmoid mse adam lr=0.01 batch=4"
    assert describe({"layers": [4, 2], "dtype": "float32", "activation": ["relu"]}) == \
        "4-2 relu/sigmoid mse adam lr=0.001 batch=5 float32"


def test_interpolate_starts_and_ends_at_the_inputs():
    X = _data()
    ae = model_from_config(CFG)
    Z, D = interpolate(ae, X[0], X[1], steps=5)
    np.testing.assert_allclose(Z[0], ae.encode(X[:1])[0])
    np.testing.assert_allclose(Z[-1], ae.encode(X[1:2])[0])
    np.testing.assert_allclose(Z[2], (Z[0] + Z[-1]) / 2)
    np.testing.assert_allclose(D, ae.decode(Z))
    with pytest.raises(ValueError, match="steps must be >= 2"):
        interpolate(ae, X[0], X[1], steps=1)


def test_latent_grid_layout():
    ae = model_from_config({**CFG, "layers": [10, 6, 3]})
    xs, ys, images = latent_grid(ae, center=[0.0, 0.0, 0.5], span=(-1, 1, -2, 2), n=3)
    np.testing.assert_allclose(xs, [-1, 0, 1])
    np.testing.assert_allclose(ys, [2, 0, -2])  # row 0 at the top
    np.testing.assert_allclose(images[0, 2], ae.decode(np.array([[1.0, 2.0, 0.5]]))[0])
    with pytest.raises(ValueError, match="two different latent coordinates"):
        latent_grid(ae, dims=(1, 1))


def test_sample_codes_follow_the_stored_distribution():
    ae = model_from_config(CFG)
    with pytest.raises(ValueError, match="no latent_stats"):
        sample_codes(ae, 3)
    ae.metadata["latent_stats"] = {"mean": [1.0, -2.0], "cov": [[0.25, 0.0], [0.0, 4.0]]}
    Z = sample_codes(ae, 20000, seed=1)
    np.testing.assert_allclose(Z.mean(0), [1.0, -2.0], atol=0.05)
    np.testing.assert_allclose(Z.std(0), [0.5, 2.0], rtol=0.03)
    np.testing.assert_array_equal(sample_codes(ae, 4, seed=3), sample_codes(ae, 4, seed=3))


def test_nearest():
    idx, dist = nearest([[0.0, 0.1], [5.0, 5.0]], [[0.0, 0.0], [4.0, 4.0], [9.0, 9.0]])
    assert idx.tolist() == [0, 1]
    np.testing.assert_allclose(dist, [0.1, np.sqrt(2)])
