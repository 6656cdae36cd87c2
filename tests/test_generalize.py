"""nbae.studies.generalize and its two stages: the official split, early stopping on the
validation photos, error per latent size on unseen data (synthetic data, seconds).

With ``NBAE_FLOWERS_SUBSET`` naming the five-class Oxford subset, one slow test prepares the
split from a local HTTP mirror of it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nbae.studies import flower_split as fsp
from nbae.studies import generalize as gen
from nbae.studies.params import ParamsError, load_params, run_stage

ROOT = Path(__file__).resolve().parents[1]
TINY_ARCH = {"layers": [16, 12, 3], "activation": "tanh", "output_activation": "identity",
             "loss": "mse", "init": "xavier", "optimizer": "adam", "lr": 0.01,
             "batch_size": 20, "dtype": "float32"}


def load_stage(name):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def study(**kw):
    return {"arch": dict(TINY_ARCH), "latent_sizes": [1, 3], "epochs": 200, "val_every": 10,
            "patience": None, "seeds": [0], "use_val_for_training": False, **kw}


def low_rank(n_train=160, n_val=40, n_test=60, rank=3, d=16, seed=0) -> dict:
    """Photos on a ``rank``-dimensional linear subspace (no clipping: exactly that rank)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((rank, d)) / np.sqrt(rank)
    n = n_train + n_val + n_test
    X = rng.standard_normal((n, rank)) @ A
    X = (0.8 * X / np.abs(X).max()).astype(np.float32)  # in [-0.8, 0.8], still rank 3
    split = np.array(["train"] * n_train + ["val"] * n_val + ["test"] * n_test)
    return {"X": X, "ids": np.arange(1, n + 1), "labels": np.ones(n, dtype=np.int64),
            "split": split, "classes": np.array([1]), "size": np.int64(4)}


# ------------------------------------------------------------------------------- the split


def fake_setid():
    """15 images of classes 1, 2, 3, 1, 2, 3...; ids given out of order like setid.mat's."""
    labels = np.arange(15) % 3 + 1
    setid = {"trnid": np.array([[7, 2, 1, 3, 11, 12]]), "valid": np.array([[8, 6, 5, 9, 4]]),
             "tstid": np.array([[15, 14, 13, 10]])}
    return setid, labels


def test_select_split_ids_per_class_sorted():
    setid, labels = fake_setid()
    s = fsp.select_split(setid, labels, [2, 3])
    assert {k: v.tolist() for k, v in s.items()} == {"train": [2, 3, 11, 12],
                                                     "val": [5, 6, 8, 9], "test": [14, 15]}
    assert all(v.dtype == np.int64 for v in s.values())
    assert {k: v.tolist() for k, v in fsp.select_split(setid, labels, [1]).items()} == {
        "train": [1, 7], "val": [4], "test": [10, 13]}
    everything = fsp.select_split(setid, labels, [1, 2, 3])
    assert [len(everything[k]) for k in fsp.SPLITS] == [6, 5, 4]
    assert fsp.SPLITS == gen.SPLITS  # the split file's names, known to both modules


def test_select_split_refuses_bad_tables():
    setid, labels = fake_setid()
    with pytest.raises(ParamsError, match=r"class 1 has no photo in the val split"):
        fsp.select_split({**setid, "valid": np.array([8, 6, 5, 9])}, labels, [1])
    with pytest.raises(ValueError, match=r"outside 1\.\.15"):
        fsp.select_split({**setid, "tstid": np.array([16])}, labels, [2])
    with pytest.raises(ValueError, match="in two splits"):
        fsp.select_split({**setid, "tstid": np.array([2, 14])}, labels, [2])


def test_official_counts_of_the_shipped_split():
    """data/flowers/split/split.npz is config/generalize.yaml's default: class 49."""
    cfg = fsp.data_params(load_params(ROOT / "config/generalize.yaml"))
    data = gen.load_split(ROOT / "data/flowers/split/split.npz")
    assert cfg["classes"] == [49] and data["classes"].tolist() == [49]
    assert [int((data["split"] == s).sum()) for s in gen.SPLITS] == [10, 10, 29]
    assert set(data["labels"].tolist()) == {49} and data["X"].shape == (49, 1024)
    assert data["X"].dtype == np.float32 and -1 <= data["X"].min() <= data["X"].max() <= 1
    for s in gen.SPLITS:
        ids = data["ids"][data["split"] == s]
        assert np.all(np.diff(ids) > 0)
    assert data["ids"][data["split"] == "train"].tolist() == [
        6206, 6213, 6214, 6218, 6229, 6232, 6233, 6237, 6242, 6243]


