"""The single-model font step against PyTorch, in interleaved rounds.

    pytest tests/benchmarks/test_font_ratio.py --benchmark-only -s

``test_speed.py`` times nbae and PyTorch in separate tests, one after the other; on a shared
machine a load change between them becomes a ratio change (PyTorch's own rate was seen to
vary 320-630 steps/s between runs). Here each round trains nbae (float64, float32) and
PyTorch (float32, one thread) back to back on ``test_speed``'s font workload (35-25-15-5-2
mirrored, batch 5, Adam), and the ratio of steps per second is taken within the round; the
summary prints the median [min, max] over the rounds.
"""

import statistics
import time

import pytest
import test_speed as ts

ROUNDS = 7


def _nbae(name, dtype):
    X = ts._data(name)
    ae = ts._model(name, dtype)
    batch, epochs = ts.WORKLOADS[name][2], ts.WORKLOADS[name][3]
    ae.fit(X, epochs=2, batch_size=batch, lr=1e-4, restore_best=False)  # compile / load

    def run():
        t = time.perf_counter()
        ae.fit(X, epochs=epochs, batch_size=batch, lr=1e-4, restore_best=False)
        return ts._steps(name, epochs) / (time.perf_counter() - t)
    return run


def _pytorch(torch, name):
    train = ts.pytorch_run(torch, name)
    train()  # warm-up

    def run():
        t = time.perf_counter()
        train()
        return ts._steps(name, ts.WORKLOADS[name][4]) / (time.perf_counter() - t)
    return run


def test_font_vs_pytorch(benchmark):
    torch = pytest.importorskip("torch")
    benchmark.group = "font-ratio"
    runs = {"nbae float64": _nbae("font", "float64"), "nbae float32": _nbae("font", "float32"),
            "pytorch float32": _pytorch(torch, "font")}
    rates = {k: [] for k in runs}

    def round_():
        for k, f in runs.items():
            rates[k].append(f())

    benchmark.pedantic(round_, rounds=ROUNDS, warmup_rounds=0)
    base = rates["pytorch float32"]
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}  font step (35-25-15-5-2 mirrored, batch 5, "
          f"Adam); {ROUNDS} interleaved rounds: steps/s (median) and the ratio to PyTorch "
          "float32 within each round, median [min, max]")
    for k, v in rates.items():
        r = [a / b for a, b in zip(v, base, strict=True)]
        print(f"  {k:16s} {statistics.median(v):9.0f} steps/s  {statistics.median(r):6.1f}x "
              f"[{min(r):.1f}, {max(r):.1f}]")
