"""Font study helpers: params, the font set, run summaries, comparison tables, stage errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbae import font_study as fst
from nbae.params import ParamsError

FONT_H = Path(__file__).resolve().parents[1] / "data" / "font.h"

TINY = {"layers": [35, 6, 2], "activation": "tanh", "optimizer": "adam", "lr": 0.01,
        "batch_size": 8, "epochs": 20}


def _params(**extra):
    p = {"arch": 2, "architectures": {"1": dict(TINY), "2": dict(TINY, seed=9)},
         "train_font": {"seed": 3, "metric_every": 5}}
    p.update(extra)
    return p


@pytest.fixture(scope="module")
def data():
    return fst.build_font_set(FONT_H, "Font3", "binary")


def test_font_set_roundtrip(tmp_path, data):
    assert data["X"].shape == (32, 35) and data["labels"][1] == "a"
    assert data["labels"][-1] == "DEL" and data["pixel_range"] == [0.0, 1.0]
    fst.save_font_set(tmp_path / "f.npz", data)
    back = fst.load_font_set(tmp_path / "f.npz")
    np.testing.assert_array_equal(back["X"], data["X"])
    assert back["labels"] == data["labels"] and back["encoding"] == "binary"
    bip = fst.build_font_set(FONT_H, "Font3", "bipolar")
    assert set(np.unique(bip["X"])) == {-1.0, 1.0} and bip["pixel_range"] == [-1.0, 1.0]


def test_load_font_set_errors(tmp_path):
    with pytest.raises(ValueError, match="build_font"):
        fst.load_font_set(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", Y=np.zeros(2))
    with pytest.raises(ValueError, match="not a font set"):
        fst.load_font_set(tmp_path / "other.npz")


def test_arch_config_lookup_and_seed():
    key, cfg = fst.arch_config(_params())  # integer arch (as dvc exp run -S writes it)
    assert key == "2" and cfg["seed"] == 3  # train_font.seed overrides the entry's seed
    key, cfg = fst.arch_config(_params(train_font={"seed": None}), "2")
    assert cfg["seed"] == 9


@pytest.mark.parametrize("params, match", [
    (_params(arch=9), "architecture '9' is not in"),
    ({"architectures": {"1": TINY}}, "'arch'"),
    (_params(architectures=[]), "'architectures' must be"),
    (_params(architectures={"2": {"layers": [35, 2], "colour": 1}}), "colour"),
    (_params(train_font={"metric_every": 0}), "metric_every"),
    (_params(train_font={"speed": 1}), "unknown setting"),
])
def test_arch_config_errors(params, match):
    with pytest.raises(ParamsError, match=match):
        fst.arch_config(params)


def test_font_and_eval_params():
    assert fst.font_params({})["encoding"] == "binary"
    with pytest.raises(ParamsError, match="encoding"):
        fst.font_params({"font": {"encoding": "ternary"}})
    cfg = fst.eval_params({"evaluate_font": {"transitions": [["k", "h"]]}})
    assert cfg["transitions"] == [["k", "h"]] and cfg["steps"] == 9
    with pytest.raises(ParamsError, match="pairs"):
        fst.eval_params({"evaluate_font": {"transitions": ["kh"]}})


@pytest.fixture(scope="module")
def run(data):
    _, cfg = fst.arch_config(_params())
    ae, history = fst.train_architecture(cfg, data, metric_every=5, arch="2")
    return ae, history, cfg


def test_train_architecture_metadata_and_history(run, data):
    ae, history, _ = run
    md = ae.metadata
    assert md["dataset"] == "font" and md["labels"] == data["labels"]
    assert md["pixel_range"] == [0.0, 1.0] and md["image_shape"] == [7, 5]
    assert np.array(md["train_inputs"]).shape == (32, 35)
    assert "latent_stats" in md and md["architecture"] == "2"
    assert len(history) == 20
    logged = history.dropna(subset=["max_wrong_pixels"])
    assert list(logged["epoch"]) == [5, 10, 15, 20]


def test_run_summary_matches_pixel_errors(run, data):
    from nbae.metrics import pixel_errors

    ae, history, cfg = run
    s = fst.run_summary(ae, history, data, max_wrong=1, arch="2", cfg=cfg)
    err = pixel_errors(data["X"], ae.reconstruct(data["X"]))
    assert s["max_pixel_error"] == err.max() and s["glyphs_over"] == (err > 1).sum()
    assert s["epochs"] == 20 and s["steps"] == 20 * 4
    assert s["lowest_loss"] <= s["final_loss"] and 1 <= s["lowest_loss_epoch"] <= 20
    assert s["description"].startswith("35-6-2 tanh/sigmoid mse adam")
    wrong = dict(item.split(":") for item in s["wrong_glyphs"].split())
    assert sum(map(int, wrong.values())) == err.sum()
    table = fst.per_glyph_table(ae, data)
    assert list(table["wrong_pixels"]) == list(err)


def test_save_run(tmp_path, run, data):
    ae, history, cfg = run
    s = fst.run_summary(ae, history, data, arch="2", cfg=cfg)
    fst.save_run(tmp_path / "r", ae, history, s, data, model_path=tmp_path / "m.npz")
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"history.csv", "summary.json",
                                                           "per_glyph.csv"}
    from nbae import Autoencoder

    assert Autoencoder.load(tmp_path / "m.npz").metadata["image_shape"] == [7, 5]


def test_bad_training_setting_is_a_params_error(data):
    with pytest.raises(ParamsError, match="lr"):
        fst.train_architecture(dict(TINY, lr=-1), data, arch="x")


def test_comparison_and_curves():
    s = {"10": {"description": "d", "n_params": 1, "epochs": 3, "final_loss": 0.5,
                "lowest_loss": 0.4, "lowest_loss_epoch": 2, "max_pixel_error": 2,
                "mean_pixel_error": 0.5, "glyphs_over": 1, "all_within": False,
                "training_seconds": 1.0, "steps_per_second": 10.0}}
    s["2"] = dict(s["10"], max_pixel_error=0, all_within=True)
    df = fst.comparison_table(s)
    assert list(df["arch"]) == ["2", "10"]  # numeric order
    h = {"2": pd.DataFrame({"epoch": range(1, 251), "loss": np.linspace(1, 0, 250)}),
         "10": pd.DataFrame({"epoch": range(1, 101), "loss": np.ones(100)})}
    w = fst.curves_wide(h, every=100)
    assert list(w["epoch"]) == [1, 100, 200, 250]
    assert list(w.columns) == ["epoch", "arch_2", "arch_10"]
    assert np.isnan(w["arch_10"].iloc[-1])


def test_thin_history_keeps_metric_rows():
    h = pd.DataFrame({"epoch": range(1, 301), "loss": np.ones(300), "m": np.nan})
    h.loc[h["epoch"] == 37, "m"] = 1.0
    thin = fst.thin_history(h, every=100)
    assert list(thin["epoch"]) == [1, 37, 100, 200, 300]


def test_transitions(run, data):
    ae = run[0]
    rows = fst.transitions(ae, data, [["k", "h"], ["f", "{"]], steps=5)
    assert [(a, b) for a, b, _ in rows] == [("k", "h"), ("f", "{")]
    assert rows[0][2].shape == (5, 35)
    with pytest.raises(ValueError, match="not in the font"):
        fst.transitions(ae, data, [["k", "K"]])
