"""Seed sweeps: the result store (atomic, resumable), digests, and the same results from the
serial path, a local Dask cluster and a real scheduler with workers that get killed.

The distributed tests (marked slow) start ``dask scheduler`` and ``dask worker`` processes on
127.0.0.1 and check that a sweep survives losing a worker, bit for bit.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbae.engine.model import Autoencoder
from nbae.studies import sweep
from nbae.studies.font_data import build_font_set
from nbae.studies.font_sweep import font_tasks
from nbae.studies.sweep import Result, Task, digest, run_sweep

ROOT = Path(__file__).resolve().parents[1]
CALLS = []


def square(x, threads=None):
    """A task: records its call (serial mode runs in this process)."""
    CALLS.append(x)
    if x == "boom":
        raise KeyboardInterrupt
    ae = Autoencoder([4, 2], seed=int(x))
    return Result(models={"m": ae}, tables={"t": pd.DataFrame({"x": [x, x * x],
                                                               "name": ["a", "b"]})},
                  info={"x": x})


def test_digest_depends_on_arguments_and_array_contents():
    a = Task("a", square, {"x": 2, "arr": np.arange(3.0)})
    same = Task("other key", square, {"arr": np.arange(3.0), "x": 2})
    assert digest(a) == digest(same)  # the key is a label; order of kwargs does not matter
    assert digest(a) != digest(Task("a", square, {"x": 3, "arr": np.arange(3.0)}))
    assert digest(a) != digest(Task("a", square, {"x": 2, "arr": np.array([0, 1, 2 + 1e-9])}))
    assert digest(a) != digest(Task("a", square, {"x": 2, "arr": np.arange(3, dtype=np.float32)}))


def test_code_fingerprint_covers_imported_modules_only():
    files = set()
    todo = ["nbae.studies.font_sweep"]
    while todo:
        p = sweep._source(todo.pop())
        if p is None or p in files:
            continue
        files.add(p)
        todo.extend(sweep._imports(p))
    names = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"nbae/engine/lanes/kernels.py", "nbae/studies/ensemble.py",
            "nbae/engine/exact.py", "nbae/data/metrics.py"} <= names
    assert not any(n.startswith(("nbae/figures", "nbae/cli", "nbae/explorer")) for n in names)


def test_serial_sweep_stores_results_and_resumes(tmp_path):
    CALLS.clear()
    tasks = [Task(f"t{x}", square, {"x": x}) for x in (1, 2, 3)]
    out = run_sweep(tasks, store=tmp_path, scheduler="serial", progress=False)
    assert CALLS == [1, 2, 3]
    assert [r.info["x"] for r in out] == [1, 2, 3]
    assert out[1].tables["t"]["x"].tolist() == [2, 4]
    assert out[1].tables["t"]["name"].tolist() == ["a", "b"]
    np.testing.assert_array_equal(out[2].models["m"].weights[0],
                                  Autoencoder([4, 2], seed=3).weights[0])
    again = run_sweep(tasks, store=tmp_path, scheduler="serial", progress=False)
    assert CALLS == [1, 2, 3]  # nothing recomputed
    assert again[0].tables["t"].equals(out[0].tables["t"])
    assert not list(tmp_path.glob(".tmp-*"))


def test_ctrl_c_keeps_finished_tasks_and_a_rerun_does_only_the_rest(tmp_path):
    CALLS.clear()
    tasks = [Task("one", square, {"x": 1}), Task("boom", square, {"x": "boom"}),
             Task("three", square, {"x": 3})]
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tasks, store=tmp_path, scheduler="serial", progress=False)
    assert CALLS == [1, "boom"]
    CALLS.clear()
    fixed = [tasks[0], Task("two", square, {"x": 2}), tasks[2]]
    run_sweep(fixed, store=tmp_path, scheduler="serial", progress=False)
    assert CALLS == [2, 3]


def test_a_damaged_stored_result_is_computed_again(tmp_path):
    CALLS.clear()
    t = Task("t", square, {"x": 5})
    run_sweep([t], store=tmp_path, scheduler="serial", progress=False)
    (tmp_path / digest(t) / "models" / "m.npz").write_bytes(b"not a model")
    out = run_sweep([t], store=tmp_path, scheduler="serial", progress=False)
    assert CALLS == [5, 5]
    assert out[0].info == {"x": 5}


def test_bad_scheduler_settings_are_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        run_sweep([Task("t", square, {"x": 1})], store=tmp_path,
                  scheduler=f"tcp://127.0.0.1:{_free_port()}", progress=False)
    monkeypatch.setenv("NBAE_SCHEDULER", "serial")
    monkeypatch.setenv("NBAE_WORKERS", "zero")
    with pytest.raises(ValueError, match="NBAE_WORKERS"):
        sweep._workers()
    with pytest.raises(ValueError, match="unique"):
        run_sweep([Task("t", square, {"x": 1})] * 2, store=tmp_path, progress=False)


# ---------------------------------------------------------------------------------------------
# the same results everywhere


def _font_sweep_tasks(epochs=40, seeds=10):
    data = build_font_set(ROOT / "data" / "font.h")
    base = {"activation": "tanh", "output_activation": "sigmoid", "init": "xavier",
            "optimizer": "adam", "batch_size": 5, "epochs": epochs, "epoch_loss": "full"}
    table = {"3": {**base, "layers": [35, 25, 15, 5, 2], "loss": "mse", "lr": 0.002},
             "7": {**base, "layers": [35, 25, 15, 5, 2], "loss": "bce", "lr": 0.002}}
    return font_tasks(table, data, list(range(seeds)), metric_every=10, max_wrong=1)


def fingerprint(results) -> str:
    """sha256 over every stored model's weights and every table (all the bits that matter)."""
    h = hashlib.sha256()
    for r in results:
        for name in sorted(r.models):
            h.update(name.encode() + r.models[name].get_params().tobytes())
        for name in sorted(r.tables):
            h.update(name.encode() + r.tables[name].to_csv(index=False).encode())
    return h.hexdigest()


