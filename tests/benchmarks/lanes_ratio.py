"""Lanes engine speed-ups, measured as interleaved pairs (robust on a shared machine).

    python tests/benchmarks/lanes_ratio.py [repetitions]
    pytest tests/benchmarks/test_lanes_ratio.py --benchmark-only -s   # the same, 5 repetitions

The development machines are virtual and shared: their speed drifts by 10-40 % from one
minute to the next, which a benchmark timing each workload in its own block turns into
ratio noise. Here every repetition times all workloads back to back (font net, Adam, 400
epochs), each ratio is taken within one repetition, and the median and range over the
repetitions are printed. Workloads: the single-model engine (``Autoencoder.fit``, BLAS), the
lanes engine with one model (the reproducible solo mode), one group (8 float64 / 16 float32
lanes) and 64 models on one and on two cores.

Each workload is timed twice per repetition, at 400 and at 40 epochs: "whole" is the
400-epoch call per model-step; "marginal" the extra time per extra model-step, the engine's
own rate without the fixed cost of a call (building 64 models, their histories and the tidy
frame: 60-70 ms, a tenth of a 400-epoch call of 64 float32 models on two cores).
"""

import statistics
import sys
import time

import numpy as np

from nbae import Autoencoder
from nbae.studies.ensemble import fit_many

LAYERS = [35, 25, 15, 5, 2]
N, BATCH, EPOCHS, SHORT = 32, 5, 400, 40
CFG = {"layers": LAYERS, "activation": "tanh", "output_activation": "sigmoid",
       "init": "xavier", "optimizer": "adam", "lr": 1e-4, "batch_size": BATCH}
STEPS = -(-N // BATCH)  # optimizer steps per epoch


def _single(X, dtype, epochs):
    ae = Autoencoder(LAYERS, activation="tanh", output_activation="sigmoid", init="xavier",
                     dtype=dtype)
    t = time.perf_counter()
    ae.fit(X, epochs=epochs, batch_size=BATCH, lr=1e-4, restore_best=False)
    return time.perf_counter() - t


def _lanes(X, dtype, models, cores, epochs):
    t = time.perf_counter()
    fit_many({**CFG, "dtype": dtype}, X, seeds=list(range(models)), epochs=epochs,
             restore_best=False, n_jobs=cores, progress=False)
    return time.perf_counter() - t


def _rates(f, models):
    """(whole call, marginal) microseconds per model-step of one repetition: the call of
    EPOCHS epochs, and the extra time per model-step over a call of SHORT epochs (the rate
    of the engine itself, without the per-call cost of building models and histories)."""
    whole, short = f(EPOCHS), f(SHORT)
    return (whole / (EPOCHS * STEPS * models) * 1e6,
            (whole - short) / ((EPOCHS - SHORT) * STEPS * models) * 1e6, short)


def _line(label, v, base):
    ratio = [b / x for b, x in zip(base, v, strict=True)]
    return (f"{label:>10s} {statistics.median(v):7.2f} us per model-step "
            f"{statistics.median(ratio):5.2f}x [{min(ratio):.2f}, {max(ratio):.2f}]")


def workloads(X, dtype):
    """{name: (f(epochs) -> seconds, models)} of one dtype, compiled and warmed up."""
    group = 8 if dtype == "float64" else 16
    runs = {"single-model": (lambda e: _single(X, dtype, e), 1),
            "lanes, 1 model": (lambda e: _lanes(X, dtype, 1, 1, e), 1),
            f"lanes, {group} models": (lambda e: _lanes(X, dtype, group, 1, e), group),
            "lanes, 64 models": (lambda e: _lanes(X, dtype, 64, 1, e), 64),
            "lanes, 64 models, 2 cores": (lambda e: _lanes(X, dtype, 64, 2, e), 64)}
    for f, _ in runs.values():  # compile and warm up
        f(SHORT)
    return runs


def repetition(runs, acc):
    """Time every workload once, back to back; append to ``acc`` (whole, marginal, fixed)."""
    for k, (f, models) in runs.items():
        w, m, short = _rates(f, models)
        acc["whole"].setdefault(k, []).append(w)
        acc["marginal"].setdefault(k, []).append(m)
        acc["fixed"].setdefault(k, []).append((short - m * 1e-6 * SHORT * STEPS * models) * 1e3)


def report(dtype, acc):
    whole, marginal, fixed = acc["whole"], acc["marginal"], acc["fixed"]
    lines = [f"{dtype}:"]
    for k in whole:
        lines.append(f"  {k:26s}" + _line("whole", whole[k], whole["single-model"]) + "  |"
                     + _line("marginal", marginal[k], marginal["single-model"])
                     + f"  | per call {statistics.median(fixed[k]):5.1f} ms")
    for name, us in (("whole", whole), ("marginal", marginal)):
        two = [a / b for a, b in zip(us["lanes, 64 models"], us["lanes, 64 models, 2 cores"],
                                     strict=True)]
        lines.append(f"  two cores vs one (64 models, {name}): {statistics.median(two):.2f}x "
                     f"[{min(two):.2f}, {max(two):.2f}]")
    return "\n".join(lines)


def header(reps):
    return (f"{time.strftime('%Y-%m-%d %H:%M')}  font net, Adam, {EPOCHS} epochs; "
            f"{reps} interleaved repetitions: median [min, max] of the ratio to the "
            "single-model engine, per call ('whole') and per extra model-step over a "
            f"{SHORT}-epoch call ('marginal')")


def data():
    return (np.random.default_rng(0).random((N, LAYERS[0])) > 0.5).astype(np.float64)


def main(reps=5):
    X = data()
    print(header(reps))
    for dtype in ("float64", "float32"):
        runs = workloads(X, dtype)
        acc = {"whole": {}, "marginal": {}, "fixed": {}}
        for _ in range(reps):
            repetition(runs, acc)
        print(report(dtype, acc))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
