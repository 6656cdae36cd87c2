"""VAE study functions on the real font (few epochs) and on tiny synthetic photos."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from nbae.data.datasets import Dataset
from nbae.data.metrics import pixel_errors
from nbae.engine.model import Autoencoder
from nbae.engine.vae import VAE
from nbae.studies.font_data import build_font_set
from nbae.studies.params import ParamsError
from nbae.studies.vae import (
    compare_generators,
    font_targets,
    nearest_photos,
    plot_latent_ellipses,
    prior_quantile_grid,
    run_flower_vae_study,
    run_font_vae_study,
    vae_from_config,
)

ROOT = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def font():
    return build_font_set(ROOT / "data" / "font.h")


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_font_study_writes_everything(tmp_path, font, full):
    cfg = {"layers": [35, 12, 2], "epochs": 30, "lr": 3e-3, "seed": 1}
    m = run_font_vae_study(font, cfg, tmp_path, transitions=[["k", "h"]], steps=5, grid_n=4,
                           elbo_samples=20, reconstructions=full)
    for name in ("latent_map.png", "prior_grid.png", "transitions.png", "training.png"):
        assert (tmp_path / name).read_bytes()[:4] == PNG
    assert (tmp_path / "reconstructions.png").exists() == full
    assert json.loads((tmp_path / "metrics.json").read_text()) == m
    hist = pd.read_csv(tmp_path / "history.csv")
    assert list(hist.columns) == ["epoch", "loss", "reconstruction", "kl", "beta"]
    assert len(hist) == 30
    vae = VAE.load(tmp_path / "model.npz")
    X = font_targets(font)
    assert m["wrong_pixels"] == int(pixel_errors(X, vae.reconstruct(X)).sum())
    assert m["elbo"] == pytest.approx(-(m["kl"] + m["reconstruction"]), rel=1e-5)
    # the KL per glyph is the closed form at the saved weights
    mu, sigma = vae.encode(X, return_sigma=True)
    kl = 0.5 * (mu**2 + sigma**2 - 1 - 2 * np.log(sigma)).sum(1).mean()
    assert m["kl"] == pytest.approx(kl, rel=1e-5)
    assert vae.metadata["labels"] == font.labels


def test_font_study_rejects_bad_settings(tmp_path, font):
    with pytest.raises(ParamsError, match="params font_vae: unknown VAE setting.*'latent_act"):
        run_font_vae_study(font, {"latent_activation": "tanh"}, tmp_path)
    with pytest.raises(ParamsError, match="params font_vae: lr must be > 0"):
        run_font_vae_study(font, {"layers": [35, 2], "epochs": 1, "lr": 0}, tmp_path)
    with pytest.raises(ParamsError, match="font_vae.reproducible must be true or false, got 'yes'"):
        run_font_vae_study(font, {"layers": [35, 2], "epochs": 1, "reproducible": "yes"}, tmp_path)
    with pytest.raises(ParamsError, match="font_vae.shuffle must be true or false, got 0"):
        run_font_vae_study(font, {"layers": [35, 2], "epochs": 1, "shuffle": 0}, tmp_path)
    with pytest.raises(ParamsError, match="glyph 'Q' is not in the font"):
        run_font_vae_study(font, {"layers": [35, 2], "epochs": 1}, tmp_path,
                           transitions=[["Q", "a"]])
    with pytest.raises(ParamsError, match="layers starts with 30 inputs but the data have 35"):
        run_font_vae_study(font, {"layers": [30, 2], "epochs": 1}, tmp_path)
    with pytest.raises(ParamsError, match="2-D latent space; layers .* end in 3"):
        run_font_vae_study(font, {"layers": [35, 3], "epochs": 1}, tmp_path)
    assert not (tmp_path / "model.npz").exists()  # nothing half-written


def test_bipolar_font_is_mapped_to_01(font):
    bip = dataclasses.replace(font, X=font.X * 2 - 1, pixel_range=(-1.0, 1.0))
    np.testing.assert_array_equal(font_targets(bip), font.X)


def test_prior_quantile_grid():
    vae = VAE([6, 4, 3], seed=0)
    zs, images = prior_quantile_grid(vae, n=5, dims=(0, 2))
    np.testing.assert_allclose(zs, norm.ppf([0.05, 0.275, 0.5, 0.725, 0.95]))
    assert zs[2] == 0.0
    assert images.shape == (5, 5, 6)
    np.testing.assert_allclose(images[1, 3], vae.decode([[zs[3], 0.0, zs[1]]])[0])


def test_latent_ellipses_checks_shapes(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        plot_latent_ellipses(np.zeros((3, 2)), np.ones((3, 3)), "abc", tmp_path / "x.png")
    with pytest.raises(ValueError, match="2 labels for 3 codes"):
        plot_latent_ellipses(np.zeros((3, 2)), np.ones((3, 2)), "ab", tmp_path / "x.png")
    plot_latent_ellipses(np.zeros((3, 2)), np.ones((3, 2)), "abc", tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes()[:4] == PNG


def test_nearest_photos():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [4.0, 4.0]])
    S = np.array([[0.1, 0.1], [3.0, 3.0], [0.0, 0.2]])
    near = nearest_photos(S, X)
    assert near["index"].tolist() == [0, 2, 0]
    np.testing.assert_allclose(near["rms"], [0.1, 1.0, np.sqrt(0.02)])
    assert near["distinct_nearest"] == 2
    pair = [np.sqrt(((S[i] - S[j]) ** 2).mean()) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert near["spread_rms"] == pytest.approx(np.mean(pair))


def _photos(n=10, s=8, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:s, 0:s] / s
    X = np.stack([np.tanh(np.sin(2 * np.pi * (a * xx + b * yy) + c))
                  for a, b, c in rng.uniform(0, 2, (n, 3))])
    ids = list(range(100, 100 + n))
    return Dataset(X.reshape(n, -1).astype(np.float32), [str(i) for i in ids], "flowers",
                   (-1.0, 1.0), (s, s), {"ids": ids, "classes": []})


def test_compare_generators_uses_each_method():
    data = _photos()
    vae = VAE([64, 3], output_activation="tanh", loss="mse", seed=0)
    ae = Autoencoder([64, 3], output_activation="tanh", init="xavier", seed=0)
    comp = compare_generators(vae, ae, data.X, n=4, seed=2)
    np.testing.assert_allclose(comp["vae"][0], vae.sample(4, seed=2))
    assert "latent_stats" in ae.metadata  # computed from the photos when missing
    for samples, near in comp.values():
        assert samples.shape == (4, 64) and near["rms"].shape == (4,)


def test_flower_study(tmp_path):
    data = _photos()
    ae = Autoencoder([64, 3], output_activation="tanh", init="xavier", seed=0)
    ae.fit(data.X, epochs=20, batch_size=5)
    ae.save(tmp_path / "ae.npz")
    cfg = {"layers": [64, 16, 3], "epochs": 20, "batch_size": 5, "lr": 1e-3, "beta": 0.5}
    m = run_flower_vae_study(data, cfg, tmp_path / "ae.npz", tmp_path / "out", n_samples=4)
    for name in ("samples_vae.png", "samples_ae.png", "training.png"):
        assert (tmp_path / "out" / name).read_bytes()[:4] == PNG
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == m
    assert m["loss"] == pytest.approx(m["reconstruction"] + 0.5 * m["kl"], rel=1e-5)
    assert m["vae_mean_rms_to_nearest"] > 0 and m["ae_mean_rms_to_nearest"] > 0
    assert VAE.load(tmp_path / "out" / "model.npz").dtype == np.float32


def test_vae_from_config_names_where():
    with pytest.raises(ValueError, match="arch.x: unknown VAE setting"):
        vae_from_config({"layers": [4, 2], "bogus": 1}, where="arch.x")
    with pytest.raises(ValueError, match="arch.x: beta must be"):
        vae_from_config({"layers": [4, 2], "beta": "big"}, where="arch.x")


@pytest.mark.slow
def test_font_vae_learns_the_font(font):
    """The study's default architecture with a 2-D latent space reproduces the font."""
    from nbae.studies.vae import font_vae_metrics, train_font_vae

    vae, hist = train_font_vae(font, {"epochs": 20000, "lr": 2e-3, "kl_warmup": 500, "seed": 0})
    m = font_vae_metrics(vae, font, elbo_samples=100)
    # measured: 0 wrong pixels, ELBO -4.85 nats, KL 4.30 nats per glyph (margins for BLAS)
    assert m["wrong_pixels"] <= 2 and m["elbo"] > -5.5 and 2 < m["kl"] < 7
    assert hist["loss"].iloc[-1000:].mean() < hist["loss"].iloc[500:1500].mean()