def test_shipped_split_matches_the_flower_study_preprocessing():
    split = gen.load_split(ROOT / "data/flowers/split/split.npz")
    with np.load(ROOT / "data/flowers/prepared/flowers.npz") as z:
        prepared = dict(zip(z["ids"].tolist(), z["X"], strict=True))
    rows = dict(zip(split["ids"].tolist(), split["X"], strict=True))
    assert set(prepared) <= set(rows)
    assert all(np.array_equal(rows[i], x) for i, x in prepared.items())


# ---------------------------------------------------------------------------------- params


def test_params_defaults_and_all():
    cfg = fsp.data_params({})
    assert cfg["classes"] == [49] and cfg["size"] == 32
    assert fsp.data_params({"flower_split": {"classes": "all"}})["classes"] == list(
        range(1, 103))
    assert fsp.data_params({"flower_split": {"classes": [54, 10]}})["classes"] == [10, 54]
    s = gen.study_params({"generalize": {"arch": TINY_ARCH, "latent_sizes": [8, 2]}})
    assert s["latent_sizes"] == [2, 8] and s["use_val_for_training"] is False


@pytest.mark.parametrize("params,match", [
    ({"flower_split": {"classes": [103]}}, r"flower_split.classes: class 103 is outside"),
    ({"flower_split": {"classes": [0]}}, r"flower_split.classes must be an integer >= 1"),
    ({"flower_split": {"classes": []}}, r"flower_split.classes must be a non-empty list"),
    ({"flower_split": {"classes": [5, 5]}}, r"flower_split.classes lists a class twice"),
    ({"flower_split": {"files": {"setid.mat": {}}}}, r"flower_split.files must map"),
    ({"flower_split": {"clases": [5]}}, r"unknown setting\(s\) \['clases'\]"),
])
def test_bad_data_params(params, match):
    with pytest.raises(ParamsError, match=match):
        fsp.data_params(params)


@pytest.mark.parametrize("changes,match", [
    ({"latent_sizes": []}, r"generalize.latent_sizes is empty"),
    ({"latent_sizes": [2, 2]}, r"generalize.latent_sizes lists a size twice"),
    ({"latent_sizes": [0]}, r"generalize.latent_sizes must be an integer >= 1"),
    ({"epochs": 0}, r"generalize.epochs must be an integer >= 1"),
    ({"val_every": "5"}, r"generalize.val_every must be an integer"),
    ({"patience": 0}, r"generalize.patience must be an integer >= 1"),
    ({"use_val_for_training": "yes"}, r"use_val_for_training must be true or false"),
    ({"arch": None}, r"generalize.arch .* is missing"),
    ({"arch": {**TINY_ARCH, "epochs": 5}}, r"generalize.arch.epochs: set it in generalize"),
    ({"arch": {**TINY_ARCH, "lrr": 1}}, r"unknown setting"),
])
def test_bad_study_params(changes, match):
    with pytest.raises(ParamsError, match=match) as err:
        gen.study_params({"generalize": {"arch": TINY_ARCH, **changes}})
    assert "\n" not in str(err.value)


# -------------------------------------------------------------------------------- training


