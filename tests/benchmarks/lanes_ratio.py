"""Lanes engine speed-ups, measured as interleaved pairs (robust on a shared machine).

    python tests/benchmarks/lanes_ratio.py [repetitions]

The development machines are virtual and shared: their speed drifts by 10-40 % from one
minute to the next, which a benchmark timing each workload in its own block turns into
ratio noise. Here every repetition times all workloads back to back (font net, Adam, 400
epochs), each ratio is taken within one repetition, and the median and range over the
repetitions are printed. Workloads: the single-model engine (``Autoencoder.fit``, BLAS), the
lanes engine with one model (the reproducible solo mode), one group (8 float64 / 16 float32
lanes) and 64 models on one and on two cores.
"""

import statistics
import sys
import time

import numpy as np

from nbae import Autoencoder
from nbae.studies.ensemble import fit_many

LAYERS = [35, 25, 15, 5, 2]
N, BATCH, EPOCHS = 32, 5, 400
CFG = {"layers": LAYERS, "activation": "tanh", "output_activation": "sigmoid",
       "init": "xavier", "optimizer": "adam", "lr": 1e-4, "batch_size": BATCH}
STEPS = EPOCHS * -(-N // BATCH)


def _single(X, dtype):
    ae = Autoencoder(LAYERS, activation="tanh", output_activation="sigmoid", init="xavier",
                     dtype=dtype)
    t = time.perf_counter()
    ae.fit(X, epochs=EPOCHS, batch_size=BATCH, lr=1e-4, restore_best=False)
    return (time.perf_counter() - t) / STEPS * 1e6


def _lanes(X, dtype, models, cores):
    t = time.perf_counter()
    fit_many({**CFG, "dtype": dtype}, X, seeds=list(range(models)), epochs=EPOCHS,
             restore_best=False, n_jobs=cores, progress=False)
    return (time.perf_counter() - t) / (STEPS * models) * 1e6


def main(reps=5):
    X = (np.random.default_rng(0).random((N, LAYERS[0])) > 0.5).astype(np.float64)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  font net, Adam, {EPOCHS} epochs; "
          f"{reps} interleaved repetitions: median [min, max]")
    for dtype in ("float64", "float32"):
        group = 8 if dtype == "float64" else 16
        runs = {"single-model": lambda d=dtype: _single(X, d),
                "lanes, 1 model": lambda d=dtype: _lanes(X, d, 1, 1),
                f"lanes, {group} models": lambda d=dtype, g=group: _lanes(X, d, g, 1),
                "lanes, 64 models": lambda d=dtype: _lanes(X, d, 64, 1),
                "lanes, 64 models, 2 cores": lambda d=dtype: _lanes(X, d, 64, 2)}
        for f in runs.values():  # compile and warm up
            f()
        us = {k: [] for k in runs}
        for _ in range(reps):
            for k, f in runs.items():
                us[k].append(f())
        base = us["single-model"]
        print(f"{dtype}:")
        for k, v in us.items():
            ratio = [b / x for b, x in zip(base, v, strict=True)]
            print(f"  {k:28s} {statistics.median(v):7.2f} us per model-step   "
                  f"{statistics.median(ratio):5.2f}x [{min(ratio):.2f}, {max(ratio):.2f}] "
                  "the single-model engine")
        two = [a / b for a, b in zip(us["lanes, 64 models"], us["lanes, 64 models, 2 cores"],
                                     strict=True)]
        print(f"  two cores vs one (64 models): {statistics.median(two):.2f}x "
              f"[{min(two):.2f}, {max(two):.2f}]")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
