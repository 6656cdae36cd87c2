"""Integration test: the whole DVC pipeline runs for real, offline, with tiny settings.

The project is copied into a temporary git repository (as a fresh clone would hold it: the
shipped prepared photos, ``dvc commit prepare_flowers`` standing in for the committed lock),
the study configs are shrunk to seconds, and ``dvc repro`` runs every stage with the network
closed (proxy variables point at a dead port). Checked: every stage ran and wrote its outputs,
``dvc exp run -S arch=2`` records an experiment with architecture 2's metrics, ``dvc exp
apply`` works, ``dvc exp show`` fits 120 columns, ``dvc plots show`` writes a page with no
empty plot and no network reference, and a second ``dvc repro`` has nothing to do.

With ``NBAE_FLOWERS_SUBSET`` naming the five-class Oxford subset, one more test serves it over
HTTP on 127.0.0.1 and checks that a changed photo selection downloads and prepares for real.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from repo_utils import commit_all, copy_project, dvc_executable, init_repo, project_env, run

pytestmark = pytest.mark.slow

if shutil.which("git") is None:
    pytest.skip("git is not installed", allow_module_level=True)

OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "no_proxy": "", "NO_PROXY": ""}
# the README's `dvc exp show --drop '.*' --keep ...`: the headline columns only
KEEP = "Experiment|font_arch|success|med_loss|dae10|ae10|dae20|ae20|latent_size"
HEADLINE = {"results/font/metrics.json", "results/denoise/metrics.json",
            "results/flowers/metrics.json"}


def _edit(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _tiny(work: Path) -> None:
    def font(p):
        for a in p["architectures"].values():
            a["epochs"] = 30
        p["train_font"].update(metric_every=10, seeds=3)
        p["evaluate_font"]["grid_n"] = 4

    def denoise(p):
        p["denoise"].update(copies=2, metric_every=1, seeds=3)
        p["denoise"]["model"]["epochs"] = 2
        p["evaluate_denoising"]["trials"] = 3

    def flowers(p):
        p["flowers_arch"]["layers"] = [1024, 32, 6]
        p["flowers_train"]["epochs"] = 20
        # a threshold some size reaches: DVC omits a metric column that is null in every row
        p["flowers_search"].update(epochs=10, latent_sizes=[2, 6], threshold=1.0, seeds=2)
        p["flowers_navigate"].update(grid_n=3, samples=2, steps=3)

    def vae(p):
        p["font_vae"]["epochs"] = 20
        p["font_vae"]["kl_warmup"] = 5
        p["font_vae_figures"]["grid_n"] = 3
        p["flowers_vae"].update(epochs=5, layers=[1024, 32, 6])
        p["flowers_vae_samples"]["samples"] = 2

    def claims(p):
        p["font_claims"].update(grid_n=12, trials=3, permutations=99)

    def generalize(p):
        p["generalize"].update(epochs=4, latent_sizes=[2, 4], val_every=2)
        p["generalize"]["arch"]["layers"] = [1024, 32, 2]

    for name, change in (("font", font), ("denoise", denoise), ("flowers", flowers),
                         ("vae", vae), ("claims", claims), ("generalize", generalize)):
        _edit(work / "config" / f"{name}.yaml", change)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    dvc = str(dvc_executable())
    work = tmp_path_factory.mktemp("pipeline")
    copy_project(work, extra=("data/flowers/prepared/flowers.npz",
                              "data/flowers/prepared/contact_sheet.png",
                              "data/flowers/split/split.npz"))
    _tiny(work)
    env = dict(project_env(), **OFFLINE)
    init_repo(work, env)
    for stage in ("prepare_flowers", "prepare_flower_split"):  # as the repository ships them
        run([dvc, "commit", "-f", stage], work, env)
    commit_all(work, env, "prepared photos")
    first = run([dvc, "repro"], work, env)
    commit_all(work, env, "results")
    return {"dir": work, "env": env, "dvc": dvc, "first": first}


def test_every_stage_ran_offline(repo):
    w, out = repo["dir"], repo["first"].stdout
    stages = yaml.safe_load((w / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        if name in ("prepare_flowers", "prepare_flower_split"):
            assert f"Running stage '{name}'" not in out  # shipped, never re-run
        elif "foreach" in stage:
            for item in stage["foreach"]:
                assert f"Running stage '{name}@{item}'" in out
        else:
            assert f"Running stage '{name}'" in out, name
    for path in HEADLINE:
        assert json.loads((w / path).read_text()), path
    font = json.loads((w / "results/font/metrics.json").read_text())
    assert set(font) == {"font_arch", "success", "med_loss"}
    assert font["font_arch"] == 7
    seeds = sorted(p.name for p in (w / "models/font/arch/7").iterdir())
    assert seeds == ["representative.npz", "seed-0.npz", "seed-1.npz", "seed-2.npz"]
    assert len(list((w / "models/denoise").glob("seed-*.npz"))) == 3
    assert json.loads((w / "results/font/claims/metrics.json").read_text())
    assert json.loads((w / "results/generalize/metrics.json").read_text())
    den = json.loads((w / "results/denoise/metrics.json").read_text())
    assert set(den) == {"dae10", "ae10", "dae20", "ae20"}
    assert (w / "figures/font/explorer.html").stat().st_size > 10_000
    assert (w / "results/vae/font/metrics.json").is_file()


def test_experiment_apply_and_nothing_left_to_do(repo):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    proc = run([dvc, "exp", "run", "-S", "arch=2"], w, env)
    assert "Running stage 'evaluate_font'" in proc.stdout
    assert "Running stage 'train_font'" not in proc.stdout  # every arch is trained already
    exps = json.loads(run([dvc, "exp", "show", "--json"], w, env).stdout)
    runs = [e for e in exps if e.get("experiments")]
    assert runs, exps
    exp = runs[0]["experiments"][0]
    name = exp["name"]
    data = exp["revs"][0]["data"]
    assert data["metrics"]["results/font/metrics.json"]["data"]["font_arch"] == 2
    run(["git", "checkout", "-q", "--", "."], w, env)
    run([dvc, "checkout", "-q"], w, env, check=False)
    run([dvc, "exp", "apply", name], w, env)
    assert json.loads((w / "results/font/metrics.json").read_text())["font_arch"] == 2
    run(["git", "checkout", "-q", "--", "."], w, env)
    again = run([dvc, "repro"], w, env)
    assert "Running stage" not in again.stdout


def test_exp_show_fits_120_columns(repo):
    """The headline metrics fit; DVC adds a hash column per dependency and a column per number
    of every metrics file (claims, generalization), which the README's ``--drop``/``--keep``
    leave out."""
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    shown = run([dvc, "exp", "show", "--no-pager", "--drop", ".*", "--keep", KEEP], w,
                dict(env, COLUMNS="120")).stdout
    lines = [line for line in shown.splitlines() if line.strip()]
    assert lines and max(len(line) for line in lines) <= 120, shown
    assert "…" not in shown, shown
    for column in ("font_arch", "success", "med_loss", "dae10", "ae10", "dae20", "ae20",
                   "latent_size"):
        assert column in shown, (column, shown)


def test_plots_page_has_every_plot_offline(repo, tmp_path):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    run([dvc, "plots", "show", "-o", str(tmp_path / "plots")], w, env)
    html = (tmp_path / "plots" / "index.html").read_text()
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*\bhref=|https?://cdn", html)
    ids = [next(iter(p)) for p in yaml.safe_load((w / "dvc.yaml").read_text())["plots"]]
    found = dict((pid, json.loads(spec)) for spec, pid in re.findall(
        r"var spec = (\{.*?\});\s*vegaEmbed\('#([^']+)'", html, re.S))
    assert set(found) == set(ids)
    for pid in ids:
        assert found[pid].get("data", {}).get("values"), f"{pid}: empty spec"
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian chromium not installed: the page was not opened")
    sync_api = pytest.importorskip("playwright.sync_api")
    from test_dvc_plots import _browse

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        described = _browse(browser, tmp_path / "plots" / "index.html")
        browser.close()
    for pid in ids:
        d = described[pid]
        assert d["ok"] and d["svg"] == 1 and (d["lines"] + d["symbols"]) > 0, d


# ------------------------------------------------------------------ the real download path

SUBSET = Path(os.environ.get("NBAE_FLOWERS_SUBSET", "/nonexistent"))


@pytest.fixture
def mirror():
    if not (SUBSET / "102flowers.tgz").is_file():
        pytest.skip("NBAE_FLOWERS_SUBSET does not name the Oxford subset folder")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(Quiet, directory=str(SUBSET)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_new_photo_selection_downloads_from_a_mirror(repo, mirror):
    w, env, dvc = repo["dir"], repo["env"], repo["dvc"]
    tgz = (SUBSET / "102flowers.tgz").read_bytes()

    def point_at_mirror(p):
        p["flowers"]["base_url"] = mirror
        p["flowers"]["files"]["102flowers.tgz"] = {"md5": hashlib.md5(tgz).hexdigest(),
                                                  "size": len(tgz)}
        p["flowers"].update(classes=[54], n_images=6)

    _edit(w / "config/flowers_data.yaml", point_at_mirror)
    env = dict(env, no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
    proc = run([dvc, "repro", "prepare_flowers", "train_flowers"], w, env)
    assert "Running stage 'prepare_flowers'" in proc.stdout
    assert (w / "data/flowers/raw/102flowers.tgz").stat().st_size == len(tgz)
    import numpy as np

    with np.load(w / "data/flowers/prepared/flowers.npz") as z:
        assert z["X"].shape == (6, 1024) and set(z["labels"].tolist()) == {54}
    status = run(["git", "status", "--porcelain"], w, env).stdout
    assert "data/flowers/raw" not in status  # the download cache stays out of git
