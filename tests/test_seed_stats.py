"""Known answers for the statistics over seeds: font_sweep (arch_summary, representative seed,
choose, band, seed_list), denoise_sweep (per_seed, compare) and the flower search's median
rule (smallest_size, search_summary, search_curves). Every expected number is worked out by
hand in the comments (quartiles: NumPy's default linear interpolation)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from nbae.studies import denoise_sweep as dsw
from nbae.studies import denoising as dn
from nbae.studies import flower_search as fsr
from nbae.studies import font as fst
from nbae.studies import font_sweep as fsw
from nbae.studies.params import ParamsError

NAN = math.nan


def runs_table(rows) -> pd.DataFrame:
    cols = ["seed", "best_loss", "goal", "goal_epoch", "max_px", "stop_reason"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


# --------------------------------------------------------------------------------- arch_summary


def test_arch_summary_odd_count():
    runs = runs_table([
        (0, 0.30, True, 1500.0, 1, "completed"),
        (1, 0.10, True, 500.0, 0, "completed"),
        (2, 0.50, False, NAN, 3, "diverged"),
        (3, 0.20, True, 1000.0, 1, "completed"),
        # met the goal on its running weights at epoch 2000, but its kept weights do not
        (4, 0.40, False, 2000.0, 2, "completed"),
    ])
    s = fsw.arch_summary(runs)
    # losses sorted 0.1 0.2 0.3 0.4 0.5: quartiles at positions 1, 2, 3
    assert (s["loss_q1"], s["loss_median"], s["loss_q3"]) == pytest.approx((0.2, 0.3, 0.4))
    # goal epochs of the 4 seeds that met it: 500 1000 1500 2000; positions 0.75, 1.5, 2.25
    assert s["goal_epoch_q1"] == pytest.approx(875.0)
    assert s["goal_epoch_median"] == pytest.approx(1250.0)
    assert s["goal_epoch_q3"] == pytest.approx(1625.0)
    assert s["seeds"] == 5 and s["successes"] == 3 and s["success"] == pytest.approx(0.6)
    assert s["goal_reached"] == 4 and s["diverged"] == 1 and s["max_px_median"] == 1.0
    assert s["representative_seed"] == 0  # the median loss, 0.3
    json.dumps(s, allow_nan=False)  # JSON-ready (summary.json)


def test_arch_summary_even_count_and_no_goal():
    runs = runs_table([(10, 0.4, False, NAN, 5, "completed"),
                       (11, 0.1, False, NAN, 2, "completed"),
                       (12, 0.3, False, NAN, 4, "completed"),
                       (13, 0.2, False, NAN, 3, "completed")])
    s = fsw.arch_summary(runs)
    # 0.1 0.2 0.3 0.4: positions 0.75, 1.5, 2.25
    assert s["loss_q1"] == pytest.approx(0.175) and s["loss_median"] == pytest.approx(0.25)
    assert s["loss_q3"] == pytest.approx(0.325)
    assert s["goal_epoch_median"] is None and s["goal_epoch_q1"] is None
    assert s["goal_epoch_q3"] is None and s["goal_reached"] == 0
    assert s["success"] == 0.0 and s["successes"] == 0 and s["max_px_median"] == 3.5
    assert s["representative_seed"] == 13  # lower middle of 0.1 0.2 | 0.3 0.4: loss 0.2
    json.dumps(s, allow_nan=False)


@pytest.mark.parametrize("seeds, losses, want", [
    ([5], [0.7], 5),
    ([7, 2, 4], [0.3, 0.1, 0.2], 4),  # odd: the middle loss
    ([7, 2, 4, 1], [0.4, 0.1, 0.2, 0.3], 4),  # even: the lower middle (0.2, not 0.3)
    ([5, 3, 9], [0.2, 0.2, 0.2], 5),  # all tied: the middle seed number
    ([7, 2, 4, 1], [0.1, 0.2, 0.2, 0.3], 2),  # tie across the middle: the lower seed first
])
def test_representative_seed(seeds, losses, want):
    runs = pd.DataFrame({"seed": seeds, "best_loss": losses})
    assert fsw.representative_seed(runs) == want
    # the row order does not matter
    assert fsw.representative_seed(runs.iloc[::-1].reset_index(drop=True)) == want
    assert fsw.representative_seed(runs.sample(frac=1, random_state=3)) == want


# --------------------------------------------------------------------------------- choose


def choose_table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["arch", "success", "goal_epoch_median", "n_params"])


@pytest.mark.parametrize("rows, want", [
    # the success share first, whatever the goal epoch or the size
    ([("1", 0.9, 5000.0, 1000), ("2", 0.8, 100.0, 10)], "1"),
    # equal success: the lower median goal epoch
    ([("1", 0.9, 3000.0, 10), ("2", 0.9, 2000.0, 1000)], "2"),
    # equal success: no goal epoch (None / NaN) comes last
    ([("1", 0.5, None, 10), ("2", 0.5, 60000.0, 1000)], "2"),
    ([("1", 0.5, NAN, 10), ("2", 0.5, 60000.0, 1000), ("3", 0.5, NAN, 5)], "2"),
    # equal success and goal epoch: the fewer parameters
    ([("1", 0.7, 800.0, 500), ("2", 0.7, 800.0, 300), ("3", 0.2, 100.0, 1)], "2"),
    # nobody met the goal (the column is all None, as read from summary.json): size decides
    ([("1", 0.0, None, 493), ("2", 0.0, None, 40), ("3", 0.0, None, 700)], "2"),
])
def test_choose(rows, want):
    table = choose_table(rows)
    assert fsw.choose(table) == want
    assert fsw.choose(table.iloc[::-1].reset_index(drop=True)) == want  # order-free


def test_choose_returns_the_key_as_text():
    assert fsw.choose(choose_table([(7, 1.0, 500.0, 10), (8, 0.5, 100.0, 10)])) == "7"


# --------------------------------------------------------------------------------- band


def test_band_uses_epochs_every_seed_logged():
    curves = pd.DataFrame({
        "seed": [0] * 4 + [1] * 4 + [2] * 4,
        "epoch": [1, 100, 200, 250, 1, 100, 200, 300, 1, 100, 200, 137],
        "loss": [0.9, 0.3, 0.20, 0.1, 0.7, 0.1, 0.50, 0.2, 0.8, 0.2, 0.35, 0.3],
        "max_wrong_pixels": [NAN, 4, 2, 1, NAN, 6, NAN, 5, NAN, 5, 3, 2],
    })
    b = fsw.band(curves, "loss")
    assert list(b.columns) == ["epoch", "median", "q1", "q3"]
    assert b["epoch"].tolist() == [1, 100, 200]  # 137, 250, 300: one seed each, dropped
    # epoch 1: 0.7 0.8 0.9; epoch 100: 0.1 0.2 0.3; epoch 200: 0.2 0.35 0.5
    np.testing.assert_allclose(b["median"], [0.8, 0.2, 0.35])
    np.testing.assert_allclose(b["q1"], [0.75, 0.15, 0.275])
    np.testing.assert_allclose(b["q3"], [0.85, 0.25, 0.425])
    px = fsw.band(curves, "max_wrong_pixels")
    # epoch 1 is not a check, seed 1 has no check at 200: only epoch 100 (4 5 6) is complete
    assert px["epoch"].tolist() == [100]
    assert px[["median", "q1", "q3"]].values.tolist() == [[5.0, 4.5, 5.5]]


def test_band_even_seed_count():
    curves = pd.DataFrame({"seed": [0, 1, 2, 3], "epoch": [10] * 4, "loss": [4.0, 1.0, 3.0, 2.0]})
    b = fsw.band(curves)
    assert b[["epoch", "median", "q1", "q3"]].values.tolist() == [[10, 2.5, 1.75, 3.25]]


# --------------------------------------------------------------------------------- seed_list


def test_seed_list_count_and_list():
    assert fsw.seed_list(1, "x") == [0]
    assert fsw.seed_list(4, "x") == [0, 1, 2, 3]
    assert fsw.seed_list([7, 0, 3], "x") == [7, 0, 3]  # kept as given, order included
    assert fsw.chunks(list(range(10))) == [list(range(8)), [8, 9]]


@pytest.mark.parametrize("value", [0, -2, True, False, None, 2.0, "3", [], [1, 1], [0, -1],
                                   [1.0], [True, 2], {"n": 3}])
def test_seed_list_bad_values_name_the_key(value):
    with pytest.raises(ParamsError, match=r"^params train_font\.seeds must be a count >= 1 or a "
                                          r"list of distinct integers >= 0, got "):
        fsw.seed_list(value, "train_font.seeds")


@pytest.mark.parametrize("read, params, key", [
    (fst.train_params, {"train_font": {"seeds": 0}}, "train_font.seeds"),
    (dn.train_params, {"denoise": {"seeds": [2, 2], "model": {"layers": [35, 2]}}},
     "denoise.seeds"),
    (fsr.search_params, {"flowers_search": {"seeds": -1}}, "flowers_search.seeds"),
])
def test_each_study_names_its_seeds_key(read, params, key):
    with pytest.raises(ParamsError, match=f"params {key} must be a count"):
        read(params)


# --------------------------------------------------------------------------------- denoising


def test_per_seed_means_over_trials():
    trials = pd.DataFrame({
        "model": ["denoiser|3"] * 4 + ["plain|3"] * 2 + [f"{dn.NOISY_INPUT}|0"] * 2,
        "level": [0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1],
        "trial": [0, 1, 0, 1, 0, 1, 0, 1],
        "restored": [1.0, 0.5, 0.25, 0.75, 0.0, 1.0, 0.5, 0.5],
        "mean_wrong": [0.0, 2.0, 3.0, 1.0, 4.0, 0.0, 1.0, 3.0],
        "mse": [0.0, 0.2, 0.1, 0.3, 0.4, 0.0, 0.1, 0.1],
    })
    s = dsw.per_seed(trials)
    assert list(s.columns) == ["model", "seed", "level", "restored", "mean_wrong", "mse"]
    assert s[["model", "seed", "level"]].values.tolist() == [
        ["denoiser", 3, 0.1], ["denoiser", 3, 0.2], ["plain", 3, 0.1], [dn.NOISY_INPUT, 0, 0.1]]
    np.testing.assert_allclose(s["restored"], [0.75, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(s["mean_wrong"], [1.0, 2.0, 2.0, 2.0])
    np.testing.assert_allclose(s["mse"], [0.1, 0.2, 0.2, 0.1])


def scores(level, a, b, seeds=None, column="restored"):
    """Rows of models a and b at ``level``, seed ``seeds[i]`` scoring ``a[i]`` / ``b[i]``."""
    seeds = list(range(max(len(a), len(b)))) if seeds is None else seeds
    rows = [{"model": m, "seed": s, "level": level, column: v}
            for m, values in (("a", a), ("b", b)) if len(values)
            for s, v in zip(seeds, values, strict=True)]
    return pd.DataFrame(rows)


def test_compare_paired_known_answers():
    i = np.arange(10)
    b = 0.1 * i  # 0.0 0.1 ... 0.9
    d = 0.01 * (i + 1)  # a beats b on every seed, by distinct amounts
    parts = [
        scores(0.1, b + d, b),
        scores(0.2, b, b),  # all equal
        scores(0.3, b, b + d),  # b ahead everywhere
        # a ahead on 8 seeds; the two losses have the smallest |differences| (ranks 1 and 2)
        scores(0.4, b + np.array([-1, -2, 3, 4, 5, 6, 7, 8, 9, 10]) * 0.01, b),
        # seed 99 has no partner, another model is ignored
        pd.DataFrame([{"model": "a", "seed": 99, "level": 0.1, "restored": 0.0},
                      {"model": "noise", "seed": 0, "level": 0.1, "restored": 0.5}]),
    ]
    t = dsw.compare(pd.concat(parts, ignore_index=True), "a", "b")
    assert t["level"].tolist() == [0.1, 0.2, 0.3, 0.4] and (t["seeds"] == 10).all()
    r = t.set_index("level")
    # level 0.1: a_i = 0.11 i + 0.01, b_i = 0.1 i; quartile positions 2.25, 4.5, 6.75
    assert r.loc[0.1, "b_median"] == pytest.approx(0.45)
    assert r.loc[0.1, "b_q1"] == pytest.approx(0.225)
    assert r.loc[0.1, "b_q3"] == pytest.approx(0.675)
    assert r.loc[0.1, "a_median"] == pytest.approx(0.505)
    assert r.loc[0.1, "a_q1"] == pytest.approx(0.2575)
    assert r.loc[0.1, "a_q3"] == pytest.approx(0.7525)
    assert r.loc[0.1, "diff_median"] == pytest.approx(0.055)
    # exact two-sided signed-rank test, 10 pairs all one way: 2 / 2**10
    assert (r.loc[0.1, "wins"], r.loc[0.1, "losses"]) == (10, 0)
    assert r.loc[0.1, "p_wilcoxon"] == pytest.approx(2 / 1024, rel=1e-9)
    assert (r.loc[0.2, "wins"], r.loc[0.2, "losses"], r.loc[0.2, "p_wilcoxon"]) == (0, 0, 1.0)
    assert r.loc[0.2, "diff_median"] == 0.0
    assert (r.loc[0.3, "wins"], r.loc[0.3, "losses"]) == (0, 10)
    assert r.loc[0.3, "p_wilcoxon"] == pytest.approx(2 / 1024, rel=1e-9)
    assert r.loc[0.3, "diff_median"] == pytest.approx(-0.055)
    # level 0.4: W- = 1 + 2 = 3; rank subsets with sum <= 3: {}, {1}, {2}, {3}, {1, 2} -> 5
    assert (r.loc[0.4, "wins"], r.loc[0.4, "losses"]) == (8, 2)
    assert r.loc[0.4, "p_wilcoxon"] == pytest.approx(2 * 5 / 1024, rel=1e-9)


def test_compare_other_column_and_model_names():
    # seeds 4 1 7: denoiser 1 2 3, plain 2 2 5 (plain's rows listed in another order)
    s = pd.concat([scores(0.05, [1.0, 2.0, 3.0], [], seeds=[4, 1, 7], column="mean_wrong"),
                   scores(0.05, [], [5.0, 2.0, 2.0], seeds=[7, 4, 1], column="mean_wrong")],
                  ignore_index=True)
    s = s.replace({"model": {"a": "denoiser", "b": "plain"}})
    t = dsw.compare(s, "denoiser", "plain", "mean_wrong")
    row = t.iloc[0]
    assert row["denoiser_median"] == 2.0 and row["plain_median"] == 2.0
    assert row["plain_q1"] == 2.0 and row["plain_q3"] == 3.5
    assert (row["wins"], row["losses"], row["seeds"]) == (0, 2, 3)
    assert row["diff_median"] == -1.0  # differences -1, 0, -2: paired by seed, not by row


# --------------------------------------------------------------------------------- flowers


def search_table(rows) -> pd.DataFrame:
    cols = ["latent_dim", "seed", "final_loss", "best_loss", "diverged", "seconds"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def test_smallest_size_median_rule():
    t = search_table([
        (2, 0, 0.1, 5e-4, False, 1), (2, 1, 0.1, 2e-3, False, 1), (2, 2, 0.1, 3e-3, False, 1),
        (3, 0, 0.1, 5e-4, False, 1), (3, 1, 0.1, 8e-4, False, 1), (3, 2, 0.1, 3e-3, False, 1),
        (4, 0, 0.1, 1e-4, False, 1), (4, 1, 0.1, 1e-4, False, 1), (4, 2, 0.1, 1e-4, False, 1),
    ])
    # size 2: 1 of 3 seeds under 1e-3 (median 2e-3); size 3: 2 of 3 (median 8e-4)
    assert fsr.smallest_size(t, 1e-3) == 3
    assert fsr.smallest_size(t[t["latent_dim"] != 3], 1e-3) == 4
    assert fsr.smallest_size(t, 2e-3) == 2  # the median itself is enough
    # a size is not assumed monotone: a smaller size that qualifies wins over a larger one
    lucky = pd.concat([t, search_table([(1, s, 0.1, 1e-5, False, 1) for s in range(3)])])
    assert fsr.smallest_size(lucky, 1e-3) == 1


def test_smallest_size_nan_is_a_miss():
    t = search_table([(1, 0, NAN, NAN, True, 1), (1, 1, NAN, NAN, True, 1),
                      (1, 2, 0.1, 1e-6, False, 1),  # 1 of 3: the two diverged runs count
                      (2, 0, NAN, NAN, True, 1), (2, 1, 0.1, 1e-6, False, 1),
                      (2, 2, 0.1, 1e-6, False, 1)])  # 2 of 3
    assert fsr.smallest_size(t, 1e-3) == 2
    assert fsr.smallest_size(t.iloc[:3], 1e-3) is None


def test_search_summary_known_answers():
    t = search_table([
        (1, 3, 0.06, 0.05, False, 1.0), (1, 1, NAN, NAN, True, 0.5), (1, 2, 0.05, 0.04, False, 1.0),
        (2, 3, 0.003, 0.002, False, 2.0), (2, 1, 0.001, 0.0009, False, 2.0),
        (2, 2, 0.0006, 0.0005, False, 2.0),
        (3, 3, 0.0003, 0.0002, False, 3.0), (3, 1, 0.0004, 0.0003, False, 3.0),
        (3, 2, 0.0005, 0.0004, False, 3.0),
    ])
    s = fsr.search_summary(t, 1e-3, "best_loss", {"layers": [36, 12, 3]}, epochs=50)
    assert s["smallest_latent_dim"] == 2  # median 0.0009 (2 of 3 seeds)
    assert s["seeds"] == [1, 2, 3]
    # size 1: 0.04 0.05 inf (the diverged run); positions 0.5, 1, 1.5
    assert s["median"] == {"1": 0.05, "2": 0.0009, "3": 0.0003}
    assert s["q1"] == pytest.approx({"1": 0.045, "2": 0.0007, "3": 0.00025}, rel=1e-9)
    assert s["q3"]["1"] is None  # halfway to an infinite loss
    assert s["q3"]["2"] == pytest.approx(0.00145, rel=1e-9)
    assert s["q3"]["3"] == pytest.approx(0.00035, rel=1e-9)
    assert s["share_reached"] == pytest.approx({"1": 0.0, "2": 2 / 3, "3": 1.0})
    assert s["diverged_runs"] == 1 and s["total_seconds"] == 17.5
    assert s["criterion"] == "best_loss" and s["threshold"] == 1e-3 and s["epochs"] == 50
    assert s["architecture"].startswith("36-12-k")
    json.dumps(s, allow_nan=False)
    assert fsr.headline(s) == {"latent_size": 2, "latent_mse": 0.0009}
    f = fsr.search_summary(t, 1e-3, "final_loss", {"layers": [36, 12, 3]}, epochs=50)
    assert f["median"] == {"1": 0.06, "2": 0.001, "3": 0.0004}
    assert f["smallest_latent_dim"] == 2 and f["criterion"] == "final_loss"


def test_search_curves_median_over_seeds():
    e20, e15 = np.arange(1, 21), np.arange(1, 16)
    hist = {(1, 0): pd.DataFrame({"epoch": e20, "loss": 1.0 / e20}),
            (1, 1): pd.DataFrame({"epoch": e20, "loss": 3.0 / e20}),
            (1, 2): pd.DataFrame({"epoch": e20, "loss": 2.0 / e20}),
            (2, 0): pd.DataFrame({"epoch": e20, "loss": np.full(20, 0.5)}),
            (2, 1): pd.DataFrame({"epoch": e15, "loss": np.full(15, 0.1)})}  # stopped at 15
    c = fsr.search_curves(hist, every=10)
    one = c[c["series"] == "latent 1"]
    assert one["epoch"].tolist() == [1, 10, 20]
    np.testing.assert_allclose(one["loss"], [2.0, 0.2, 0.1])  # the middle seed: 2 / epoch
    two = c[c["series"] == "latent 2"]
    assert two["epoch"].tolist() == [1, 10]  # 15 and 20: one seed each
    np.testing.assert_allclose(two["loss"], [0.3, 0.3])
