"""Denoising study: noisy training sets, evaluation on hand-built cases, params checks."""

from __future__ import annotations

import numpy as np
import pytest

from nbae.data.datasets import Dataset
from nbae.studies import denoising as dn
from nbae.studies.params import ParamsError

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


def test_train_denoiser_tiny():
    data = Dataset(GLYPHS, ["a", "b", "c"], "font", (0.0, 1.0), (2, 2),
                   {"font": "Font3", "encoding": "binary", "codes": [97, 98, 99]})
    cfg = dn.train_params(_params())
    ae, history = dn.train_denoiser(data, cfg)
    assert len(history) == 2 and "max_wrong_pixels" in history
    assert ae.metadata["dataset"] == "font" and ae.metadata["image_shape"] == [2, 2]
    assert ae.metadata["denoising"]["mode"] == "fixed"
    s = dn.train_summary(ae, history, data, ae.training["n_samples"])
    assert s["samples"] == 18 and s["epochs"] == 2


def test_bad_model_config_is_a_params_error():
    data = Dataset(GLYPHS, ["a", "b", "c"], "font", (0.0, 1.0), (2, 2),
                   {"font": "Font3", "encoding": "binary", "codes": [97, 98, 99]})
    cfg = dn.train_params(_params(model={"layers": [4, 2], "lr": -1.0, "epochs": 1}))
    with pytest.raises(ParamsError, match="lr"):
        dn.train_denoiser(data, cfg)


@pytest.mark.parametrize("model, message", [
    ({"epochs": 0}, "params denoise.model.epochs must be an integer >= 1, got 0"),
    ({"batch_size": 0}, "params denoise.model.batch_size must be an integer >= 1, got 0"),
    ({"activation": None}, "params denoise.model.activation must be a name (e.g. tanh) or a "
                           "list of names, one per hidden layer, got None"),
])
def test_train_denoiser_stage_bad_model_exit_2(tmp_path, capsys, model, message):
    """Bad model settings end the stage with one error line and status 2, before training."""
    import importlib.util
    from pathlib import Path

    import yaml

    from nbae.studies.params import run_stage

    params = _params(model={"layers": [35, 2], "epochs": 2, **model})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    path = Path(__file__).resolve().parents[1] / "stages" / "train_denoiser.py"
    spec = importlib.util.spec_from_file_location("stage_train_denoiser", path)
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    rc = run_stage(stage.main, [str(tmp_path / "params.yaml"), str(tmp_path / "font.npz"),
                                str(tmp_path / "model.npz"), str(tmp_path / "out")])
    assert (rc, capsys.readouterr().err) == (2, f"error: {message}\n")
    assert not (tmp_path / "model.npz").exists()
