"""VAE/autoencoder and reproducible/default VAE step-time ratios, interleaved (robust on a
busy machine).

    PYTHONPATH=. python tests/benchmarks/vae_ratio.py [rounds]

pytest-benchmark times one test after the other, so on a shared machine a load change between
two tests shows up as a speed difference. Here every round trains the autoencoder and then the
VAE (same widths, data, optimizer and epochs as ``test_vae_speed.py``) back to back, and the
median over rounds of the per-round time ratio is printed, with its interquartile range.
"""

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # test_speed imports tests/reference.py

from test_speed import WORKLOADS, _data, _model  # noqa: E402
from test_vae_speed import _vae  # noqa: E402


def ratios(name, dtype, rounds):
    X = _data(name)
    batch, epochs = WORKLOADS[name][2], WORKLOADS[name][3]
    # the autoencoder, the VAE, and the VAE in the reproducible arithmetic
    runs = [(_model(name, dtype), {}), (_vae(name, dtype), {}),
            (_vae(name, dtype), {"reproducible": True})]
    for m, kw in runs:  # compile / load from cache outside the timings
        m.fit(X, epochs=1, batch_size=batch, restore_best=False, **kw)
    out = []
    for _ in range(rounds):
        t = []
        for m, kw in runs:
            t0 = time.perf_counter()
            m.fit(X, epochs=epochs, batch_size=batch, lr=1e-4, restore_best=False, **kw)
            t.append(time.perf_counter() - t0)
        out.append((t[1] / t[0], t[2] / t[1]))
    return np.array(out)


def main(rounds=15):
    print("VAE step time / autoencoder step time, and reproducible / default VAE step time "
          "(interleaved rounds)")
    for name in WORKLOADS:
        for dtype in ("float64", "float32"):
            r = ratios(name, dtype, rounds)
            for col, what in enumerate(("VAE / autoencoder", "reproducible VAE / VAE")):
                q1, med, q3 = np.percentile(r[:, col], [25, 50, 75])
                print(f"  {name:7s} {dtype} {what:24s}: median {med:.3f}x  "
                      f"(IQR {q1:.3f}-{q3:.3f}, {rounds} rounds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
