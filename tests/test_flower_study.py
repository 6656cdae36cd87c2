"""Unit tests of nbae.studies.flowers and the flower stage scripts, on tiny synthetic photos."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nbae.data.datasets import Dataset
from nbae.engine.model import Autoencoder
from nbae.studies import flower_search as fsr
from nbae.studies import flowers as fls
from nbae.studies.params import ParamsError, run_stage

ROOT = Path(__file__).resolve().parents[1]
SIDE = 6  # 6x6 "photos": 36 pixels


def synthetic_set(n=6, side=SIDE, seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = np.tanh(rng.normal(size=(n, side * side))).astype(np.float32)
    ids = [100 + 3 * i for i in range(n)]
    return Dataset(X, [str(i) for i in ids], "flowers", (-1.0, 1.0), (side, side),
                   {"ids": ids, "classes": [49] * n})


ARCH = {"layers": [SIDE * SIDE, 12, 3], "activation": "tanh", "output_activation": "tanh",
        "init": "xavier", "optimizer": "adam", "lr": 0.01, "batch_size": 4, "dtype": "float32",
        "seed": 0}


def search_table(rows) -> pd.DataFrame:
    cols = ["latent_dim", "seed", "final_loss", "best_loss", "diverged", "seconds"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


@pytest.fixture(scope="module")
def data():
    return synthetic_set()


@pytest.fixture(scope="module")
def trained(data):
    return fls.train_model({**ARCH, "epochs": 150}, data)


# --------------------------------------------------------------------------------- params


def test_with_latent_replaces_the_latent_size_only():
    cfg = {**ARCH, "decoder": [3, 20, 36]}
    out = fls.with_latent(cfg, 5)
    assert out["layers"] == [36, 12, 5] and out["decoder"] == [5, 20, 36]
    assert cfg["layers"] == [36, 12, 3]  # not modified in place
    assert "decoder" not in fls.with_latent(ARCH, 2)


def test_train_config_applies_the_training_length():
    cfg = fls.train_config({"flowers_arch": {**ARCH, "epochs": 5}, "flowers_train": {
        "epochs": 7}})
    assert cfg["epochs"] == 7 and cfg["layers"] == ARCH["layers"]
    assert fls.train_config({"flowers_arch": ARCH})["epochs"] == fls.TRAIN_DEFAULTS["epochs"]


@pytest.mark.parametrize("params, match", [
    ({}, "flowers_arch"),
    ({"flowers_arch": {**ARCH, "colour": 1}}, "colour"),
    ({"flowers_arch": {**ARCH, "layers": [36]}}, "at least"),
    ({"flowers_arch": ARCH, "flowers_train": {"epochs": 0}}, "flowers_train.epochs"),
    ({"flowers_arch": ARCH, "flowers_train": {"epoch": 3}}, "unknown"),
    ({"flowers_arch": {**ARCH, "reproducible": "yes"}}, "reproducible must be true or false"),
])
def test_bad_train_params_raise_params_error(params, match):
    with pytest.raises(ParamsError, match=match):
        fls.train_config(params)


def test_search_params_defaults_and_sorting():
    cfg = fsr.search_params({"flowers_search": {"latent_sizes": [6, 2, 4]}})
    assert cfg["latent_sizes"] == [2, 4, 6]
    assert cfg["threshold"] == fsr.SEARCH_DEFAULTS["threshold"]


@pytest.mark.parametrize("section, match", [
    ({"latent_sizes": [2, 2]}, "twice"),
    ({"latent_sizes": []}, "non-empty"),
    ({"latent_sizes": [0, 1]}, ">= 1"),
    ({"seeds": [1, 1]}, r"flowers_search\.seeds must be a count >= 1 or a list of distinct"),
    ({"seeds": 0}, r"flowers_search\.seeds must be a count >= 1"),
    ({"seeds": [0, -1]}, r"flowers_search\.seeds"),
    ({"threshold": 0}, "positive"),
    ({"threshold": "low"}, "threshold"),
    ({"criterion": "loss"}, "criterion"),
    ({"epochs": 1.5}, "epochs"),
])
def test_bad_search_params(section, match):
    with pytest.raises(ParamsError, match=match):
        fsr.search_params({"flowers_search": section})


def test_navigate_params_checks_photos_and_dims():
    ok = fls.navigate_params({"flowers_navigate": {"photo": 5, "pairs": [[0, 5]]}}, 6, 3)
    assert ok["photo"] == 5 and ok["pairs"] == [[0, 5]]
    with pytest.raises(ParamsError, match=r"0\.\.5"):
        fls.navigate_params({"flowers_navigate": {"photo": 6}}, n_photos=6)
    with pytest.raises(ParamsError, match=r"0\.\.5"):
        fls.navigate_params({"flowers_navigate": {"pairs": [[0, 9]]}}, n_photos=6)
    with pytest.raises(ParamsError, match="latent units"):
        fls.navigate_params({"flowers_navigate": {"grid_dims": [0, 3]}}, 6, latent_dim=3)
    with pytest.raises(ParamsError, match="different"):
        fls.navigate_params({"flowers_navigate": {"grid_dims": [1, 1]}})
    with pytest.raises(ParamsError, match="pairs"):
        fls.navigate_params({"flowers_navigate": {"pairs": [1, 2]}})
    assert fls.navigate_params({"flowers_navigate": {"grid_span": None}})["grid_span"] is None


# --------------------------------------------------------------------------------- data


def test_load_flower_set(tmp_path, data):
    path = tmp_path / "f.npz"
    np.savez(path, X=data.X, ids=np.array(data.info["ids"]), labels=np.array(data.info["classes"]))
    got = fls.load_flower_set(path)
    assert got.size == SIDE and got.info["ids"] == data.info["ids"] and got.X.dtype == np.float32
    with pytest.raises(ValueError, match="prepare_flowers"):
        fls.load_flower_set(tmp_path / "missing.npz")
    np.savez(path, X=np.zeros((2, 35)), ids=np.array([1, 2]))
    with pytest.raises(ValueError, match="square"):
        fls.load_flower_set(path)
    np.savez(path, Y=np.zeros((2, 36)))
    with pytest.raises(ValueError, match="no array 'X'"):
        fls.load_flower_set(path)


# --------------------------------------------------------------------------------- training


def test_model_metadata_follows_the_contract(trained, data):
    ae, _ = trained
    m = ae.metadata
    assert m["dataset"] == "flowers"
    assert m["labels"] == [str(i) for i in data.info["ids"]]
    assert m["pixel_range"] == [-1.0, 1.0] and m["image_shape"] == [SIDE, SIDE]
    assert m["preprocess"]["size"] == SIDE and m["preprocess"]["crop"] == "center"
    assert len(m["latent_stats"]["mean"]) == 3 and len(m["latent_stats"]["cov"]) == 3
    assert m["classes"] == data.info["classes"]


def test_metadata_survives_save_and_load(tmp_path, trained):
    ae, _ = trained
    ae.save(tmp_path / "m.npz")
    back = Autoencoder.load(tmp_path / "m.npz")
    assert back.metadata["labels"] == ae.metadata["labels"]
    assert back.metadata["latent_stats"] == ae.metadata["latent_stats"]


def test_input_width_mismatch_is_a_params_error(data):
    with pytest.raises(ParamsError, match="set layers\\[0\\] to 36"):
        fls.train_model({**ARCH, "layers": [1024, 8, 2], "epochs": 1}, data)
    with pytest.raises(ParamsError, match="flowers_arch"):
        fls.train_model({**ARCH, "activation": "swish", "epochs": 1}, data)


def test_run_summary_fields(trained, data):
    ae, history = trained
    s = fls.run_summary(ae, history, data, {**ARCH, "epochs": 150})
    assert s["epochs"] == 150 == len(history) and s["latent_dim"] == 3
    assert s["n_photos"] == 6 and s["steps"] == 150 * 2  # 6 photos in batches of 4
    assert s["lowest_loss"] <= s["final_loss"]
    assert s["lowest_loss"] == pytest.approx(history["loss"].min(), rel=1e-5)
    mse = fls.per_image_mse(ae, data.X)
    rec = s["reconstruction"]
    assert rec["mse_mean"] == pytest.approx(mse.mean(), rel=1e-5)
    assert rec["mse_max"] == pytest.approx(mse.max(), rel=1e-5)
    assert rec["worst_id"] == data.info["ids"][int(np.argmax(mse))]
    assert rec["psnr_min_db"] <= rec["psnr_mean_db"]
    assert "36-12-3" in s["description"]
    json.dumps(s, allow_nan=False)


def test_reproducible_run_saves_the_same_model_bytes(data, tmp_path):
    """reproducible: true (the shipped flower configs): two trainings write byte-identical
    model files and summaries (no timings in them), so dvc.lock's hashes hold on every
    machine; the BLAS engine's model file keeps its timings."""
    import hashlib

    digests = []
    for run in ("a", "b", "blas"):
        cfg = {**ARCH, "epochs": 20, "reproducible": run != "blas"}
        ae, history = fls.train_model(cfg, data)
        s = fls.run_summary(ae, history, data, cfg)
        assert ae.training["seconds"] is not None and "training_seconds" not in s
        path = tmp_path / f"{run}.npz"
        fls.save_run(tmp_path / run, path, ae, history, s, fls.reconstruction_table(ae, data))
        loaded = Autoencoder.load(path)
        assert (loaded.training["seconds"] is None) == (run != "blas")
        assert (loaded.training.get("engine") == "lanes") == (run != "blas")
        digests.append((hashlib.sha256(path.read_bytes()).hexdigest(),
                        (tmp_path / run / "summary.json").read_bytes()))
    assert digests[0] == digests[1]
    assert digests[0][0] != digests[2][0]


