"""VAE/autoencoder step-time ratio with interleaved rounds (robust on a busy machine).

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
    models = [_model(name, dtype), _vae(name, dtype)]
    for m in models:  # compile / load from cache outside the timings
        m.fit(X, epochs=1, batch_size=batch, restore_best=False)
    out = []
    for _ in range(rounds):
        t = []
        for m in models:
            t0 = time.perf_counter()
            m.fit(X, epochs=epochs, batch_size=batch, lr=1e-4, restore_best=False)
            t.append(time.perf_counter() - t0)
        out.append(t[1] / t[0])
    return np.array(out)


def main(rounds=15):
    print("VAE step time / autoencoder step time (interleaved rounds)")
    for name in WORKLOADS:
        for dtype in ("float64", "float32"):
            r = ratios(name, dtype, rounds)
            q1, med, q3 = np.percentile(r, [25, 50, 75])
            print(f"  {name:7s} {dtype}: median {med:.3f}x  (IQR {q1:.3f}-{q3:.3f}, "
                  f"{rounds} rounds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
