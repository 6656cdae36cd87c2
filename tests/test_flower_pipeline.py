"""Integration test: the flowers study runs for real under DVC against a local mirror.

The shared five-class subset of Oxford 102 Flowers (``shared/data/oxford102-subset``; the test
is skipped without it) is served over HTTP on 127.0.0.1. The project is copied into a temporary
git repository whose params point ``flowers.base_url`` at that server (with the subset's
checksums) and use tiny epoch counts; ``dvc repro`` of the flower targets then downloads,
prepares, trains, searches and draws. Checked: outputs, metrics, plots, that the archive stays
out of the DVC cache and out of git, that a second ``dvc repro`` has nothing to do, and that
``dvc exp run -S`` changes a flower setting.
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from repo_utils import commit_all, copy_project, dvc_executable, init_repo, project_env, run

SUBSET = Path(__file__).resolve().parents[2] / "shared/data/oxford102-subset"
SUBSET_TGZ = {"md5": "5ba51d58c607f343a1f3b3ea985df90d", "size": 13459804}
TARGETS = ["navigate_flowers", "search_flowers"]
STAGES = ["download_flowers", "prepare_flowers", "train_flowers", "search_flowers",
          "navigate_flowers"]

pytestmark = pytest.mark.slow

if not (SUBSET / "102flowers.tgz").is_file():
    pytest.skip(f"flower subset not found at {SUBSET}", allow_module_level=True)
if shutil.which("git") is None:
    pytest.skip("git is not installed", allow_module_level=True)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def mirror():
    handler = functools.partial(_Quiet, directory=str(SUBSET))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _tiny_params(path: Path, base_url: str) -> None:
    p = yaml.safe_load(path.read_text())
    p["flowers"]["base_url"] = base_url
    p["flowers"]["files"]["102flowers.tgz"] = dict(SUBSET_TGZ)
    p["flowers_train"]["epochs"] = 30
    p["flowers_search"].update(latent_sizes=[2, 3], epochs=10, threshold=10.0)
    p["flowers_navigate"].update(grid_n=3, steps=3, samples=4)
    path.write_text(yaml.safe_dump(p, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mirror):
    dvc = dvc_executable()
    work = tmp_path_factory.mktemp("flowers")
    copy_project(work, extra=["data/flowers/.gitignore"])
    _tiny_params(work / "params.yaml", mirror)
    env = project_env()
    init_repo(work, env)
    first = run([str(dvc), "repro", *TARGETS], work, env)
    return {"dir": work, "env": env, "dvc": str(dvc), "first": first, "mirror": mirror}


def test_repro_downloads_prepares_trains_and_draws(repo):
    w = repo["dir"]
    for stage in STAGES:
        assert f"Running stage '{stage}'" in repo["first"].stdout
    for name in ("102flowers.tgz", "imagelabels.mat", "setid.mat"):
        assert (w / "data/flowers/raw" / name).read_bytes() == (SUBSET / name).read_bytes()
    with np.load(w / "data/flowers/prepared/flowers.npz") as z:
        X, ids = z["X"], z["ids"]
    assert X.shape == (24, 1024) and X.min() >= -1 and X.max() <= 1
    assert (w / "data/flowers/prepared/contact_sheet.png").stat().st_size > 1000

    s = json.loads((w / "results/flowers/train/summary.json").read_text())
    assert s["epochs"] == 30 and s["latent_dim"] == 6 and s["n_photos"] == 24
    assert s["steps"] == 30 * 2  # 24 photos in batches of 20
    for key in ("final_loss", "lowest_loss", "lowest_loss_epoch", "training_seconds",
                "steps_per_second"):
        assert key in s
    assert set(s["reconstruction"]) >= {"mse_mean", "mse_max", "worst_id", "psnr_mean_db"}
    assert len(pd.read_csv(w / "results/flowers/train/history.csv")) == 30

    from nbae.engine.model import Autoencoder

    ae = Autoencoder.load(w / "models/flowers/model.npz")
    m = ae.metadata
    assert m["dataset"] == "flowers" and m["labels"] == [str(i) for i in ids]
    assert m["pixel_range"] == [-1, 1] and m["image_shape"] == [32, 32]
    assert m["preprocess"]["size"] == 32 and len(m["latent_stats"]["mean"]) == 6

    search = json.loads((w / "results/flowers/search/summary.json").read_text())
    assert set(search["best_loss"]) == {"2", "3"} and search["smallest_latent_dim"] == 2
    table = pd.read_csv(w / "results/flowers/search/latent_search.csv")
    assert table["latent_dim"].tolist() == [2, 3] and (table["epochs"] == 10).all()
    for name in ("latent_search", "error_curve", "reconstructions", "latent_grid",
                 "transitions", "generated"):
        assert (w / f"figures/flowers/{name}.png").stat().st_size > 1000, name
    assert len(pd.read_csv(w / "results/flowers/latent_codes.csv")) == 24


def test_archive_stays_out_of_cache_and_git(repo):
    w = repo["dir"]
    lock = yaml.safe_load((w / "dvc.lock").read_text())
    raw = lock["stages"]["download_flowers"]["outs"][0]
    assert raw["path"] == "data/flowers/raw"
    cached = [p for p in (w / ".dvc" / "cache").rglob("*") if p.is_file()]
    assert all(p.stat().st_size < SUBSET_TGZ["size"] for p in cached)
    ignored = run(["git", "check-ignore", "data/flowers/raw/102flowers.tgz"], w, repo["env"],
                  check=False)
    assert ignored.returncode == 0, "the downloaded archive must be ignored by git"


def test_dvc_shows_flower_metrics_and_plots(repo):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    shown = json.loads(run([dvc, "metrics", "show", "--json"], w, env).stdout)
    files = next(iter(shown.values()))["data"]
    assert {"results/flowers/train/summary.json",
            "results/flowers/search/summary.json"} <= set(files)
    plots = run([dvc, "plots", "show", "--json"], w, env).stdout
    assert "results/flowers/train/curve.csv" in plots


def test_nothing_left_to_do_then_an_experiment(repo):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    again = run([dvc, "repro", *TARGETS], w, env)
    assert "Running stage" not in again.stdout
    commit_all(w, env, "results")
    run([dvc, "exp", "run", "-S", "flowers_train.epochs=12", *TARGETS], w, env)
    s = json.loads((w / "results/flowers/train/summary.json").read_text())
    assert s["epochs"] == 12
    refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], w, env).stdout
    exps = [r for r in refs.split() if not r.startswith("refs/exps/exec/")]
    assert len(exps) == 1
    tree = run(["git", "ls-tree", "-r", "--name-only", exps[0]], w, env).stdout.split()
    # cache: false outputs are committed into the experiment, so the archive must be ignored
    assert "results/flowers/train/summary.json" in tree
    assert not [f for f in tree if f.startswith("data/flowers/raw")]