def test_per_image_mse_and_psnr(trained, data):
    ae, _ = trained
    X = data.X.astype(np.float64)
    want = ((ae.reconstruct(X) - X) ** 2).mean(axis=1)
    assert np.allclose(fls.per_image_mse(ae, X), want)
    assert fls.psnr(0.04) == pytest.approx(20.0)  # range 2: 10 log10(4 / 0.04)
    table = fls.reconstruction_table(ae, data)
    assert list(table.columns) == ["photo", "id", "class", "mse", "psnr_db"]
    assert table["id"].tolist() == data.info["ids"]


def test_thin_history_keeps_first_last_and_multiples():
    h = pd.DataFrame({"epoch": np.arange(1, 26), "loss": np.linspace(1, 0, 25),
                      "seconds": 0.0})
    t = fls.thin_history(h, every=10)
    assert t["epoch"].tolist() == [1, 10, 20, 25] and list(t.columns) == ["epoch", "loss"]


# --------------------------------------------------------------------------------- search


def test_smallest_size_picks_the_smallest_reaching_size():
    t = search_table([(2, 0, 0.1, 0.05, False, 1), (3, 0, 0.01, 0.0009, False, 1),
                      (4, 0, 0.002, 0.0005, False, 1), (5, 0, 0.02, 0.002, False, 1)])
    assert fsr.smallest_size(t, 1e-3) == 3
    assert fsr.smallest_size(t, 1e-3, "final_loss") is None
    assert fsr.smallest_size(t, 0.01, "final_loss") == 3
    assert fsr.smallest_size(t, 1e-5) is None


