"""How long the default font study (8 architectures x 10 seeds) takes on this machine.

    python tests/benchmarks/font_study_time.py [FRACTION]

Runs the study of config/font.yaml -- every architecture, every seed of train_font.seeds, on
the lanes engine through the default local Dask cluster -- with every epoch count scaled by
FRACTION (default 0.05: 3,000 epochs, 7,500 for architecture 7), into a throwaway result
store, and prints the wall time, the model-steps per second and the time the full study would
take at that rate (the work is proportional to the epochs). A benchmark, not a test: machines
differ, and so does what else runs on them.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(fraction: float = 0.05) -> None:
    from nbae.studies import font as fst
    from nbae.studies import font_sweep as fsw
    from nbae.studies.font_data import load_font_set
    from nbae.studies.params import load_params
    from nbae.studies.sweep import run_sweep

    params = load_params(ROOT / "config/font.yaml")
    tp = fst.train_params(params)
    table = dict(fst.arch_config(params, key) for key in fst.architectures(params))
    data = load_font_set(ROOT / "data/font/font.npz")
    n = data.X.shape[0]
    full = sum(len(tp["seeds"]) * cfg["epochs"] * math.ceil(n / cfg["batch_size"])
               for cfg in table.values())
    scaled = {k: {**cfg, "epochs": max(1, round(cfg["epochs"] * fraction))}
              for k, cfg in table.items()}
    steps = sum(len(tp["seeds"]) * cfg["epochs"] * math.ceil(n / cfg["batch_size"])
                for cfg in scaled.values())
    tasks = fsw.font_tasks(scaled, data, tp["seeds"], tp["metric_every"], tp["max_wrong"])
    with tempfile.TemporaryDirectory() as store:
        t0 = time.perf_counter()
        run_sweep(tasks, store=store, progress=False)
        seconds = time.perf_counter() - t0
    print(f"{len(table)} architectures x {len(tp['seeds'])} seeds at {fraction:g} of the "
          f"epochs: {steps / 1e6:.2f} M model-steps in {seconds:.1f} s "
          f"({seconds / steps * 1e6:.2f} us per model-step, all workers together)")
    print(f"full study: {full / 1e6:.1f} M model-steps, about {full / steps * seconds / 60:.1f}"
          f" minutes at this rate (goal: 2 minutes)")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.05)
