"""Integration test: the font and denoising studies run for real under DVC.

The project is copied into a temporary git repository with tiny epoch counts; ``dvc repro`` of
the study targets (so no network is needed, whatever other stages dvc.yaml holds), outputs and
metrics are checked, ``dvc exp run -S arch=2`` retrains another architecture, and a second
``dvc repro`` has nothing to do.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from repo_utils import commit_all, copy_project, dvc_executable, init_repo, project_env, run

TARGETS = ["evaluate_font", "compare_font", "evaluate_denoising"]

pytestmark = pytest.mark.slow

if shutil.which("git") is None:
    pytest.skip("git is not installed", allow_module_level=True)


def _tiny_params(path: Path) -> None:
    p = yaml.safe_load(path.read_text())
    keep = {"1", "2", "7"}  # arch 7 is the denoising baseline; 2 is used by the experiment
    p["architectures"] = {k: dict(v, epochs=30) for k, v in p["architectures"].items()
                          if k in keep}
    p["train_font"]["metric_every"] = 10
    p["evaluate_font"]["grid_n"] = 4
    d = p["denoise"]
    d.update(copies=2, metric_every=1)
    d["model"]["epochs"] = 2
    p["evaluate_denoising"].update(trials=3)
    path.write_text(yaml.safe_dump(p, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    dvc = dvc_executable()
    work = tmp_path_factory.mktemp("pipeline")
    copy_project(work)
    _tiny_params(work / "params.yaml")
    env = project_env()
    init_repo(work, env)
    first = run([str(dvc), "repro", *TARGETS], work, env)
    return {"dir": work, "env": env, "dvc": str(dvc), "first": first}


def test_repro_outputs(repo):
    w = repo["dir"]
    out = repo["first"].stdout
    for stage in ("build_font", "train_font", "compare_train@1", "compare_train@7",
                  "compare_font", "evaluate_font", "train_denoiser", "evaluate_denoising"):
        assert f"Running stage '{stage}'" in out
    s = json.loads((w / "results/font/train/summary.json").read_text())
    for key in ("final_loss", "lowest_loss", "lowest_loss_epoch", "epochs", "max_pixel_error",
                "glyphs_over", "training_seconds", "steps_per_second", "wrong_glyphs"):
        assert key in s
    assert s["arch"] == "7" and s["epochs"] == 30
    h = pd.read_csv(w / "results/font/train/history.csv")
    assert len(h) == 30 and h["max_wrong_pixels"].notna().sum() == 3
    assert len(pd.read_csv(w / "results/font/train/per_glyph.csv")) == 32
    comp = pd.read_csv(w / "results/font/comparison.csv")
    assert list(comp["arch"].astype(str)) == ["1", "2", "7"]
    for name in ("error_curve", "latent_map", "reconstructions", "transitions", "latent_grid",
                 "comparison"):
        assert (w / f"figures/font/{name}.png").stat().st_size > 1000
    for name in ("wrong_pixels", "restored", "examples_denoiser", "examples_plain"):
        assert (w / f"figures/denoise/{name}.png").stat().st_size > 1000
    assert (w / "data/font/glyphs.png").exists()
    m = json.loads((w / "results/denoise/metrics.json").read_text())
    assert set(m) == {"denoiser", "plain (arch 7)"}
    assert set(m["denoiser"]) == {f"noise_{p:02d}pct" for p in (0, 5, 10, 15, 20, 25, 30)}
    assert set(m["denoiser"]["noise_10pct"]) == {"restored", "mean_wrong", "worst_wrong", "mse"}
    ev = pd.read_csv(w / "results/denoise/evaluation.csv")
    assert len(ev) == 3 * 7 and set(ev["trials"]) == {3}
    t = json.loads((w / "results/denoise/train_summary.json").read_text())
    assert t["samples"] == 2 * 5 * 32 and t["epochs"] == 2


def test_dvc_shows_metrics_and_plots(repo):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    shown = json.loads(run([dvc, "metrics", "show", "--json"], w, env).stdout)
    files = next(iter(shown.values()))["data"]
    assert {"results/font/train/summary.json", "results/font/arch/7/summary.json",
            "results/denoise/metrics.json", "results/denoise/train_summary.json"} <= set(files)
    plots = run([dvc, "plots", "show", "--json"], w, env).stdout
    for name in ("font_training_error", "font_architectures", "denoise_restored"):
        assert name in plots


def test_experiment_and_nothing_left_to_do(repo):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    commit_all(w, env, "results")
    run([dvc, "exp", "run", "-S", "arch=2", "train_font", "evaluate_font"], w, env)
    s = json.loads((w / "results/font/train/summary.json").read_text())
    assert s["arch"] == "2"
    shown = run([dvc, "exp", "show", "--json"], w, env).stdout
    assert "max_pixel_error" in shown
    again = run([dvc, "repro", *TARGETS], w, env)
    assert "Running stage" not in again.stdout
    assert "up to date" in again.stdout.lower()