def test_smallest_size_uses_the_median_seed_and_nan_counts_as_missed():
    t = search_table([(2, 0, 0.1, 0.05, False, 1), (2, 1, 0.001, 0.0001, False, 1),
                      (2, 2, 0.2, 0.0002, False, 1),  # 2 of 3 seeds reach 1e-3: median 2e-4
                      (1, 0, math.nan, math.nan, True, 1), (1, 1, 0.1, 1e-5, False, 1),
                      (1, 2, math.nan, math.nan, True, 1)])  # 1 of 3 (two diverged)
    assert fsr.smallest_size(t, 1e-3) == 2
    assert fsr.smallest_size(t, 1e-5) is None  # only size 1's one lucky seed is that low
    assert fsr.smallest_size(t, 0.1, "final_loss") == 2  # median final loss of size 2: 0.1
    with pytest.raises(ValueError, match="criterion"):
        fsr.smallest_size(t, 1e-3, "loss")


def test_search_summary_fields():
    t = search_table([(1, 0, 0.1, 0.05, False, 1.5), (2, 0, 0.01, 0.0009, False, 2.0),
                      (3, 0, math.nan, math.nan, True, 0.5)])
    s = fsr.search_summary(t, 1e-3, "best_loss", ARCH, epochs=40)
    assert s["smallest_latent_dim"] == 2 and s["seeds"] == [0]
    assert s["median"] == s["q1"] == s["q3"] == {"1": 0.05, "2": 0.0009, "3": None}  # one seed
    assert s["share_reached"] == {"1": 0.0, "2": 1.0, "3": 0.0}  # NaN is not JSON, nor reached
    assert s["diverged_runs"] == 1 and s["total_seconds"] == 4.0
    assert s["epochs"] == 40 and s["threshold"] == 1e-3 and s["architecture"].startswith(
        "36-12-k ")
    assert s["criterion"] == "best_loss" and "median" in s["rule"]
    json.dumps(s, allow_nan=False)
    assert fsr.headline(s) == {"latent_size": 2, "latent_mse": 0.0009}
    none = fsr.search_summary(t, 1e-5, "best_loss", ARCH, epochs=40)
    assert none["smallest_latent_dim"] is None
    assert fsr.headline(none) == {"latent_size": None, "latent_mse": None}