# Committed golden numbers: the lanes engine is deterministic on every x86-64 machine, so a
# CI machine that computes anything else has found a reproducibility bug.
def test_short_font_sweep_matches_the_committed_golden_numbers(tmp_path):
    results = run_sweep(_font_sweep_tasks(), store=tmp_path, scheduler="serial",
                        progress=False)
    runs = pd.concat([r.tables["runs"].assign(arch=r.info["arch"]) for r in results])
    got = {a: [float(v) for v in g.sort_values("seed")["best_loss"].head(3)]
           for a, g in runs.groupby("arch")}
    assert got == GOLDEN_BEST_LOSS
    assert fingerprint(results) == GOLDEN_SWEEP_SHA256


GOLDEN_BEST_LOSS = {"3": [0.15537093167629926, 0.1590890214207759, 0.16399053935421995],
                    "7": [0.4658828354319737, 0.47203423298522884, 0.4892335282273392]}
GOLDEN_SWEEP_SHA256 = "f4c2bfe1e9f6397214c876393eced9556f5aac7db0c2bfadadac77f02a42b605"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_local_cluster_gives_the_serial_results(tmp_path, monkeypatch):
    monkeypatch.setenv("NBAE_WORKERS", "2")
    tasks = _font_sweep_tasks()
    local = run_sweep(tasks, store=tmp_path / "local", scheduler="local", progress=False)
    assert fingerprint(local) == GOLDEN_SWEEP_SHA256
    # and the stored results are read back, not recomputed, by a serial rerun
    CALLS.clear()
    again = run_sweep(tasks, store=tmp_path / "local", scheduler="serial", progress=False)
    assert fingerprint(again) == GOLDEN_SWEEP_SHA256


def _dask(*args, log):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "dask", *args],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


