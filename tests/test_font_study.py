"""Font study helpers: params, the font set, run summaries, comparison tables, stage errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbae.data.datasets import save_font_set
from nbae.studies import font as fst
from nbae.studies import font_data as fd
from nbae.studies.params import ParamsError

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
    return fd.build_font_set(FONT_H, "Font3", "binary")


def test_font_set_roundtrip(tmp_path, data):
    assert data.X.shape == (32, 35) and data.labels[1] == "a"
    assert data.labels[-1] == "DEL" and data.pixel_range == (0.0, 1.0)
    save_font_set(tmp_path / "f.npz", data)
    back = fd.load_font_set(tmp_path / "f.npz")
    np.testing.assert_array_equal(back.X, data.X)
    assert back.labels == data.labels and back.info["encoding"] == "binary"
    bip = fd.build_font_set(FONT_H, "Font3", "bipolar")
    assert set(np.unique(bip.X)) == {-1.0, 1.0} and bip.pixel_range == (-1.0, 1.0)


def test_load_font_set_errors(tmp_path):
    with pytest.raises(ValueError, match="build_font"):
        fd.load_font_set(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", Y=np.zeros(2))
    with pytest.raises(ValueError, match="no array 'X'"):
        fd.load_font_set(tmp_path / "other.npz")


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
    assert fd.font_params({})["encoding"] == "binary"
    with pytest.raises(ParamsError, match="encoding"):
        fd.font_params({"font": {"encoding": "ternary"}})
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
    assert md["dataset"] == "font" and md["labels"] == data.labels
    assert md["pixel_range"] == [0.0, 1.0] and md["image_shape"] == [7, 5]
    assert np.array(md["train_inputs"]).shape == (32, 35)
    assert "latent_stats" in md and md["architecture"] == "2"
    assert len(history) == 20
    logged = history.dropna(subset=["max_wrong_pixels"])
    assert list(logged["epoch"]) == [5, 10, 15, 20]


def test_run_summary_matches_pixel_errors(run, data):
    from nbae.data.metrics import pixel_errors

    ae, history, cfg = run
    s = fst.run_summary(ae, history, data, max_wrong=1, arch="2", cfg=cfg)
    err = pixel_errors(data.X, ae.reconstruct(data.X))
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
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"curve.csv", "summary.json",
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
    h["2"]["max_wrong_pixels"] = np.where(h["2"]["epoch"] % 100 == 0, 3.0, np.nan)
    long = fst.curves_long(h, "loss")
    assert list(long.columns) == ["epoch", "series", "loss"]
    assert (long["series"] == "arch 2").sum() == 250 and (long["series"] == "arch 10").sum() == 100
    sampled = fst.curves_long(h, "max_wrong_pixels")  # only the sampled epochs, no blanks
    assert list(sampled["epoch"]) == [100, 200] and set(sampled["series"]) == {"arch 2"}


def test_thin_history_keeps_metric_rows():
    h = pd.DataFrame({"epoch": range(1, 301), "loss": np.ones(300), "m": np.nan})
    h.loc[h["epoch"] == 37, "m"] = 1.0
    h.loc[h["epoch"] == 150, "loss"] = 0.5  # the lowest loss is kept too
    thin = fst.thin_history(h, every=100)
    assert list(thin["epoch"]) == [1, 37, 100, 150, 200, 300]


def test_transitions(run, data):
    ae = run[0]
    rows = fst.transitions(ae, data, [["k", "h"], ["f", "{"]], steps=5)
    assert [(a, b) for a, b, _ in rows] == [("k", "h"), ("f", "{")]
    assert rows[0][2].shape == (5, 35)
    with pytest.raises(ValueError, match="not in the font"):
        fst.transitions(ae, data, [["k", "K"]])


# --------------------------------------------------------------------------------- stages
# Bad params must end a stage with one ``error: ...`` line and exit status 2 (no traceback).

ROOT = Path(__file__).resolve().parents[1]


def _stage(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(name, tmp_path, params, argv, capsys):
    """Exit status and stderr of stage ``name`` run through run_stage with ``params``."""
    import yaml

    from nbae.studies.params import run_stage

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(params))
    rc = run_stage(_stage(name).main, [str(path), *map(str, argv)])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("font, font_h, message", [
    ({"name": "Font9"}, FONT_H, f"params font.name: {FONT_H}:107: no font array named 'Font9'; "
                                "available: Font1, Font2, Font3"),
    ({}, Path("data/nope.h"), "data/nope.h: no such font file"),
    ({}, FONT_H.parent, f"{FONT_H.parent}: is a folder, not a font file"),
    ({"name": None}, FONT_H, "params font.name must be a non-empty string, got None"),
    ({"file": "x.h"}, FONT_H, "params 'font': unknown setting(s) ['file']; known: "
                              "['encoding', 'name']"),
])
def test_build_font_bad_params_exit_2(tmp_path, capsys, font, font_h, message):
    rc, err = _run("build_font", tmp_path, {"font": font}, [font_h, tmp_path / "font"], capsys)
    assert (rc, err) == (2, f"error: {message}\n")
    assert not (tmp_path / "font").exists()


def test_build_font_malformed_file_is_a_runtime_error(tmp_path, capsys):
    bad = tmp_path / "bad.h"
    bad.write_text("int const Font3[32][7] = {\n")
    rc, err = _run("build_font", tmp_path, {"font": {}}, [bad, tmp_path / "font"], capsys)
    assert rc == 1 and err.startswith(f"error: {bad}:") and err.count("\n") == 1


@pytest.fixture
def font_npz(tmp_path, data):
    save_font_set(tmp_path / "font.npz", data)
    return tmp_path / "font.npz"


@pytest.mark.parametrize("change, message", [
    ({"epochs": 0}, "params architectures.7.epochs must be an integer >= 1, got 0"),
    ({"epochs": -3}, "params architectures.7.epochs must be an integer >= 1, got -3"),
    ({"batch_size": 0}, "params architectures.7.batch_size must be an integer >= 1, got 0"),
    ({"layers": []}, "architectures.7: layers needs at least an input and a latent size, "
                     "got []"),
    ({"activation": None}, "params architectures.7.activation must be a name (e.g. tanh) or "
                           "a list of names, one per hidden layer, got None"),
    ({"betas": 3}, "params architectures.7.betas must be two numbers, e.g. [0.9, 0.999], "
                   "got 3"),
])
def test_train_font_bad_architecture_exit_2(tmp_path, capsys, font_npz, change, message):
    params = {"arch": 7, "architectures": {"7": dict(TINY, **change)},
              "train_font": {"seed": 0, "metric_every": 5}}
    rc, err = _run("train_font", tmp_path, params,
                   [7, font_npz, tmp_path / "model.npz", tmp_path / "run"], capsys)
    assert (rc, err) == (2, f"error: {message}\n")
    assert not (tmp_path / "model.npz").exists()


def test_train_font_architecture_not_a_mapping_exit_2(tmp_path, capsys, font_npz):
    params = {"arch": 7, "architectures": {"7": [35, 2]}}
    rc, err = _run("train_font", tmp_path, params,
                   [7, font_npz, tmp_path / "model.npz", tmp_path / "run"], capsys)
    assert (rc, err) == (2, "error: params architectures.7 must be a mapping of settings "
                            "(layers, activation, ...), got [35, 2]\n")


def test_train_font_one_epoch_runs(tmp_path, capsys, font_npz):
    import json

    params = {"arch": 7, "architectures": {"7": dict(TINY, epochs=1)},
              "train_font": {"seed": 0, "metric_every": 5}}
    rc, err = _run("train_font", tmp_path, params,
                   [7, font_npz, tmp_path / "model.npz", tmp_path / "run"], capsys)
    assert (rc, err) == (0, "")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 1


def test_evaluate_font_unknown_transition_glyph_exit_2(tmp_path, capsys, font_npz, run):
    run[0].save(tmp_path / "model.npz")
    params = {"evaluate_font": {"transitions": [["k", "h"], ["Q", "u"]]}}
    rc, err = _run("evaluate_font", tmp_path, params,
                   [font_npz, tmp_path / "model.npz", tmp_path / "run", tmp_path / "out",
                    tmp_path / "fig"], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert err.startswith("error: params evaluate_font.transitions: glyph 'Q' is not in the "
                          "font (glyphs: ` a b c")
    assert not (tmp_path / "fig").exists()


def test_train_font_epoch_loss_setting():
    params = {"arch": 1, "architectures": {"1": {"layers": [35, 2]},
                                           "2": {"layers": [35, 2], "epoch_loss": "running"}}}
    assert fst.arch_config(params)[1]["epoch_loss"] == "full"  # the default
    assert fst.arch_config(params, "2")[1]["epoch_loss"] == "running"  # the entry's own wins
    params["train_font"] = {"epoch_loss": "exact"}
    with pytest.raises(fst.ParamsError, match="train_font.epoch_loss must be 'running' or"):
        fst.arch_config(params)
