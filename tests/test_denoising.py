"""Denoising study: noisy training sets, evaluation on hand-built cases, params checks, the
train_denoiser and evaluate_denoising stages end to end on a tiny config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nbae.data.datasets import Dataset, save_font_set
from nbae.engine.model import Autoencoder
from nbae.studies import denoise_sweep as dsw
from nbae.studies import denoising as dn
from nbae.studies.params import ParamsError, run_stage

GLYPHS = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [1, 1, 1, 1]], dtype=float)


def identity(Xn):
    return Xn


def test_identity_model_at_level_zero_makes_no_errors():
    df = dn.evaluate({"id": identity}, GLYPHS, [0.0], trials=4, seed=0)
    assert len(df) == 4
    assert (df["mean_wrong"] == 0).all() and (df["worst_wrong"] == 0).all()
    assert (df["restored"] == 1.0).all() and (df["mse"] == 0).all()


def test_identity_model_with_every_pixel_flipped():
    # flip at level 1 inverts every pixel: 4 wrong of 4 on each glyph, squared error 1
    df = dn.evaluate({"id": identity}, GLYPHS, [1.0], trials=3, seed=5)
    assert (df["mean_wrong"] == 4).all() and (df["worst_wrong"] == 4).all()
    assert (df["restored"] == 0).all() and np.allclose(df["mse"], 1.0)


def test_identity_errors_match_the_noise_drawn():
    X = np.tile(GLYPHS, (10, 1))
    level, seed, trials = 0.3, 7, 5
    df = dn.evaluate({"id": identity}, X, [level], trials=trials, seed=seed, max_wrong=1)
    # the same draw as evaluate: one stream per level from SeedSequence(seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    flipped = rng.random((trials * len(X), X.shape[1])) < level
    per_glyph = flipped.sum(axis=1).reshape(trials, len(X))
    np.testing.assert_allclose(df["mean_wrong"], per_glyph.mean(axis=1))
    np.testing.assert_array_equal(df["worst_wrong"], per_glyph.max(axis=1))
    np.testing.assert_allclose(df["restored"], (per_glyph <= 1).mean(axis=1))


def test_a_perfect_denoiser_and_shared_noise():
    clean = np.tile(GLYPHS, (2, 1))
    seen = []

    def perfect(Xn):
        seen.append(Xn.copy())
        return np.tile(clean, (len(Xn) // len(clean), 1))

    def also(Xn):
        seen.append(Xn.copy())
        return Xn

    df = dn.evaluate({"perfect": perfect, "id": also}, clean, [0.2], trials=6, seed=1)
    np.testing.assert_array_equal(seen[0], seen[1])  # both models see the same noisy inputs
    p = df[df["model"] == "perfect"]
    assert (p["restored"] == 1).all() and (p["worst_wrong"] == 0).all()


def test_bad_model_output_shape_is_reported():
    with pytest.raises(ValueError, match="returned shape"):
        dn.evaluate({"bad": lambda Xn: Xn[:, :2]}, GLYPHS, [0.1], trials=2)


def test_summary_headline_and_long_curves():
    df = dn.evaluate({"id": identity, dn.NOISY_INPUT: identity}, GLYPHS, [0.0, 0.1, 1.0],
                     trials=3, seed=0)
    s = dn.summarize(df)
    assert list(s.columns[:3]) == ["model", "level", "trials"]
    assert set(s["trials"]) == {3}
    m = dn.headline(s, {"ae": "id"}, levels=(0.1, 1.0))  # the exp show numbers
    at_10 = float(s[(s.model == "id") & (s.level == 0.1)]["restored"].iloc[0])
    assert m == {"ae10": round(at_10, 4), "ae100": 0.0}
    c = dn.long_curves(s, {dn.NOISY_INPUT: "noisy"})
    assert list(c.columns) == ["level", "series", "restored", "mean_wrong"]
    assert set(c["series"]) == {"id", "noisy"} and len(c) == 6
    assert c[(c.series == "id") & (c.level == 1.0)]["mean_wrong"].iloc[0] == 4.0


def _params(**denoise):
    base = {"kind": "flip", "levels": [0.0, 0.1], "copies": 3, "mode": "fixed", "seed": 0,
            "metric_every": 1,
            "model": {"layers": [4, 3, 2], "epochs": 2, "batch_size": 5, "seed": 0}}
    base.update(denoise)
    return {"denoise": base, "evaluate_denoising": {"levels": [0.0, 0.2], "trials": 2}}


def test_training_set_fixed_and_fresh():
    cfg = dn.train_params(_params())
    Xn, Y, extra = dn.training_set(GLYPHS, cfg)
    assert Xn.shape == (2 * 3 * 3, 4) and extra == {}
    np.testing.assert_array_equal(Y, np.tile(GLYPHS, (6, 1)))
    cfg = dn.train_params(_params(mode="fresh", fresh_level=0.2))
    Xn, Y, extra = dn.training_set(GLYPHS, cfg, pixel_range=(0, 1))
    assert Xn.shape == (9, 4)
    assert extra == {"input_noise": {"kind": "flip", "level": 0.2, "range": [0, 1]}}


def test_default_set_is_10240_samples():
    X = np.zeros((32, 35))
    cfg = dn.train_params({"denoise": {"model": {"layers": [35, 2]}}})
    Xn, _, _ = dn.training_set(X, cfg)
    assert Xn.shape == (10240, 35)


@pytest.mark.parametrize("bad, match", [
    ({"kind": "salt"}, "denoise.kind"),
    ({"mode": "sometimes"}, "denoise.mode"),
    ({"levels": [0.1, 1.5]}, "denoise.levels"),
    ({"copies": 0}, "denoise.copies"),
    ({"model": None}, "denoise.model"),
    ({"colour": 1}, "unknown setting"),
])
def test_bad_denoise_params(bad, match):
    with pytest.raises(ParamsError, match=match):
        dn.train_params(_params(**bad))


def test_bad_eval_params():
    p = _params()
    p["evaluate_denoising"]["trials"] = 0
    with pytest.raises(ParamsError, match="trials"):
        dn.eval_params(p)


def _glyph_set():
    return Dataset(GLYPHS, ["a", "b", "c"], "font", (0.0, 1.0), (2, 2),
                   {"font": "Font3", "encoding": "binary", "codes": [97, 98, 99]})


def test_denoise_tasks_and_one_task_tiny():
    data = _glyph_set()
    cfg = dn.train_params(_params())
    tasks = dsw.denoise_tasks(cfg, data, cfg["seeds"])  # the default: 10 seeds, 8 per task
    assert [t.key for t in tasks] == ["denoiser, seeds 0-7", "denoiser, seeds 8-9"]
    assert tasks[0].kwargs["seeds"] == list(range(8)) and tasks[1].kwargs["seeds"] == [8, 9]
    kw = tasks[1].kwargs
    np.testing.assert_array_equal(kw["X"], dn.training_set(GLYPHS, cfg)[0])
    np.testing.assert_array_equal(kw["Y"], np.tile(GLYPHS, (6, 1)))
    assert "input_noise" not in kw["cfg"] and kw["metric_every"] == 1
    r = tasks[1].fn(**kw, threads=None)
    assert set(r.models) == {"seed-8", "seed-9"} and r.info == {"n_samples": 18}
    for seed in (8, 9):
        ae = r.models[f"seed-{seed}"]
        assert ae.seed == seed and ae.training["epochs_run"] == 2
        assert ae.metadata["dataset"] == "font" and ae.metadata["image_shape"] == [2, 2]
        assert ae.metadata["denoising"] == {"kind": "flip", "levels": [0.0, 0.1], "copies": 3,
                                            "mode": "fixed", "fresh_level": 0.1, "seed": 0}
    runs = r.tables["runs"]
    assert runs["seed"].tolist() == [8, 9] and (runs["epochs"] == 2).all()
    from nbae.data.metrics import pixel_errors
    from nbae.engine import exact

    for row in runs.itertuples():
        err = pixel_errors(GLYPHS, exact.reconstruct(r.models[f"seed-{row.seed}"], GLYPHS))
        assert row.clean_max_px == err.max() and row.clean_over_1 == (err > 1).sum()
    c = r.tables["curves"]
    assert c[c["seed"] == 8]["epoch"].tolist() == [1, 2]
    assert c["max_wrong_pixels"].notna().all()  # checked every epoch (metric_every 1)
    fresh = dn.train_params(_params(mode="fresh", fresh_level=0.2))
    kw = dsw.denoise_tasks(fresh, data, [0])[0].kwargs
    assert kw["cfg"]["input_noise"] == {"kind": "flip", "level": 0.2, "range": [0.0, 1.0]}
    assert kw["X"].shape == (9, 4)


@pytest.mark.parametrize("seeds", [0, [3, 3], [-1], "2"])
def test_bad_denoise_seeds(seeds):
    with pytest.raises(ParamsError, match=r"params denoise\.seeds must be a count >= 1"):
        dn.train_params(_params(seeds=seeds))


# --------------------------------------------------------------------------------- stages

ROOT = Path(__file__).resolve().parents[1]
FONT_H = ROOT / "data" / "font.h"


def _stage(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(name, argv):
    return run_stage(_stage(name).main, [str(a) for a in argv])


@pytest.mark.parametrize("model, message", [
    ({"epochs": 0}, "params denoise.model.epochs must be an integer >= 1, got 0"),
    ({"batch_size": 0}, "params denoise.model.batch_size must be an integer >= 1, got 0"),
    ({"activation": None}, "params denoise.model.activation must be a name (e.g. tanh) or a "
                           "list of names, one per hidden layer, got None"),
    ({"colour": 1}, "denoise.model: unknown setting(s) 'colour'; known: layers"),
])
def test_train_denoiser_stage_bad_model_exit_2(tmp_path, capsys, model, message):
    """Bad model settings end the stage with one error line and status 2, before training."""
    params = _params(model={"layers": [35, 2], "epochs": 2, **model})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rc = _run("train_denoiser", [tmp_path / "params.yaml", tmp_path / "font.npz",
                                 tmp_path / "models", tmp_path / "out"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "models").exists() and not (tmp_path / "out").exists()


def test_train_denoiser_stage_bad_seeds_exit_2(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_params(seeds=[2, 2])))
    rc = _run("train_denoiser", [tmp_path / "params.yaml", tmp_path / "font.npz",
                                 tmp_path / "models", tmp_path / "out"])
    assert (rc, capsys.readouterr().err) == (2, "error: params denoise.seeds must be a count "
                                                ">= 1 or a list of distinct integers >= 0, "
                                                "got [2, 2]\n")


def test_train_denoiser_stage_bad_learning_rate_exit_2(tmp_path, capsys, font_npz):
    params = _params(model={"layers": [35, 2], "lr": -1.0, "epochs": 1}, seeds=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rc = _run("train_denoiser", [tmp_path / "params.yaml", font_npz, tmp_path / "models",
                                 tmp_path / "out"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lr" in err and "denoise.model" in err
    assert rc == 2


@pytest.fixture(scope="module")
def font_data():
    """The first 6 glyphs of Font3 (example figures draw every glyph: 32 take seconds)."""
    from nbae.studies.font_data import build_font_set

    full = build_font_set(FONT_H, "Font3", "binary")
    return Dataset(full.X[:6], full.labels[:6], "font", full.pixel_range, full.image_shape,
                   {**full.info, "codes": full.info["codes"][:6]})


@pytest.fixture
def font_npz(tmp_path, font_data):
    save_font_set(tmp_path / "font.npz", font_data)
    return tmp_path / "font.npz"


PLAIN_SEEDS, DAE_SEEDS = [1, 4, 7], [4, 1]
TINY = {"layers": [35, 6, 2], "activation": "tanh", "output_activation": "sigmoid",
        "loss": "bce", "optimizer": "adam", "lr": 0.01, "batch_size": 8}
STAGE_PARAMS = {
    "architectures": {"7": {**TINY, "epochs": 300}},
    "train_font": {"seeds": PLAIN_SEEDS, "metric_every": 5},
    "denoise": {"kind": "flip", "levels": [0.0, 0.1], "copies": 2, "mode": "fixed",
                "seed": 0, "metric_every": 25, "seeds": DAE_SEEDS,
                "model": {**TINY, "epochs": 100}},
    "evaluate_denoising": {"levels": [0.0, 0.1, 0.2], "trials": 2, "seed": 3,
                           "figure_levels": [0.1], "max_wrong": 1},
}


@pytest.fixture(scope="module")
def stages(tmp_path_factory, font_data):
    """train_font (the plain models, architecture 7, seeds 1 4 7) and train_denoiser (seeds
    4 1) on a tiny config, run serially into a throwaway store."""
    root = tmp_path_factory.mktemp("denoise_stages")
    save_font_set(root / "font.npz", font_data)
    (root / "config.yaml").write_text(yaml.safe_dump(STAGE_PARAMS))
    with pytest.MonkeyPatch.context() as mp:  # module scope: the autouse fixture is not yet on
        mp.setenv("NBAE_SCHEDULER", "serial")
        mp.setenv("NBAE_SWEEP_STORE", str(root / "store"))
        assert _run("train_font", [root / "config.yaml", root / "font.npz", root / "plain",
                                   root / "runs"]) == 0
        assert _run("train_denoiser", [root / "config.yaml", root / "font.npz",
                                       root / "denoisers", root / "train"]) == 0
    return root


def test_train_denoiser_stage_outputs(stages):
    d = stages / "denoisers"
    assert sorted(p.name for p in d.iterdir()) == ["representative.npz", "seed-1.npz",
                                                   "seed-4.npz"]
    runs = pd.read_csv(stages / "train" / "runs.csv")
    assert sorted(runs["seed"]) == [1, 4]  # one row per seed
    s = json.loads((stages / "train" / "train_summary.json").read_text())
    losses = runs["best_loss"].to_numpy()
    # two seeds: the representative is the lower middle one, the seed with the lower loss
    assert s["representative_seed"] == int(runs["seed"].iloc[int(np.argmin(losses))])
    assert (d / "representative.npz").read_bytes() == (
        d / f"seed-{s['representative_seed']}.npz").read_bytes()
    assert s["mode"] == "fixed" and s["seeds"] == 2 and s["diverged"] == 0
    assert s["samples"] == 6 * 2 * 2  # 6 glyphs x 2 levels x 2 copies
    assert s["loss_median"] == pytest.approx(np.median(losses), rel=1e-12)
    assert s["loss_q1"] == pytest.approx(np.percentile(losses, 25), rel=1e-12)
    assert s["loss_q3"] == pytest.approx(np.percentile(losses, 75), rel=1e-12)
    assert s["clean_max_px_median"] == np.median(runs["clean_max_px"])
    for seed in (1, 4):
        ae = Autoencoder.load(d / f"seed-{seed}.npz")
        assert ae.seed == seed and ae.training["epochs_run"] == 100
        assert ae.metadata["denoising"]["copies"] == 2 and ae.metadata["dataset"] == "font"
        row = runs[runs["seed"] == seed].iloc[0]
        assert row["best_loss"] == pytest.approx(ae.training["best_loss"], rel=1e-12)
    curves = pd.read_csv(stages / "train" / "curves.csv")
    assert sorted(curves["seed"].unique()) == [1, 4]
    one = curves[curves["seed"] == 1]
    assert one["epoch"].iloc[0] == 1 and one["epoch"].iloc[-1] == 100
    assert one.dropna(subset=["max_wrong_pixels"])["epoch"].tolist() == [25, 50, 75, 100]


@pytest.fixture(scope="module")
def evaluated(stages, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate_denoising")
    assert _run("evaluate_denoising", [stages / "config.yaml", stages / "font.npz",
                                       stages / "denoisers", stages / "plain" / "7",
                                       out / "out", out / "fig"]) == 0
    return out


def test_evaluate_denoising_by_seed(stages, evaluated, font_data):
    from nbae.data.metrics import pixel_errors
    from nbae.engine import exact

    by = pd.read_csv(evaluated / "out" / "by_seed.csv")
    assert list(by.columns) == ["model", "seed", "level", "restored", "mean_wrong", "mse"]
    for model in ("denoiser", "plain"):  # seeds found in both folders are paired: 1 and 4
        assert sorted(set(by[by["model"] == model]["seed"])) == [1, 4]
    noisy = by[by["model"] == dn.NOISY_INPUT]
    assert noisy["level"].tolist() == [0.0, 0.1, 0.2] and len(by) == 2 * 2 * 3 + 3
    X = font_data.X
    # level 0 of flip noise leaves the glyphs clean: the scores are the clean reconstruction's
    assert noisy[noisy["level"] == 0.0][["restored", "mean_wrong"]].values.tolist() == [[1, 0]]
    for model, folder in (("denoiser", "denoisers"), ("plain", "plain/7")):
        for seed in (1, 4):
            ae = Autoencoder.load(stages / folder / f"seed-{seed}.npz")
            err = pixel_errors(X, exact.reconstruct(ae, X))
            row = by[(by["model"] == model) & (by["seed"] == seed) & (by["level"] == 0.0)]
            assert row["restored"].iloc[0] == pytest.approx((err <= 1).mean(), abs=1e-12)
            assert row["mean_wrong"].iloc[0] == pytest.approx(err.mean(), abs=1e-12)


def test_evaluate_denoising_comparison_and_metrics(evaluated):
    by = pd.read_csv(evaluated / "out" / "by_seed.csv")
    ev = pd.read_csv(evaluated / "out" / "evaluation.csv")
    assert ev["level"].tolist() == [0.0, 0.1, 0.2] and (ev["seeds"] == 2).all()
    for row in ev.itertuples():
        at = by[by["level"] == row.level]
        a = at[at["model"] == "denoiser"].sort_values("seed")["restored"].to_numpy()
        b = at[at["model"] == "plain"].sort_values("seed")["restored"].to_numpy()
        assert row.denoiser_median == pytest.approx(np.median(a))
        assert row.plain_q1 == pytest.approx(np.percentile(b, 25))
        assert row.plain_q3 == pytest.approx(np.percentile(b, 75))
        assert row.diff_median == pytest.approx(np.median(a - b))
        assert (row.wins, row.losses) == ((a > b).sum(), (a < b).sum())
        if (a == b).all():
            assert row.p_wilcoxon == 1.0
        else:
            assert 0 < row.p_wilcoxon <= 1
    m = json.loads((evaluated / "out" / "metrics.json").read_text())
    by_level = ev.set_index("level")
    assert m == {"dae10": round(by_level.loc[0.1, "denoiser_median"], 4),
                 "ae10": round(by_level.loc[0.1, "plain_median"], 4),
                 "dae20": round(by_level.loc[0.2, "denoiser_median"], 4),
                 "ae20": round(by_level.loc[0.2, "plain_median"], 4)}
    curves = pd.read_csv(evaluated / "out" / "curves.csv")
    assert list(curves.columns) == ["level", "series", "restored", "mean_wrong"]
    assert set(curves["series"]) == {"denoiser (2 seeds)", "plain, arch 7 (2 seeds)",
                                     dn.NOISY_INPUT}
    dae = curves[curves["series"] == "denoiser (2 seeds)"].set_index("level")
    np.testing.assert_allclose(dae["restored"].to_numpy(), ev["denoiser_median"].to_numpy())
    for name in ("restored", "wrong_pixels", "examples_denoiser", "examples_plain"):
        assert (evaluated / "fig" / f"{name}.png").stat().st_size > 0, name


def test_evaluate_denoising_needs_common_seeds(stages, tmp_path, capsys):
    (tmp_path / "other").mkdir()
    src = stages / "denoisers" / "seed-4.npz"
    (tmp_path / "other" / "seed-9.npz").write_bytes(src.read_bytes())
    argv = [stages / "config.yaml", stages / "font.npz", tmp_path / "other", stages / "plain" / "7",
            tmp_path / "out", tmp_path / "fig"]
    assert _run("evaluate_denoising", argv) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path / 'other'} and {stages / 'plain' / '7'} "
                                       f"have no seed in common\n")
    (tmp_path / "other" / "seed-9.npz").unlink()
    assert _run("evaluate_denoising", argv) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path / 'other'}: no seed-<n>.npz models "
                                       f"(run the training stage first)\n")
    assert not (tmp_path / "out").exists() and not (tmp_path / "fig").exists()