def test_latent_search_trains_every_size_and_seed(data):
    table, hist = fsr.latent_search({**ARCH, "epochs": 999}, data, [1, 2], epochs=20,
                                    seeds=[0, 1])
    assert table[["latent_dim", "seed"]].values.tolist() == [[1, 0], [1, 1], [2, 0], [2, 1]]
    assert set(hist) == {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert (table["epochs"] == 20).all() and not table["diverged"].any()
    assert (table["best_loss"] <= table["final_loss"]).all()
    assert table["n_params"].iloc[2] > table["n_params"].iloc[0]
    assert table["final_loss"].iloc[0] != table["final_loss"].iloc[1]  # the seeds differ
    for (k, seed), h in hist.items():  # every 10th epoch, the first and the last
        assert h["epoch"].tolist() == [1, 10, 20]
        row = table[(table["latent_dim"] == k) & (table["seed"] == seed)].iloc[0]
        assert h["loss"].iloc[-1] == row["final_loss"]
    curves = fsr.search_curves(hist, every=10)
    assert list(curves.columns) == ["epoch", "series", "loss"]  # long format, for dvc plots
    assert curves["series"].tolist() == ["latent 1"] * 3 + ["latent 2"] * 3  # one per size
    assert curves["epoch"].tolist() == [1, 10, 20] * 2
    for k in (1, 2):  # the median of the seeds' losses (the mean of two)
        want = (hist[(k, 0)]["loss"].to_numpy() + hist[(k, 1)]["loss"].to_numpy()) / 2
        got = curves[curves["series"] == f"latent {k}"]["loss"].to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_latent_search_keeps_a_diverged_run(data):
    cfg = {**ARCH, "optimizer": "sgd", "lr": 100.0, "activation": "identity",
           "output_activation": "identity", "dtype": "float64"}
    table, hist = fsr.latent_search(cfg, data, [2], epochs=50)
    assert table["diverged"].tolist() == [True] and table["seed"].tolist() == [0]
    epochs = table["epochs"].iloc[0]
    assert epochs < 50 and hist[(2, 0)]["epoch"].iloc[-1] == epochs  # the thinned history
    assert hist[(2, 0)]["epoch"].iloc[0] == 1


def test_search_flowers_stage(workdir, capsys):
    """2 latent sizes x 2 seeds; the choice follows the median rule on the written table."""
    assert run_stage(load_stage("search_flowers").main, ARGV["search_flowers"]) == 0
    table = pd.read_csv("results/flowers/search/latent_search.csv")
    assert table[["latent_dim", "seed"]].values.tolist() == [[1, 0], [1, 1], [3, 0], [3, 1]]
    assert (table["epochs"] == 20).all()
    s = json.loads(Path("results/flowers/search/summary.json").read_text())
    assert s["seeds"] == [0, 1] and s["threshold"] == 0.15 and s["epochs"] == 20
    med = {k: float(np.median(table[table["latent_dim"] == k]["best_loss"])) for k in (1, 3)}
    assert s["median"] == {str(k): pytest.approx(v, rel=1e-5) for k, v in med.items()}
    q3 = float(np.percentile(table[table["latent_dim"] == 3]["best_loss"], 75))
    assert s["q3"]["3"] == pytest.approx(q3, rel=1e-5)
    for k in (1, 3):
        reached = (table[table["latent_dim"] == k]["best_loss"] <= 0.15).mean()
        assert s["share_reached"][str(k)] == reached
    want = next((k for k in (1, 3) if med[k] <= 0.15), None)
    assert s["smallest_latent_dim"] == want
    assert json.loads(Path("results/flowers/metrics.json").read_text()) == fsr.headline(s)
    curves = pd.read_csv("results/flowers/search/curves.csv")
    assert curves["series"].unique().tolist() == ["latent 1", "latent 3"]
    assert curves["epoch"].tolist() == [1, 10, 20] * 2
    assert Path("figures/flowers/latent_search.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "latent 1: median best_loss" in out and "of seeds" in out


# --------------------------------------------------------------------------------- navigation


def test_photo_grid_is_centred_on_the_photo(trained, data):
    ae, _ = trained
    X = data.X
    xs, ys, imgs = fls.photo_grid(ae, X, photo=2, dims=(0, 2), n=5, span_std=1.5)
    assert imgs.shape == (5, 5, SIDE * SIDE)
    z = ae.encode(X[2:3])[0]
    assert xs[2] == pytest.approx(z[0]) and ys[2] == pytest.approx(z[2])
    assert np.allclose(imgs[2, 2], ae.decode(z[None])[0], atol=1e-5)
    sd = np.sqrt(np.diag(ae.metadata["latent_stats"]["cov"]))
    assert xs[-1] - xs[0] == pytest.approx(3.0 * sd[0])
    xs, ys, _ = fls.photo_grid(ae, X, photo=2, n=3, span_std=None)
    lo, hi = ae.metadata["latent_stats"]["min"][0], ae.metadata["latent_stats"]["max"][0]
    assert xs[0] < lo and xs[-1] > hi  # the training range, padded


def test_pair_transitions_end_at_the_reconstructions(trained, data):
    ae, _ = trained
    rows = fls.pair_transitions(ae, data, [[0, 3], [5, 1]], steps=4)
    assert [r[:2] for r in rows] == [("#100", "#109"), ("#115", "#103")]
    rec = ae.reconstruct(data.X)
    assert rows[0][2].shape == (4, SIDE * SIDE)
    assert np.allclose(rows[0][2][0], rec[0], atol=1e-5)
    assert np.allclose(rows[0][2][-1], rec[3], atol=1e-5)


def test_generate_with_nearest(trained, data):
    ae, _ = trained
    dec, near, captions = fls.generate_with_nearest(ae, data, 5, seed=3)
    assert dec.shape == near.shape == (5, SIDE * SIDE) and len(captions) == 5
    X = data.X.astype(np.float64)
    d = ((dec[:, None, :] - X[None]) ** 2).sum(-1)
    assert np.allclose(near, X[d.argmin(1)])
    i0 = int(d[0].argmin())
    assert captions[0] == (f"nearest #{data.info['ids'][i0]}, rms "
                           f"{math.sqrt(d[0, i0] / X.shape[1]):.2f}")
    again, _, _ = fls.generate_with_nearest(ae, data, 5, seed=3)
    assert np.array_equal(dec, again)


def test_latent_codes_table(trained, data):
    ae, _ = trained
    t = fls.latent_codes_table(ae, data)
    assert list(t.columns) == ["photo", "id", "z1", "z2", "z3", "mse"]
    assert np.allclose(t[["z1", "z2", "z3"]].to_numpy(), ae.encode(data.X))


# --------------------------------------------------------------------------------- stages


def load_stage(name):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def workdir(tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("data/flowers/prepared").mkdir(parents=True)
    np.savez("data/flowers/prepared/flowers.npz", X=data.X, ids=np.array(data.info["ids"]),
             labels=np.array(data.info["classes"]))
    params = {"flowers_arch": ARCH, "flowers_train": {"epochs": 60},
              "flowers_search": {"latent_sizes": [1, 3], "epochs": 20, "seeds": 2,
                                 "threshold": 0.15},
              "flowers_navigate": {"photo": 1, "grid_n": 3, "pairs": [[0, 2], [3, 4]],
                                   "steps": 4, "samples": 3}}
    Path("config.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


SET = "data/flowers/prepared/flowers.npz"
ARGV = {"train_flowers": ["config.yaml", SET, "models/flowers/model.npz", "results/flowers/train"],
        "search_flowers": ["config.yaml", SET, "results/flowers",
                           "figures/flowers/latent_search.png"],
        "navigate_flowers": ["config.yaml", SET, "models/flowers/model.npz",
                             "results/flowers/train/curve.csv", "results/flowers",
                             "figures/flowers"]}


@pytest.mark.slow
def test_stage_scripts_write_their_outputs(workdir, capsys):
    train, search, navigate = (load_stage(n) for n in ("train_flowers", "search_flowers",
                                                       "navigate_flowers"))
    assert run_stage(train.main, ARGV["train_flowers"]) == 0
    summary = json.loads(Path("results/flowers/train/summary.json").read_text())
    assert summary["epochs"] == 60
    curve = pd.read_csv("results/flowers/train/curve.csv")  # every 10th epoch, first, last
    assert curve["epoch"].tolist() == [1, 10, 20, 30, 40, 50, 60] and "loss" in curve
    assert len(pd.read_csv("results/flowers/train/reconstruction.csv")) == 6
    ae = Autoencoder.load("models/flowers/model.npz")
    assert ae.latent_dim == 3 and ae.metadata["dataset"] == "flowers"

    assert run_stage(search.main, ARGV["search_flowers"]) == 0
    s = json.loads(Path("results/flowers/search/summary.json").read_text())
    assert set(s["median"]) == {"1", "3"} and s["threshold"] == 0.15
    headline = json.loads(Path("results/flowers/metrics.json").read_text())
    assert headline["latent_size"] == s["smallest_latent_dim"]
    assert s["smallest_latent_dim"] == fsr.smallest_size(
        pd.read_csv("results/flowers/search/latent_search.csv"), 0.15)
    assert Path("figures/flowers/latent_search.png").stat().st_size > 0

    assert run_stage(navigate.main, ARGV["navigate_flowers"]) == 0
    for name in ("error_curve", "reconstructions", "latent_grid", "transitions", "generated"):
        assert Path(f"figures/flowers/{name}.png").stat().st_size > 0, name
    codes = pd.read_csv("results/flowers/latent_codes.csv")
    assert codes["id"].tolist() == [100, 103, 106, 109, 112, 115]
    out = capsys.readouterr().out
    assert "lowest loss" in out and "smallest latent size" in out and "5 figures" in out


def test_stage_errors_are_one_line(workdir, capsys):
    train, navigate = load_stage("train_flowers"), load_stage("navigate_flowers")
    params = yaml.safe_load(Path("config.yaml").read_text())
    params["flowers_train"]["epochs"] = -1
    Path("config.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(train.main, ARGV["train_flowers"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: params flowers_train.epochs") and err.count("\n") == 1
    assert run_stage(train.main, ["config.yaml", "nowhere.npz", "m.npz", "out"]) in (1, 2)
    assert run_stage(navigate.main, ARGV["navigate_flowers"]) == 1  # no model yet
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.strip().count("\n") == 1


@pytest.mark.parametrize("stage, section, change, message", [
    ("train_flowers", "flowers_arch", {"epochs": 0},
     "params flowers_arch.epochs must be an integer >= 1, got 0"),
    ("train_flowers", "flowers_train", {"epochs": 0},
     "params flowers_train.epochs must be an integer >= 1, got 0"),
    ("train_flowers", "flowers_arch", {"activation": None},
     "params flowers_arch.activation must be a name (e.g. tanh) or a list of names, one per "
     "hidden layer, got None"),
    ("train_flowers", "flowers_arch", {"batch_size": 0},
     "params flowers_arch.batch_size must be an integer >= 1, got 0"),
    ("search_flowers", "flowers_search", {"epochs": 0},
     "params flowers_search.epochs must be an integer >= 1, got 0"),
    ("search_flowers", "flowers_arch", {"betas": 3},
     "params flowers_arch.betas must be two numbers, e.g. [0.9, 0.999], got 3"),
    ("search_flowers", "flowers_arch", {"batch_size": 0},
     "params flowers_arch.batch_size must be an integer >= 1, got 0"),
])
def test_stage_bad_training_params_exit_2(workdir, capsys, stage, section, change, message):
    """Settings that would crash training (or the summary after it) are one-line exit-2 errors."""
    params = yaml.safe_load(Path("config.yaml").read_text())
    params[section].update(change)
    Path("config.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(load_stage(stage).main, ARGV[stage]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not Path("results").exists() and not Path("models").exists()


@pytest.mark.slow
def test_stage_help_runs_as_a_script():
    import subprocess

    for name in ("train_flowers", "search_flowers", "navigate_flowers"):
        r = subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), "--help"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "usage:" in r.stdout, r.stderr
        r = subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), "--bogus"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2
