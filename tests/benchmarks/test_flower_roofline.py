"""The flower step against its one-core roofline, and two cores against one.

    pytest tests/benchmarks/test_flower_roofline.py --benchmark-only -s

Workload: the flower net (1024-512-256-64-6 mirrored, batch 20, Adam, float32) on the
single-model engine (``Autoencoder.fit``: BLAS products, ``NBAE_BLAS_THREADS`` 1 or 2) and on
the lanes arithmetic for one model (``fit(reproducible=True)``: own products, each layer
updated right after its backward step, ``threads`` 1 or 2 splitting the large layers).

The bound: the step's matrix flops (6 x batch x weights: forward, weight and input gradients)
at the machine's one-core float32 GEMM rate (a 1024^3 NumPy product with one BLAS thread),
plus Adam's memory traffic (read parameters, gradient, m, v; write parameters, m, v: 7 x 4
bytes per parameter) at the one-core streaming rate of arrays of the parameters' size
(``np.add`` over three float32 arrays of 1.35 M elements: where they live in the cache
hierarchy is where Adam's do).

The development machines are virtual and shared; their speed drifts by 10-40 % from one
minute to the next. So one round measures everything back to back (GEMM rate, stream rate,
the four engines) and every ratio is taken within a round; the summary prints the median and
the range over the rounds. An engine's step time is the extra time per extra step of a
100-step call over a 10-step call (each on a fresh model): the engine's own rate, without
the fixed cost of a call (allocating and first touching the optimizer state and scratch,
~27 MB for this net, and building the history), which is printed beside it.
"""

import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from nbae import Autoencoder

LAYERS = [1024, 512, 256, 64, 6]
N, BATCH, SHORT, LONG = 40, 20, 5, 50  # 10- and 100-step calls
ROUNDS = 5
ENGINES = {  # name: (fit keywords, NBAE_BLAS_THREADS)
    "BLAS engine, 1 thread": ({}, "1"),
    "BLAS engine, 2 threads": ({}, "2"),
    "reproducible, 1 thread": ({"reproducible": True, "threads": 1}, "1"),
    "reproducible, 2 threads": ({"reproducible": True, "threads": 2}, "1"),
}


def _sizes():
    return LAYERS + LAYERS[-2::-1]


def _weights():
    s = _sizes()
    return sum(a * b for a, b in zip(s[:-1], s[1:], strict=True))


def _params():
    return _weights() + sum(_sizes()[1:])


def _steps(epochs):
    return epochs * (N // BATCH)


def _best_time(f, repeat):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def _fit_time(X, epochs, kw, blas_threads):
    before = os.environ.get("NBAE_BLAS_THREADS")
    os.environ["NBAE_BLAS_THREADS"] = blas_threads
    try:
        ae = Autoencoder(LAYERS, activation="tanh", output_activation="tanh", init="xavier",
                         seed=0, dtype="float32")
        t = time.perf_counter()
        ae.fit(X, epochs=epochs, batch_size=BATCH, lr=1e-4, restore_best=False, **kw)
        return time.perf_counter() - t
    finally:
        if before is None:
            del os.environ["NBAE_BLAS_THREADS"]
        else:
            os.environ["NBAE_BLAS_THREADS"] = before


def _round(arrays, rounds):
    """One round: the two machine rates and each engine's step and per-call cost."""
    A, B, a, b, c, X = arrays
    r = {}
    with threadpool_limits(1, user_api="blas"):
        r["gemm GFLOP/s"] = 2 * 1024 ** 3 / _best_time(lambda: A @ B, 5) / 1e9
    r["stream GB/s"] = 3 * 4 * a.size / _best_time(lambda: np.add(b, c, out=a), 20) / 1e9
    r["bound ms"] = (6 * BATCH * _weights() / r["gemm GFLOP/s"]
                     + 7 * 4 * _params() / r["stream GB/s"]) / 1e6
    for name, (kw, blas) in ENGINES.items():
        short = _fit_time(X, SHORT, kw, blas)
        long = _fit_time(X, LONG, kw, blas)
        step = (long - short) / (_steps(LONG) - _steps(SHORT))
        r[name] = step * 1e3
        r[name + " call"] = (short - step * _steps(SHORT)) * 1e3
    rounds.append(r)


def _summary(rounds):
    def stat(values, fmt):
        return (f"{fmt.format(statistics.median(values))} "
                f"[{fmt.format(min(values))}, {fmt.format(max(values))}]")

    def col(key):
        return [r[key] for r in rounds]

    lines = [f"{time.strftime('%Y-%m-%d %H:%M')}  flower net 1024-512-256-64-6, batch {BATCH}, "
             f"Adam, float32 ({_params():,} parameters); median [min, max] of {len(rounds)} "
             "interleaved rounds, ratios within a round",
             f"  one-core GEMM {stat(col('gemm GFLOP/s'), '{:.0f}')} GFLOP/s "
             f"({6 * BATCH * _weights() / 1e6:.0f} MFLOP a step); stream "
             f"{stat(col('stream GB/s'), '{:.1f}')} GB/s (Adam: "
             f"{7 * 4 * _params() / 1e6:.0f} MB); bound {stat(col('bound ms'), '{:.2f}')} ms"]
    for name in ENGINES:
        lines.append(f"  {name:24s} {stat(col(name), '{:.2f}')} ms a step = "
                     f"{stat([r[name] / r['bound ms'] for r in rounds], '{:.2f}')}x the "
                     f"bound; per call {statistics.median(col(name + ' call')):.0f} ms")
    for engine in ("BLAS engine", "reproducible"):
        one, two = f"{engine}, 1 thread", f"{engine}, 2 threads"
        lines.append(f"  {engine}: two threads "
                     f"{stat([r[one] / r[two] for r in rounds], '{:.2f}')}x faster than one")
    lines.append("  reproducible vs BLAS engine, one thread: "
                 + stat([r["BLAS engine, 1 thread"] / r["reproducible, 1 thread"]
                         for r in rounds], "{:.2f}") + "x faster")
    return "\n".join(lines)


def test_flower_roofline(benchmark):
    benchmark.group = "flower-roofline"
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((1024, 1024)).astype(np.float32) for _ in range(2))
    a, b, c = (np.ones(_params(), np.float32) for _ in range(3))
    X = rng.uniform(-1, 1, (N, LAYERS[0]))
    rounds = []
    benchmark.pedantic(_round, args=((A, B, a, b, c, X), rounds), rounds=ROUNDS,
                       warmup_rounds=1)
    rounds = rounds[-ROUNDS:]  # not the warm-up (compiles, first touches)
    summary = _summary(rounds)
    print("\n" + summary)
