"""Font study helpers and stages: params, the font set, the seed sweep's per-seed results, the
train_font / compare_font / evaluate_font stages end to end on a tiny config, stage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nbae.data.datasets import Dataset, save_font_set
from nbae.data.metrics import pixel_errors
from nbae.engine import exact
from nbae.engine.model import Autoencoder
from nbae.studies import font as fst
from nbae.studies import font_data as fd
from nbae.studies import font_sweep as fsw
from nbae.studies.params import ParamsError, run_stage

FONT_H = Path(__file__).resolve().parents[1] / "data" / "font.h"
ROOT = Path(__file__).resolve().parents[1]

TINY = {"layers": [35, 6, 2], "activation": "tanh", "optimizer": "adam", "lr": 0.01,
        "batch_size": 8, "epochs": 20}


def _params(**extra):
    p = {"arch": 2, "architectures": {"1": dict(TINY), "2": dict(TINY, seed=9)},
         "train_font": {"seeds": 3, "metric_every": 5}}
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


def test_arch_config_lookup_and_seeds():
    key, cfg = fst.arch_config(_params())  # integer arch (as dvc exp run -S writes it)
    assert key == "2" and cfg["layers"] == [35, 6, 2] and cfg["epoch_loss"] == "full"
    assert fst.arch_config(_params(), "1")[0] == "1"
    assert fst.train_params(_params())["seeds"] == [0, 1, 2]  # a count: seeds 0..N-1
    tp = fst.train_params(_params(train_font={"seeds": [7, 3]}))
    assert tp["seeds"] == [7, 3] and tp["metric_every"] == 500 and tp["max_wrong"] == 1
    assert fst.train_params({})["seeds"] == list(range(10))  # the default count


@pytest.mark.parametrize("params, match", [
    (_params(arch=9), "architecture '9' is not in"),
    ({"architectures": {"1": TINY}}, "'arch'"),
    (_params(architectures=[]), "'architectures' must be"),
    (_params(architectures={"2": {"layers": [35, 2], "colour": 1}}), "colour"),
    (_params(train_font={"metric_every": 0}), "metric_every"),
    (_params(train_font={"seeds": 0}), r"train_font\.seeds must be a count >= 1"),
    (_params(train_font={"seeds": [1, 1]}), r"train_font\.seeds must be .* distinct"),
    (_params(train_font={"seed": 3}), r"unknown setting\(s\) \['seed'\]"),  # the old key
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


# --------------------------------------------------------------------------------- one task


def _train(data, cfg, seeds, max_wrong=1, arch="2"):
    return fsw.train_seeds(cfg, data.X, seeds=seeds, arch=arch,
                           metadata=data.model_metadata(), pixel_range=list(data.pixel_range),
                           metric_every=5, max_wrong=max_wrong)


@pytest.fixture(scope="module")
def run(data):
    _, cfg = fst.arch_config(_params())  # arch 2: its own seed 9 is not used
    return _train(data, cfg, [0, 1])


def test_train_seeds_models_metadata_and_curves(run, data):
    assert set(run.models) == {"seed-0", "seed-1"}
    assert run.info["arch"] == "2" and run.info["description"].startswith(
        "35-6-2 tanh/sigmoid mse adam")
    for seed in (0, 1):
        ae = run.models[f"seed-{seed}"]
        md = ae.metadata
        assert ae.seed == seed and md["architecture"] == "2"
        assert md["dataset"] == "font" and md["labels"] == data.labels
        assert md["pixel_range"] == [0.0, 1.0] and md["image_shape"] == [7, 5]
        assert np.array(md["train_inputs"]).shape == (32, 35)
        assert len(md["latent_stats"]["mean"]) == 2
        assert ae.training["seconds"] is None  # no timings: the files are reproducible
    c = run.tables["curves"]
    assert list(c.columns[:3]) == ["seed", "epoch", "loss"]
    for seed in (0, 1):
        mine = c[c["seed"] == seed]
        assert mine["epoch"].tolist() == [1, 5, 10, 15, 20]  # first, metric rows, last
        assert mine.dropna(subset=["max_wrong_pixels"])["epoch"].tolist() == [5, 10, 15, 20]
    assert c[c["seed"] == 0]["loss"].tolist() != c[c["seed"] == 1]["loss"].tolist()


def test_train_seeds_runs_match_pixel_errors(run, data):
    runs, glyphs = run.tables["runs"], run.tables["per_glyph"]
    assert runs["seed"].tolist() == [0, 1]
    for row in runs.itertuples():
        ae = run.models[f"seed-{row.seed}"]
        err = pixel_errors(data.X, exact.reconstruct(ae, data.X), data.pixel_range)
        assert row.max_px == err.max() and row.glyphs_over == (err > 1).sum()
        assert bool(row.goal) == bool((err <= 1).all())
        assert row.epochs == 20 and row.stop_reason == "completed"
        assert row.best_loss == ae.training["best_loss"] and row.best_loss <= row.final_loss
        assert 1 <= row.best_epoch <= 20
        wrong = dict(item.split(":") for item in row.wrong_glyphs.split())
        assert sum(map(int, wrong.values())) == err.sum()
        assert set(wrong) == {lab for lab, e in zip(data.labels, err, strict=True) if e}
        mine = glyphs[glyphs["seed"] == row.seed]
        assert mine["label"].tolist() == data.labels
        assert mine["wrong_pixels"].tolist() == err.tolist()


def test_goal_epoch_is_the_first_check_within_max_wrong(run, data):
    """Retrained with the goal set to a value seed 0 logged at epoch 10, the goal epoch is the
    first checked epoch whose worst glyph is within it (training does not depend on the goal)."""
    _, cfg = fst.arch_config(_params())
    c = run.tables["curves"]
    logged = c[(c["seed"] == 0)].dropna(subset=["max_wrong_pixels"])
    goal = int(logged[logged["epoch"] == 10]["max_wrong_pixels"].iloc[0])
    first = int(logged[logged["max_wrong_pixels"] <= goal]["epoch"].iloc[0])
    again = _train(data, cfg, [0], max_wrong=goal)
    row = again.tables["runs"].iloc[0]
    assert row["goal_epoch"] == first <= 10
    np.testing.assert_array_equal(again.models["seed-0"].get_params(),
                                  run.models["seed-0"].get_params())
    assert (logged["max_wrong_pixels"] > 0).all()  # so a goal of 0 wrong pixels is never met
    never = _train(data, cfg, [0], max_wrong=0)  # 20 epochs of a tiny model: never perfect
    assert np.isnan(never.tables["runs"]["goal_epoch"].iloc[0])
    assert not never.tables["runs"]["goal"].iloc[0]


def test_seeds_not_the_entry_seed_decide_the_weights(run, data):
    """Seed 1 trained alone, from an entry without ``seed``, equals seed 1 of the group trained
    from the entry with ``seed: 9`` (lane groups and the entry's seed change nothing)."""
    alone = _train(data, dict(TINY, epoch_loss="full"), [1], arch="1")
    np.testing.assert_array_equal(alone.models["seed-1"].get_params(),
                                  run.models["seed-1"].get_params())


def test_tasks_group_seeds_by_eight(data):
    table = {"1": dict(TINY), "2": dict(TINY, layers=[35, 8, 2])}
    tasks = fsw.font_tasks(table, data, list(range(10)), metric_every=5, max_wrong=1)
    assert [t.key for t in tasks] == ["arch 1, seeds 0-7", "arch 1, seeds 8-9",
                                      "arch 2, seeds 0-7", "arch 2, seeds 8-9"]
    assert [t.kwargs["seeds"] for t in tasks[:2]] == [list(range(8)), [8, 9]]
    assert tasks[0].cost == 4 * tasks[1].cost  # 8 seeds against 2, same architecture
    assert tasks[2].cost > tasks[0].cost  # more weights
    assert fsw.chunks([5, 3, 9], 2) == [[5, 3], [9]]


def test_headline_from_the_summary():
    s = {"arch": "7", "success": 0.123456, "loss_median": 0.000123456789, "seeds": 10}
    assert fst.headline(s) == {"font_arch": 7, "success": 0.1235, "med_loss": 0.0001235}
    assert fst.headline(dict(s, arch="wide", loss_median=None))["font_arch"] == "wide"
    assert fst.headline(dict(s, loss_median=None))["med_loss"] is None


def test_curves_long():
    h = {"2": pd.DataFrame({"epoch": range(1, 251), "loss": np.linspace(1, 0, 250)}),
         "10": pd.DataFrame({"epoch": range(1, 101), "loss": np.ones(100)})}
    h["2"]["max_wrong_pixels"] = np.where(h["2"]["epoch"] % 100 == 0, 3.0, np.nan)
    long = fst.curves_long(h, "loss")
    assert list(long.columns) == ["epoch", "series", "loss"]
    assert long["series"].unique().tolist() == ["arch 2", "arch 10"]  # numeric order
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
    ae = run.models["seed-0"]
    rows = fst.transitions(ae, data, [["k", "h"], ["f", "{"]], steps=5)
    assert [(a, b) for a, b, _ in rows] == [("k", "h"), ("f", "{")]
    assert rows[0][2].shape == (5, 35)
    with pytest.raises(ValueError, match="not in the font"):
        fst.transitions(ae, data, [["k", "K"]])


# --------------------------------------------------------------------------------- stages
# Bad params must end a stage with one ``error: ...`` line and exit status 2 (no traceback).


def _stage(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(name, tmp_path, params, argv, capsys):
    """Exit status and stderr of stage ``name`` run through run_stage with ``params``."""
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


def _train_argv(tmp_path, font_npz):
    return [font_npz, tmp_path / "models", tmp_path / "runs"]


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
    # a good architecture first: every entry is checked before anything is trained
    params = {"architectures": {"1": dict(TINY), "7": dict(TINY, **change)},
              "train_font": {"seeds": 2, "metric_every": 5}}
    rc, err = _run("train_font", tmp_path, params, _train_argv(tmp_path, font_npz), capsys)
    assert (rc, err) == (2, f"error: {message}\n")
    assert not (tmp_path / "models").exists() and not (tmp_path / "runs").exists()


def test_train_font_architecture_not_a_mapping_exit_2(tmp_path, capsys, font_npz):
    params = {"architectures": {"7": [35, 2]}}
    rc, err = _run("train_font", tmp_path, params, _train_argv(tmp_path, font_npz), capsys)
    assert (rc, err) == (2, "error: params architectures.7 must be a mapping of settings "
                            "(layers, activation, ...), got [35, 2]\n")


@pytest.mark.parametrize("seeds, message", [
    (0, "params train_font.seeds must be a count >= 1 or a list of distinct integers >= 0, "
        "got 0"),
    ([2, 2], "params train_font.seeds must be a count >= 1 or a list of distinct integers "
             ">= 0, got [2, 2]"),
])
def test_train_font_bad_seeds_exit_2(tmp_path, capsys, font_npz, seeds, message):
    params = {"architectures": {"7": dict(TINY)}, "train_font": {"seeds": seeds}}
    rc, err = _run("train_font", tmp_path, params, _train_argv(tmp_path, font_npz), capsys)
    assert (rc, err) == (2, f"error: {message}\n")
    assert not (tmp_path / "models").exists()


def test_train_font_bad_learning_rate_exit_2(tmp_path, capsys, font_npz):
    params = {"architectures": {"7": dict(TINY, lr=-1)}, "train_font": {"seeds": 2}}
    rc, err = _run("train_font", tmp_path, params, _train_argv(tmp_path, font_npz), capsys)
    assert err.count("\n") == 1 and "lr" in err and "architectures.7" in err
    assert rc == 2
    assert not (tmp_path / "models").exists()


def test_train_font_missing_font_set_exit_1(tmp_path, capsys):
    params = {"architectures": {"7": dict(TINY)}, "train_font": {"seeds": 1}}
    rc, err = _run("train_font", tmp_path, params, _train_argv(tmp_path, tmp_path / "no.npz"),
                   capsys)
    assert rc == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert "build_font" in err and not (tmp_path / "models").exists()


# ------------------------------------------------------------------- stages end to end
# Two architectures x three seeds (given as a list) x 20 epochs, trained serially into a
# throwaway sweep store; arch 2 is the smaller one.

SEEDS = [4, 1, 7]
ARCHS = {"1": dict(TINY, layers=[35, 8, 2]), "2": dict(TINY, seed=9)}
EVAL = {"transitions": [["a", "b"], ["f", "`"]], "steps": 3, "grid_n": 3}
N_GLYPHS = 8  # the first 8 glyphs of Font3 (figures of all 32 take seconds)


@pytest.fixture(scope="module")
def small(data):
    return Dataset(data.X[:N_GLYPHS], data.labels[:N_GLYPHS], "font", data.pixel_range,
                   data.image_shape, {**data.info, "codes": data.info["codes"][:N_GLYPHS]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small):
    """Folder with config.yaml, font.npz and train_font's outputs models/, runs/."""
    root = tmp_path_factory.mktemp("train_font")
    save_font_set(root / "font.npz", small)
    params = {"arch": 2, "architectures": ARCHS, "evaluate_font": EVAL,
              "train_font": {"seeds": SEEDS, "metric_every": 5}}
    (root / "config.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse fixture is not yet on
        mp.setenv("NBAE_SCHEDULER", "serial")
        mp.setenv("NBAE_SWEEP_STORE", str(root / "store"))
        rc = run_stage(_stage("train_font").main, [str(root / "config.yaml"),
                                                   str(root / "font.npz"), str(root / "models"),
                                                   str(root / "runs")])
    assert rc == 0
    return root


def test_train_font_layout(trained):
    for key in ARCHS:
        assert sorted(p.name for p in (trained / "models" / key).iterdir()) == [
            "representative.npz", "seed-1.npz", "seed-4.npz", "seed-7.npz"]
        assert sorted(p.name for p in (trained / "runs" / key).iterdir()) == [
            "curves.csv", "per_glyph.csv", "runs.csv", "summary.json"]
    assert sorted(p.name for p in (trained / "models").iterdir()) == ["1", "2"]


@pytest.mark.parametrize("key", list(ARCHS))
def test_train_font_runs_and_summary(trained, small, key):
    runs = pd.read_csv(trained / "runs" / key / "runs.csv")
    assert runs["seed"].tolist() == sorted(SEEDS)  # one row per seed
    s = json.loads((trained / "runs" / key / "summary.json").read_text())
    models = {seed: Autoencoder.load(trained / "models" / key / f"seed-{seed}.npz")
              for seed in SEEDS}
    for row in runs.itertuples():
        ae = models[row.seed]
        assert ae.seed == row.seed and ae.metadata["architecture"] == key
        assert ae.sizes[:3] == ARCHS[key]["layers"]
        assert row.best_loss == pytest.approx(ae.training["best_loss"], rel=1e-12)
        assert ae.metadata["labels"] == small.labels
        err = pixel_errors(small.X, exact.reconstruct(ae, small.X), small.pixel_range)
        assert row.max_px == err.max()
    losses = runs["best_loss"].to_numpy()
    assert s["arch"] == key and s["seeds"] == 3
    assert s["n_params"] == models[SEEDS[0]].n_params
    assert s["description"].startswith(f"35-{ARCHS[key]['layers'][1]}-2 tanh")
    assert s["success"] == pytest.approx(runs["goal"].mean())
    assert s["successes"] == runs["goal"].sum()
    assert s["loss_median"] == pytest.approx(np.median(losses), rel=1e-12)
    assert s["loss_q1"] == pytest.approx(np.percentile(losses, 25), rel=1e-12)
    assert s["loss_q3"] == pytest.approx(np.percentile(losses, 75), rel=1e-12)
    assert s["max_px_median"] == np.median(runs["max_px"])
    assert s["goal_reached"] == runs["goal_epoch"].notna().sum()
    # the representative seed: the middle one of the three lowest losses
    middle = int(runs["seed"].to_numpy()[np.argsort(losses)[1]])
    assert s["representative_seed"] == middle
    curves = pd.read_csv(trained / "runs" / key / "curves.csv")
    assert sorted(curves["seed"].unique()) == sorted(SEEDS)
    assert (curves.groupby("seed")["epoch"].max() == 20).all()
    glyphs = pd.read_csv(trained / "runs" / key / "per_glyph.csv", keep_default_na=False)
    assert glyphs.groupby("seed").size().tolist() == [N_GLYPHS] * 3
    assert glyphs["label"].tolist() == small.labels * 3


@pytest.mark.parametrize("key", list(ARCHS))
def test_representative_is_a_byte_copy_of_its_seed(trained, key):
    s = json.loads((trained / "runs" / key / "summary.json").read_text())
    folder = trained / "models" / key
    rep = (folder / "representative.npz").read_bytes()
    assert rep == (folder / f"seed-{s['representative_seed']}.npz").read_bytes()
    others = [x for x in SEEDS if x != s["representative_seed"]]
    assert all(rep != (folder / f"seed-{x}.npz").read_bytes() for x in others)


def test_train_font_twice_from_scratch_writes_the_same_bytes(trained, tmp_path, monkeypatch):
    """Training again with an empty sweep store reproduces every file bit for bit (the lanes
    engine is deterministic and timings are left out)."""
    monkeypatch.setenv("NBAE_SWEEP_STORE", str(tmp_path / "store"))
    argv = [str(trained / "config.yaml"), str(trained / "font.npz"), str(tmp_path / "models"),
            str(tmp_path / "runs")]
    assert run_stage(_stage("train_font").main, argv) == 0
    assert any((tmp_path / "store").iterdir())  # trained here, not read from the first store
    files = sorted(p for sub in ("models", "runs") for p in (trained / sub).rglob("*")
                   if p.is_file())
    assert len(files) == 2 * (4 + 4)
    for p in files:
        assert (tmp_path / p.relative_to(trained)).read_bytes() == p.read_bytes(), p


def test_compare_font_stage(trained, tmp_path, capsys):
    out, fig = tmp_path / "out", tmp_path / "fig" / "comparison.png"
    argv = [trained / "config.yaml", trained / "runs", out, fig]
    assert run_stage(_stage("compare_font").main, [str(a) for a in argv]) == 0
    df = pd.read_csv(out / "comparison.csv")
    assert df["arch"].astype(str).tolist() == ["1", "2"]
    summaries = {k: json.loads((trained / "runs" / k / "summary.json").read_text())
                 for k in ARCHS}
    for row in df.itertuples():
        s = summaries[str(row.arch)]
        assert row.seeds == 3 and row.representative_seed == s["representative_seed"]
        assert row.loss_median == pytest.approx(s["loss_median"], rel=1e-12)
        assert row.n_params == s["n_params"] and row.success == s["success"]
    # the rule: equal success and no goal epoch in 20 epochs -> the fewer parameters win
    assert summaries["1"]["success"] == summaries["2"]["success"] == 0.0
    assert summaries["2"]["n_params"] < summaries["1"]["n_params"]
    assert df["chosen"].tolist() == [False, True]
    # curves.csv: per architecture the median loss over its seeds at every logged epoch
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["epoch", "series", "loss"]
    for key in ARCHS:
        c = pd.read_csv(trained / "runs" / key / "curves.csv")
        want = c.pivot(index="epoch", columns="seed", values="loss")
        got = curves[curves["series"] == f"arch {key}"]
        assert got["epoch"].tolist() == want.index.tolist() == [1, 5, 10, 15, 20]
        np.testing.assert_allclose(got["loss"], np.median(want.to_numpy(), axis=1), rtol=1e-12)
    px = pd.read_csv(out / "wrong_pixels.csv")
    assert list(px.columns) == ["epoch", "series", "max_wrong_pixels"]
    assert px[px["series"] == "arch 2"]["epoch"].tolist() == [5, 10, 15, 20]
    c = pd.read_csv(trained / "runs" / "2" / "curves.csv")
    at10 = c[c["epoch"] == 10]["max_wrong_pixels"]
    assert px[(px["series"] == "arch 2") & (px["epoch"] == 10)]["max_wrong_pixels"].iloc[0] \
        == np.median(at10)
    assert fig.stat().st_size > 0
    assert "chosen architecture 2" in capsys.readouterr().out


def test_compare_font_missing_run_is_a_runtime_error(trained, tmp_path, capsys):
    params = yaml.safe_load((trained / "config.yaml").read_text())
    params["architectures"]["3"] = dict(TINY)  # never trained
    rc, err = _run("compare_font", tmp_path, params,
                   [trained / "runs", tmp_path / "out", tmp_path / "c.png"], capsys)
    assert (rc, err) == (1, f"error: {trained / 'runs' / '3' / 'summary.json'}: not found "
                            f"(run the train_font stage first)\n")
    assert not (tmp_path / "out").exists()


def test_evaluate_font_stage(trained, tmp_path, small, capsys):
    model = trained / "models" / "2" / "representative.npz"
    out, fig = tmp_path / "out", tmp_path / "fig"
    argv = [trained / "config.yaml", trained / "font.npz", model, trained / "runs" / "2", out,
            fig]
    assert run_stage(_stage("evaluate_font").main, [str(a) for a in argv]) == 0
    runs = pd.read_csv(trained / "runs" / "2" / "runs.csv")
    s = json.loads((trained / "runs" / "2" / "summary.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == {"font_arch": 2, "success": round(float(runs["goal"].mean()), 4),
                       "med_loss": float(f"{np.median(runs['best_loss']):.4g}")}
    ae = Autoencoder.load(model)
    assert ae.seed == s["representative_seed"]
    codes = pd.read_csv(out / "latent_codes.csv", keep_default_na=False)
    assert codes["label"].tolist() == small.labels
    np.testing.assert_array_equal(codes[["z1", "z2"]].to_numpy(), exact.encode(ae, small.X))
    err = pixel_errors(small.X, exact.reconstruct(ae, small.X), small.pixel_range)
    assert codes["wrong_pixels"].tolist() == err.tolist()
    for name in ("error_curve", "latent_map", "reconstructions", "transitions", "latent_grid"):
        assert (fig / f"{name}.png").stat().st_size > 0, name
    assert f"seed {s['representative_seed']}" in capsys.readouterr().out


def test_evaluate_font_unknown_transition_glyph_exit_2(tmp_path, capsys, font_npz, trained):
    params = {"evaluate_font": {"transitions": [["k", "h"], ["Q", "u"]]}}
    rc, err = _run("evaluate_font", tmp_path, params,
                   [font_npz, trained / "models" / "2" / "representative.npz",
                    trained / "runs" / "2", tmp_path / "out", tmp_path / "fig"], capsys)
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