@pytest.mark.slow
def test_real_scheduler_and_workers_survive_a_killed_worker(tmp_path):
    """dask scheduler + two dask workers on 127.0.0.1; one worker is killed (SIGKILL) while it
    runs a task; the sweep still completes with the serial run's bits."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "dask.log", "wb")
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port),
                   "--dashboard-address", ":0", log=log)]
    try:
        time.sleep(2)
        workers = [_dask("worker", address, "--nthreads", "1", "--no-nanny",
                         "--no-dashboard", "--name", f"w{i}", log=log) for i in range(2)]
        procs += workers
        from distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
        store = tmp_path / "remote"
        killed = threading.Event()

        def kill_one():  # once the first task is in, a worker dies mid-sweep
            deadline = time.time() + 300
            while time.time() < deadline and not any(store.glob("[0-9a-f]*")):
                time.sleep(0.05)
            workers[0].send_signal(signal.SIGKILL)
            killed.set()

        threading.Thread(target=kill_one, daemon=True).start()
        tasks = _font_sweep_tasks(epochs=1500, seeds=40)  # 10 tasks of about a second
        remote = run_sweep(tasks, store=store, scheduler=address, progress=False)
        assert killed.wait(10) and workers[0].wait(10) == -signal.SIGKILL
        serial = run_sweep(tasks, store=tmp_path / "serial", scheduler="serial", progress=False)
        assert fingerprint(serial) == fingerprint(remote)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        log.close()


def _denoise_sweep_tasks():
    from nbae.studies import denoising as dn
    from nbae.studies.denoise_sweep import denoise_tasks

    data = build_font_set(ROOT / "data" / "font.h")
    cfg = dn.train_params({"denoise": {
        "levels": [0.0, 0.1, 0.2], "copies": 4, "seed": 0, "metric_every": 5, "seeds": 3,
        "model": {"layers": [35, 30, 20, 10, 2], "activation": "tanh",
                  "output_activation": "sigmoid", "loss": "bce", "init": "xavier",
                  "optimizer": "adam", "lr": 0.001, "batch_size": 5, "epochs": 10}}})
    return denoise_tasks(cfg, data, cfg["seeds"])


GOLDEN_DENOISE_SHA256 = "175c1720daa5b79227da5650c0636c598edcb722531579b178d1497489f1a41c"


def test_short_denoiser_sweep_matches_the_committed_golden_numbers(tmp_path):
    results = run_sweep(_denoise_sweep_tasks(), store=tmp_path, scheduler="serial",
                        progress=False)
    assert [r.info["n_samples"] for r in results] == [384]  # 3 levels x 4 copies x 32
    assert sorted(results[0].models) == ["seed-0", "seed-1", "seed-2"]
    assert fingerprint(results) == GOLDEN_DENOISE_SHA256


@pytest.mark.slow
def test_ctrl_c_on_a_local_cluster_keeps_finished_tasks_and_a_rerun_resumes(tmp_path):
    """The train_font stage on the default local Dask cluster; Ctrl-C (SIGINT to the whole
    process group, as a terminal sends it) once two tasks are stored: exit 130, one error
    line, the stored tasks intact; a rerun keeps them and does only the rest."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config/font.yaml").read_text())
    for a in cfg["architectures"].values():
        a["epochs"] = 1500
    cfg["train_font"].update(seeds=4, metric_every=500)
    (tmp_path / "font.yaml").write_text(yaml.safe_dump(cfg))
    store = tmp_path / "store"
    env = {**os.environ, "NBAE_SWEEP_STORE": str(store), "NBAE_SCHEDULER": "local",
           "NBAE_WORKERS": "2", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "stages/train_font.py", str(tmp_path / "font.yaml"),
            "data/font/font.npz", str(tmp_path / "models"), str(tmp_path / "runs")]
    # a shell that starts us in the background makes SIGINT ignored, and an ignored SIGINT
    # stays ignored in children (Python then installs no KeyboardInterrupt handler): restore
    # the default, as a terminal's foreground job has it
    p = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and len(list(store.glob("[0-9a-f]*"))) < 2:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=120)
    done = {d.name: d.stat().st_mtime_ns for d in store.glob("[0-9a-f]*")}
    assert p.returncode == 130, (out, err)
    assert err.decode().strip().splitlines()[-1].startswith("error: interrupted")
    assert 2 <= len(done) < 8 and not list(store.glob(".tmp-*"))
    assert not (tmp_path / "models").exists()  # nothing half-written
    again = subprocess.run(argv, cwd=ROOT, env={**env, "NBAE_SCHEDULER": "serial"},
                           capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = {d.name: d.stat().st_mtime_ns for d in store.glob("[0-9a-f]*")}
    assert len(after) == 8 and all(after[k] == v for k, v in done.items())
    assert len(list((tmp_path / "models").glob("*/seed-*.npz"))) == 8 * 4