def noisy_photos(seed=1):
    """Two sets of noisy copies of one pattern: memorising the first hurts the second."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.5, 0.5, 16)
    return [np.clip(base + 0.3 * rng.standard_normal((6, 16)), -0.9, 0.9).astype(np.float32)
            for _ in range(2)]


WIDE = {**TINY_ARCH, "layers": [16, 32, 4], "output_activation": "tanh", "batch_size": 6}


def test_early_stopping_keeps_the_lowest_validation_epoch():
    X_tr, X_val = noisy_photos()
    ae, epoch, curve = gen.train_size(WIDE, 4, X_tr, X_val, epochs=300, val_every=5)
    assert list(curve.columns) == ["epoch", "train_mse", "val_mse"]
    assert curve["epoch"].tolist() == list(range(5, 301, 5))
    lowest = int(curve["val_mse"].idxmin())
    assert epoch == curve["epoch"][lowest] and 5 <= epoch < 150
    # validation error rises once the training photos are memorised
    assert curve["val_mse"].iloc[-1] > 1.2 * curve["val_mse"].min()
    assert curve["train_mse"].iloc[-1] < 0.1 * curve["train_mse"].iloc[lowest]
    # the model holds the weights of that epoch, not the last ones
    assert gen.mse(ae, X_val) == pytest.approx(curve["val_mse"].min(), rel=1e-6)
    assert gen.mse(ae, X_tr) == pytest.approx(curve["train_mse"][lowest], rel=1e-6)


def test_patience_and_training_on_val():
    X_tr, X_val = noisy_photos()
    _, epoch, _ = gen.train_size(WIDE, 4, X_tr, X_val, epochs=300, val_every=5)
    ae, same, curve = gen.train_size(WIDE, 4, X_tr, X_val, epochs=300, val_every=5, patience=3)
    assert same == epoch and ae.training["epochs_run"] == epoch + 15 == curve["epoch"].max()
    # no selection: the last epoch's weights, whatever the validation error says
    ae, last, curve = gen.train_size(WIDE, 4, X_tr, X_val, epochs=60, val_every=25,
                                     select=False)
    assert last == 60 and curve["epoch"].tolist() == [25, 50, 60]
    assert gen.mse(ae, X_val) == pytest.approx(curve["val_mse"].iloc[-1], rel=1e-6)


def test_error_per_latent_size_on_rank_3_data():
    data = low_rank()
    table, by_seed, curves = gen.generalization(data, study(latent_sizes=[1, 2, 3, 4]))
    assert list(table.columns[:5]) == ["latent_size", "train_mse", "val_mse", "test_mse",
                                       "best_epoch"]
    assert by_seed["seed"].tolist() == [0, 0, 0, 0]
    assert table[["n_train", "n_val", "n_test"]].iloc[0].tolist() == [160, 40, 60]
    test = dict(zip(table["latent_size"], table["test_mse"], strict=True))
    var = float(data["X"].astype(np.float64).var())
    assert test[1] > test[2] > test[3]          # each missing dimension costs error
    assert test[1] > 0.2 * var and test[3] < 0.02 * var and test[4] < 0.02 * var
    # unseen photos are reconstructed as well as seen ones once the latent size suffices
    assert table["test_mse"].iloc[2] < 3 * table["train_mse"].iloc[2] + 1e-4
    pca = dict(zip(table["latent_size"], table["pca_test_mse"], strict=True))
    assert pca[3] < 1e-10 and pca[1] > pca[2] > pca[3]
    assert sorted(curves["latent_size"].unique()) == [1, 2, 3, 4]


def test_medians_over_seeds():
    data = low_rank(n_train=40, n_val=20, n_test=20)
    table, by_seed, curves = gen.generalization(data, study(latent_sizes=[2], epochs=20,
                                                           seeds=[0, 1, 2]))
    assert sorted(by_seed["seed"]) == [0, 1, 2] and table["seeds"].iloc[0] == 3
    for col in ("train_mse", "val_mse", "test_mse", "best_epoch"):
        assert table[col].iloc[0] == np.median(by_seed[col])
    assert len(set(by_seed["test_mse"])) == 3  # the seeds differ
    assert sorted(curves["seed"].unique()) == [0, 1, 2]


def test_use_val_for_training_trains_on_both():
    data = low_rank(n_train=40, n_val=20, n_test=20)
    table, _, _ = gen.generalization(data, study(latent_sizes=[3], epochs=30,
                                                 use_val_for_training=True))
    assert table["n_train"].iloc[0] == 60 and table["best_epoch"].iloc[0] == 30


# ---------------------------------------------------------------------------------- stages


@pytest.fixture
def tiny(tmp_path):
    np.savez(tmp_path / "split.npz", **low_rank(n_train=40, n_val=20, n_test=30))
    params = {"flower_split": {"classes": [1]},
              "generalize": study(latent_sizes=[1, 3], epochs=40, val_every=5)}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def test_generalize_stage_end_to_end(tiny, capsys):
    stage = load_stage("generalize_flowers")
    out, fig = tiny / "results", tiny / "figures" / "generalization.png"
    assert stage.main([str(tiny / "config.yaml"), str(tiny / "split.npz"), str(out),
                       str(fig)]) == 0
    table = pd.read_csv(out / "generalization.csv")
    assert table["latent_size"].tolist() == [1, 3]
    assert set(["train_mse", "val_mse", "test_mse", "best_epoch", "n_train", "n_test"]) <= set(
        table.columns)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["k3"]) == {"train", "val", "test", "epoch"}
    assert metrics["n_train"] == 40 and metrics["n_test"] == 30 and metrics["classes"] == "1"
    assert metrics["k3"]["test"] < metrics["k1"]["test"] < metrics["mean_test"]
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["latent_size", "seed", "epoch", "train_mse", "val_mse"]
    assert pd.read_csv(out / "by_seed.csv")["seed"].tolist() == [0, 0]
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "latent 3: median over 1 seed(s): train" in capsys.readouterr().out


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    return err


def test_stage_errors_are_one_line(tiny, capsys):
    stage = load_stage("generalize_flowers")
    cfg, split = str(tiny / "config.yaml"), str(tiny / "split.npz")
    out, fig = str(tiny / "out"), str(tiny / "fig.png")
    assert run_stage(stage.main, [cfg, str(tiny / "nope.npz"), out, fig]) == 1
    assert "nope.npz: not found" in one_error_line(capsys)
    assert run_stage(stage.main, [str(tiny / "missing.yaml"), split, out, fig]) == 2
    assert "file not found" in one_error_line(capsys)
    params = yaml.safe_load((tiny / "config.yaml").read_text())
    params["generalize"]["latent_sizes"] = []
    (tiny / "empty.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(stage.main, [str(tiny / "empty.yaml"), split, out, fig]) == 2
    assert "generalize.latent_sizes is empty" in one_error_line(capsys)
    params["generalize"]["latent_sizes"] = [2]
    params["generalize"]["arch"]["layers"] = [1024, 8, 2]
    (tiny / "wide.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(stage.main, [str(tiny / "wide.yaml"), split, out, fig]) == 2
    assert "starts with 1024 inputs but the photos have 16 pixels" in one_error_line(capsys)
    (tiny / "bad.npz").write_bytes(b"not a zip")
    assert run_stage(stage.main, [cfg, str(tiny / "bad.npz"), out, fig]) == 1
    assert "bad.npz: not a readable .npz file" in one_error_line(capsys)
    assert not (tiny / "out").exists() and not (tiny / "fig.png").exists()

    prep = load_stage("prepare_flower_split")
    params["flower_split"]["classes"] = [103]
    (tiny / "class.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(prep.main, [str(tiny / "class.yaml"), str(tiny / "raw"), out]) == 2
    assert "flower_split.classes: class 103 is outside 1..102" in one_error_line(capsys)
    assert not (tiny / "raw").exists()  # nothing fetched before the settings are checked


def test_load_split_refuses_inconsistent_files(tmp_path):
    good = low_rank(n_train=4, n_val=2, n_test=2)
    np.savez(tmp_path / "a.npz", **{**good, "split": np.array(["train"] * 7 + ["dev"])})
    with pytest.raises(ValueError, match="unknown split name 'dev'"):
        gen.load_split(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", **{k: v for k, v in good.items() if k != "split"})
    with pytest.raises(ValueError, match=r"missing \['split'\]"):
        gen.load_split(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", **{**good, "size": np.int64(5)})
    with pytest.raises(ValueError, match="do not fit"):
        gen.load_split(tmp_path / "c.npz")


# ------------------------------------------------------------- the real files, from a mirror

SUBSET = Path(os.environ.get("NBAE_FLOWERS_SUBSET", "/nonexistent"))


@pytest.fixture
def mirror():
    if not (SUBSET / "102flowers.tgz").is_file():
        pytest.skip("NBAE_FLOWERS_SUBSET does not name the Oxford subset folder")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SUBSET)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_prepare_split_from_a_mirror_of_the_subset(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    params = yaml.safe_load((ROOT / "config/generalize.yaml").read_text())
    tgz = (SUBSET / "102flowers.tgz").read_bytes()
    params["flower_split"]["base_url"] = mirror
    params["flower_split"]["files"]["102flowers.tgz"] = {"md5": hashlib.md5(tgz).hexdigest(),
                                                        "size": len(tgz)}
    params["flower_split"]["classes"] = [49, 54]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(params))
    stage = load_stage("prepare_flower_split")
    assert stage.main([str(tmp_path / "config.yaml"), str(tmp_path / "raw"),
                       str(tmp_path / "out")]) == 0
    assert (tmp_path / "raw/102flowers.tgz").stat().st_size == len(tgz)
    data = gen.load_split(tmp_path / "out/split.npz")
    counts = {s: int((data["split"] == s).sum()) for s in gen.SPLITS}
    assert counts == {"train": 20, "val": 20, "test": 29 + 41}
    assert set(data["labels"].tolist()) == {49, 54} and data["classes"].tolist() == [49, 54]
    # the class-49 rows are those shipped for the default config, byte for byte
    shipped = gen.load_split(ROOT / "data/flowers/split/split.npz")
    rows = dict(zip(data["ids"].tolist(), data["X"], strict=True))
    assert all(np.array_equal(rows[i], x) for i, x in zip(shipped["ids"].tolist(),
                                                           shipped["X"], strict=True))


def test_figure_checks_its_input(tmp_path):
    from nbae.figures.generalization import plot_generalization

    df = pd.DataFrame({"latent_size": [2, 8], "train_mse": [0.1, 0.02], "test_mse": [0.2, 0.0]})
    with pytest.raises(ValueError, match="positive and finite for a log axis"):
        plot_generalization(df, tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['test_mse'\]"):
        plot_generalization(df.drop(columns="test_mse"), tmp_path / "a.png")
    plot_generalization(df.assign(test_mse=[0.2, 0.15]), tmp_path / "a.png", mean_mse=0.25)
    assert (tmp_path / "a.png").stat().st_size > 10_000
