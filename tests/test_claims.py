"""The latent-space claims (issue 14): territories, confusion and the Mantel statistics on
small synthetic cases whose answer is known, then the font_claims stage end to end."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from nbae.data.datasets import save_font_set
from nbae.studies import claims as cl
from nbae.studies.params import ParamsError, run_stage

ROOT = Path(__file__).resolve().parents[1]
# three glyphs of 12 pixels, 8 pixels apart from each other
GLYPHS = np.zeros((3, 12))
for _i in range(3):
    GLYPHS[_i, 4 * _i:4 * _i + 4] = 1.0


def region_decoder(Z):
    """z1 < 0.5: glyph 0 (area 1/2); else z2 < 0.25: glyph 1 (1/8); else glyph 2 (3/8),
    drawn with 2 wrong pixels where z2 > 0.75 (1/8 of the unit square)."""
    Z = np.asarray(Z)
    idx = np.where(Z[:, 0] < 0.5, 0, np.where(Z[:, 1] < 0.25, 1, 2))
    out = GLYPHS[idx].copy()
    smudge = (idx == 2) & (Z[:, 1] > 0.75)
    out[smudge, 0:2] = 1.0  # two pixels of glyph 0: nearest is still glyph 2, at distance 2
    return out


def test_territories_equal_the_constructed_areas():
    box = cl.latent_box([[0, 0], [1, 1]], margin=0.0)
    assert box == (0.0, 1.0, 0.0, 1.0)
    t = cl.territories(region_decoder, GLYPHS, box, grid_n=40, max_wrong=1)
    np.testing.assert_allclose(t["nearest"], [0.5, 0.125, 0.375])  # boundaries on cell edges
    np.testing.assert_allclose(t["within"], [0.5, 0.125, 0.25])
    assert t["none"] == pytest.approx(0.125)
    assert t["owner"].shape == (40, 40) and t["owner"][0, 0] == 0 and t["owner"][0, -1] == 1
    assert t["owner"][-1, -1] == 2 and not t["close"][-1, -1]  # row 0 is the bottom
    fine = cl.territories(region_decoder, GLYPHS, (0, 1, 0, 1), grid_n=37)  # not aligned
    np.testing.assert_allclose(fine["nearest"], [0.5, 0.125, 0.375], atol=2 / 37)


def test_ties_are_split_evenly():
    half = GLYPHS[0] * 0
    half[[0, 1, 4, 5]] = 1.0  # 4 pixels from glyphs 0 and 1, 8 from glyph 2
    t = cl.territories(lambda Z: np.tile(half, (len(Z), 1)), GLYPHS, (0, 1, 0, 1), 4)
    np.testing.assert_allclose(t["nearest"], [0.5, 0.5, 0.0])
    assert t["none"] == 1.0 and t["within"].sum() == 0
    np.testing.assert_allclose(cl.nearest_weights([[1, 1, 1], [0, 2, 0]]),
                               [[1 / 3] * 3, [0.5, 0, 0.5]])


def test_latent_box_pads_by_the_longer_side():
    assert cl.latent_box([[0, 0], [2, 1]], 0.1) == pytest.approx((-0.2, 2.2, -0.2, 1.2))
    assert cl.latent_box([[1, 1]], 0.1) == (0.5, 1.5, 0.5, 1.5)


def test_attractors_and_ranking_stability():
    shares = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05])  # fair share 1/6
    assert cl.attractors(shares, 2.0).tolist() == [0]
    assert cl.attractors(shares, 1.0).tolist() == [0, 1]
    T = np.vstack([shares, shares, shares[::-1] + 1e-3 * np.arange(6)])
    s = cl.ranking_stability(T)
    assert s["pairs"] == 3 and s["max"] == pytest.approx(1.0) and s["min"] < -0.9
    assert cl.ranking_stability(T[:1]) is None
    assert cl.typical_seed(T, [7, 8, 9]) == 7 and cl.typical_seed(T[:1], [4]) == 4
    summ = cl.territory_summary(T[:2], [0, 1], list("abcdef"), 2.0, [0.1, 0.3])
    assert summ["attractors"] == ["a"] and summ["attractor_seeds"] == {"a": 2}
    assert summ["none"] == pytest.approx(0.2) and summ["stability"]["rho"] == 1.0


def test_confusion_of_complements_at_full_flip_noise():
    """Flipping every pixel turns glyph 0 into glyph 1 and glyph 2 into glyph 3; an identity
    'model' then confuses them with certainty. At level 0 nothing is confused."""
    G = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]], dtype=float)
    C = cl.confusion(lambda X: X, G, [0.0, 1.0], trials=3, kind="flip", seed=0)
    assert C.shape == (2, 4, 4)
    np.testing.assert_array_equal(C[0], np.eye(4))
    np.testing.assert_array_equal(C[1], np.eye(4)[[1, 0, 3, 2]])
    half = cl.confusion(lambda X: X, G, [0.3], trials=50, seed=1)
    np.testing.assert_allclose(half.sum(axis=2), 1.0)  # each noisy copy is shared out once


def _codes(n, seed):
    return np.random.default_rng(seed).normal(size=(n, 2))


def test_monotone_confusion_gives_rho_minus_one():
    Z = _codes(12, 0)
    L = cl.latent_distances(Z)
    C = np.exp(-L)  # strictly decreasing in the distance
    np.fill_diagonal(C, 1.0)
    P = cl.hamming(*[np.random.default_rng(1).random((12, 35))] * 2)
    m = cl.mantel(C, L, P, permutations=999, seed=0, alternative="less")
    assert m["rho"] == pytest.approx(-1.0) and m["p"] == pytest.approx(1 / 1000)
    m2 = cl.mantel(C, L, P, permutations=999, seed=0, alternative="greater")
    assert m2["p"] == pytest.approx(1.0)


def test_statistics_match_scipy_spearman_and_residual_partial():
    rng = np.random.default_rng(3)
    n = 10
    C, L, P = rng.random((n, n)), cl.latent_distances(_codes(n, 4)), rng.random((n, n))
    m = cl.mantel(C, L, P, permutations=199, seed=0)
    c, lat, px = (stats.rankdata(cl.offdiag(M)) for M in (C, L, P))
    assert m["rho"] == pytest.approx(stats.spearmanr(cl.offdiag(C), cl.offdiag(L))[0])
    res = [y - stats.linregress(px, y).intercept - stats.linregress(px, y).slope * px
           for y in (c, lat)]
    assert m["prho"] == pytest.approx(stats.pearsonr(*res)[0])


def test_confusion_from_pixels_only_has_no_partial_correlation():
    """Confusion depends on pixel distance only and latent distance is pixel distance plus
    independent noise: the raw correlation is strong, the partial one vanishes."""
    rng = np.random.default_rng(0)
    n = 24
    G = (rng.random((n, 35)) < 0.4).astype(float)
    P = cl.hamming(G, G)
    E = rng.normal(0, 3.0, (n, n))
    L = np.abs(P + (E + E.T) / 2)
    np.fill_diagonal(L, 0.0)
    C = np.exp(-P / 4.0 + rng.normal(0, 0.3, (n, n)))
    m = cl.mantel(C, L, P, permutations=499, seed=0, alternative="two-sided")
    assert m["rho"] < -0.6 and m["p"] <= 0.004 and m["rho_px"] < -0.85
    assert abs(m["prho"]) < 0.1 and m["pp"] > 0.05


def test_permutation_p_values_are_uniform_under_the_null():
    ps = []
    for k in range(30):
        rng = np.random.default_rng(100 + k)
        L = cl.latent_distances(rng.normal(size=(12, 2)))
        ps.append(cl.mantel(rng.random((12, 12)), L, rng.random((12, 12)), permutations=199,
                            seed=k, alternative="two-sided")["p"])
    ps = np.array(ps)
    assert 0.3 < ps.mean() < 0.7 and (ps < 0.05).sum() <= 5 and ps.min() >= 1 / 200


def test_constant_confusion_has_no_statistics():
    m = cl.mantel(np.zeros((5, 5)), cl.latent_distances(_codes(5, 0)), np.ones((5, 5)))
    assert m["rho"] is None and m["p"] is None and m["prho"] is None


def test_pooling_scales_each_seed():
    L1 = cl.latent_distances(_codes(5, 1))
    C, L = cl.pooled_matrices([np.eye(5), np.zeros((5, 5))], [L1, 10 * L1])
    np.testing.assert_allclose(L, L1 / cl.offdiag(L1).mean())
    np.testing.assert_allclose(C, np.eye(5) / 2)


def test_group_of_identical_seeds_pools_to_the_single_seed():
    X = (np.random.default_rng(5).random((8, 12)) < 0.5).astype(float)
    cfg = cl.claims_params({"font_claims": {"grid_n": 30, "trials": 20, "permutations": 99}})
    labels = list("abcdefgh")
    from nbae.engine.model import Autoencoder

    m = Autoencoder([12, 2], output_activation="sigmoid", seed=0)  # random, untrained
    one = cl.study_group({0: m}, X, labels, cfg)
    two = cl.study_group({3: m, 4: m}, X, labels, cfg, group="dae")
    assert one["summary"]["confusion"]["pooled"] == two["summary"]["confusion"]["pooled"]
    assert two["summary"]["territory"]["stability"]["rho"] == 1.0
    assert one["summary"]["territory"]["attractors"] == two["summary"]["territory"]["attractors"]
    assert len(two["pairs"]) == 2 * 8 * 7 and set(two["territories"]["seed"]) == {3, 4}
    np.testing.assert_allclose(one["territories"]["share_nearest"].sum(), 1.0)


@pytest.mark.parametrize("change, key", [
    ({"grid_n": 1}, "font_claims.grid_n"), ({"trials": 0}, "font_claims.trials"),
    ({"levels": []}, "font_claims.levels"), ({"levels": [0.1, 1.5]}, "font_claims.levels"),
    ({"margin": -0.1}, "font_claims.margin"), ({"kind": "salt"}, "font_claims.kind"),
    ({"alternative": "up"}, "font_claims.alternative"),
    ({"representative": "best"}, "font_claims.representative"),
    ({"attractor_factor": 0}, "font_claims.attractor_factor"),
    ({"permutations": 5}, "font_claims.permutations"), ({"grid": 3}, "unknown setting"),
])
def test_bad_params_name_the_setting(change, key):
    with pytest.raises(ParamsError, match=key):
        cl.claims_params({"font_claims": change})


def test_shipped_config_is_valid():
    cfg = cl.claims_params(yaml.safe_load((ROOT / "config/claims.yaml").read_text()))
    assert cfg["grid_n"] == 200 and cfg["representative"] == "typical"


def test_model_files_sorted_numerically(tmp_path):
    for name in ("seed-10.npz", "seed-2.npz", "seed-x.npz", "other.npz"):
        (tmp_path / name).write_bytes(b"")
    model_files = _stage().model_files
    assert list(model_files(tmp_path)) == [2, 10]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no model files"):
        model_files(tmp_path / "empty")
    with pytest.raises(ValueError, match="missing: no such model folder"):
        model_files(tmp_path / "missing")
    (tmp_path / "seed-02.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="seed-02.npz and seed-2.npz are the same seed"):
        model_files(tmp_path)


# ------------------------------------------------------------------------------ the stage


def _stage():
    spec = importlib.util.spec_from_file_location("stage_font_claims",
                                                  ROOT / "stages" / "font_claims.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL = {"grid_n": 24, "trials": 4, "levels": [0.1, 0.2], "permutations": 99}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from nbae.studies.ensemble import fit_many
    from nbae.studies.font_data import build_font_set

    tmp = tmp_path_factory.mktemp("claims")
    data = build_font_set(ROOT / "data" / "font.h", "Font3", "binary")
    save_font_set(tmp / "font.npz", data)
    arch = yaml.safe_load((ROOT / "config/font.yaml").read_text())["architectures"]["7"]
    models, _ = fit_many(arch, data.X, seeds=[0, 1], epochs=20, progress=False)
    for group in ("ae", "dae"):
        (tmp / group).mkdir()
        for seed, ae in zip([0, 1], models, strict=True):
            ae.save(tmp / group / f"seed-{seed}.npz")
    (tmp / "claims.yaml").write_text(yaml.safe_dump({"font_claims": SMALL}))
    args = [str(p) for p in (tmp / "claims.yaml", tmp / "font.npz", tmp / "ae", tmp / "dae",
                             tmp / "out", tmp / "fig")]
    rc = run_stage(_stage().main, args)
    return tmp, rc, args


def test_stage_writes_consistent_outputs(tiny_run):
    tmp, rc, _ = tiny_run
    assert rc == 0
    m = json.loads((tmp / "out" / "summary.json").read_text())
    assert set(m) == {"ae", "dae", "representative"} and m["representative"] in (0, 1)
    head = json.loads((tmp / "out" / "metrics.json").read_text())
    for g in ("ae", "dae"):
        c = m[g]["confusion"]["pooled"]
        assert (head[f"{g}_rho"], head[f"{g}_p"], head[f"{g}_prho"], head[f"{g}_pp"]) == (
            c["rho"], c["p"], c["prho"], c["pp"])
        assert head[f"{g}_stability"] == m[g]["territory"]["stability"]["rho"]
        assert head[f"{g}_attractors"] == " ".join(m[g]["territory"]["attractors"])
    for g in ("ae", "dae"):
        assert set(m[g]["confusion"]["pooled"]) >= {"rho", "p", "prho", "pp"}
        assert m[g]["confusion"]["seeds"]["n"] == 2
        assert m[g]["territory"]["stability"]["pairs"] == 1
    terr = pd.read_csv(tmp / "out" / "territories.csv", keep_default_na=False)
    assert list(terr.columns) == ["glyph", "seed", "group", "share_nearest", "share_within"]
    assert len(terr) == 32 * 2 * 2 and "DEL" in set(terr["glyph"])
    sums = terr.groupby(["group", "seed"])["share_nearest"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert (terr["share_within"] <= terr["share_nearest"] + 1e-12).all()
    pairs = pd.read_csv(tmp / "out" / "pairs.csv", keep_default_na=False)
    assert list(pairs.columns) == ["group", "seed", "a", "b", "latent_distance",
                                   "pixel_distance", "confusion"]
    assert len(pairs) == 32 * 31 * 4 and (pairs["a"] != pairs["b"]).all()
    one = pairs[(pairs.group == "ae") & (pairs.seed == 0)]
    rho = stats.spearmanr(one["confusion"], one["latent_distance"])[0]
    assert m["ae"]["confusion"]["seeds"]["rho_min"] <= rho + 1e-6
    assert rho <= m["ae"]["confusion"]["seeds"]["rho_max"] + 1e-6
    both = m["ae"]["confusion"]["seeds"]
    assert m["ae"]["territory"]["seeds"] == [0, 1]
    assert both["rho_min"] <= both["rho"] <= both["rho_max"]
    for name in ("territory.png", "confusion_vs_distance.png"):
        assert (tmp / "fig" / name).stat().st_size > 10_000


def test_stage_without_models_fails_in_one_line(tiny_run, tmp_path, capsys):
    _, _, args = tiny_run
    (tmp_path / "none").mkdir()
    rc = run_stage(_stage().main, [args[0], args[1], str(tmp_path / "none"), *args[3:]])
    err = capsys.readouterr().err
    assert rc == 1 and err == f"error: {tmp_path / 'none'}: no model files named seed-<n>.npz\n"


def test_stage_unknown_representative_seed_exit_2(tiny_run, tmp_path, capsys):
    _, _, args = tiny_run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"font_claims": dict(SMALL,
                                                                         representative=5)}))
    rc = run_stage(_stage().main, [str(tmp_path / "c.yaml"), *args[1:]])
    err = capsys.readouterr().err
    assert rc == 2 and "font_claims.representative" in err and err.count("\n") == 1
