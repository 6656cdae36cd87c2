"""The flower step against its one-core roofline, and two cores against one.

    pytest tests/benchmarks/test_flower_roofline.py --benchmark-only -s

Workload: the flower net (1024-512-256-64-6 mirrored, batch 20, Adam, float32) on the
single-model engine (``Autoencoder.fit``: BLAS products) and on the lanes arithmetic for one
model (``fit(reproducible=True)``: own products, each layer updated right after its backward
step, ``threads`` splitting the large layers). The bound is measured in the same run: the step's
matrix flops (6 x batch x weights: forward, weight and input gradients) at the machine's
one-core float32 GEMM rate (a 1024^3 NumPy product with one BLAS thread), plus Adam's memory
traffic (read parameters, gradient, m, v; write parameters, m, v: 7 x 4 bytes per parameter)
at the one-core streaming rate of arrays of the parameters' size (``np.add`` over three
float32 arrays of 1.35 M elements: where they live in the cache hierarchy is where Adam's do). The
summary prints milliseconds per step, the bound, their ratio, and the speed-up of two threads
over one (``NBAE_BLAS_THREADS=2``; ``threads=2``).
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nbae import Autoencoder

LAYERS = [1024, 512, 256, 64, 6]
N, BATCH, EPOCHS = 40, 20, 20  # 40 steps a call: the per-call setup stays small
RESULTS = {}


def _sizes():
    return LAYERS + LAYERS[-2::-1]


def _weights():
    s = _sizes()
    return sum(a * b for a, b in zip(s[:-1], s[1:], strict=True))


def _params():
    return _weights() + sum(_sizes()[1:])


def test_gemm_peak_one_core(benchmark):
    benchmark.group = "flower-roofline"
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((1024, 1024)).astype(np.float32) for _ in range(2))
    with threadpool_limits(1, user_api="blas"):
        benchmark.pedantic(lambda: A @ B, rounds=10, warmup_rounds=2)
    RESULTS["gemm GFLOP/s"] = 2 * 1024 ** 3 / benchmark.stats.stats.min / 1e9


def test_stream_one_core(benchmark):
    benchmark.group = "flower-roofline"
    n = _params()
    a, b, c = (np.ones(n, np.float32) for _ in range(3))
    benchmark.pedantic(lambda: np.add(b, c, out=a), rounds=10, warmup_rounds=2)
    RESULTS["stream GB/s"] = 3 * 4 * n / benchmark.stats.stats.min / 1e9


def _fit(ae, X, **kw):
    return lambda: ae.fit(X, epochs=EPOCHS, batch_size=BATCH, lr=1e-4, restore_best=False, **kw)


def _model():
    return Autoencoder(LAYERS, activation="tanh", output_activation="tanh", init="xavier",
                       seed=0, dtype="float32")


@pytest.mark.parametrize("threads", [1, 2])
def test_flower_step(benchmark, monkeypatch, threads):
    """The BLAS engine (``fit``), ``NBAE_BLAS_THREADS`` threads."""
    benchmark.group = "flower-roofline"
    monkeypatch.setenv("NBAE_BLAS_THREADS", str(threads))
    X = np.random.default_rng(0).uniform(-1, 1, (N, LAYERS[0]))
    benchmark.pedantic(_fit(_model(), X), rounds=5, warmup_rounds=1)
    RESULTS[f"step ms, {threads} BLAS thread(s)"] = benchmark.stats.stats.median / _steps() * 1e3


@pytest.mark.parametrize("threads", [1, 2])
def test_flower_step_reproducible(benchmark, threads):
    """The lanes arithmetic for one model (``fit(reproducible=True, threads=...)``)."""
    benchmark.group = "flower-roofline"
    X = np.random.default_rng(0).uniform(-1, 1, (N, LAYERS[0]))
    benchmark.pedantic(_fit(_model(), X, reproducible=True, threads=threads), rounds=5,
                       warmup_rounds=1)
    RESULTS[f"step ms, reproducible, {threads} thread(s)"] = (
        benchmark.stats.stats.median / _steps() * 1e3)


def _steps():
    return EPOCHS * (N // BATCH)


@pytest.fixture(scope="module", autouse=True)
def _print_roofline():
    yield
    if not RESULTS:
        return
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}  flower net 1024-512-256-64-6, batch {BATCH}, "
          f"Adam, float32 ({_params():,} parameters)")
    flops = 6 * BATCH * _weights()
    traffic = 7 * 4 * _params()
    bound = None
    if "gemm GFLOP/s" in RESULTS and "stream GB/s" in RESULTS:
        t_flop = flops / RESULTS["gemm GFLOP/s"] / 1e6
        t_mem = traffic / RESULTS["stream GB/s"] / 1e6
        bound = t_flop + t_mem
        print(f"  one-core GEMM {RESULTS['gemm GFLOP/s']:.0f} GFLOP/s: {flops / 1e6:.0f} MFLOP "
              f"in {t_flop:.2f} ms; stream {RESULTS['stream GB/s']:.1f} GB/s: Adam's "
              f"{traffic / 1e6:.0f} MB in {t_mem:.2f} ms; bound {bound:.2f} ms")
    for name, key in (("BLAS engine", "step ms, {} BLAS thread(s)"),
                      ("reproducible", "step ms, reproducible, {} thread(s)")):
        one, two = RESULTS.get(key.format(1)), RESULTS.get(key.format(2))
        if one is not None:
            vs = f" = {one / bound:.2f}x the bound" if bound else ""
            print(f"  {name}, one thread: {one:.2f} ms{vs}")
        if one is not None and two is not None:
            print(f"  {name}, two threads: {two:.2f} ms: {one / two:.2f}x faster than one")
