"""The lanes engine against the single-model engine, as a pytest-benchmark run.

    pytest tests/benchmarks/test_lanes_ratio.py --benchmark-only -s

``lanes_ratio.py``'s workloads and summary (see there): each benchmark round is one
repetition that times every workload back to back, so every ratio is taken within a round;
the printed summary is the median [min, max] over the rounds.
"""

import lanes_ratio as lr
import pytest

REPS = 5


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanes_ratio(benchmark, dtype):
    benchmark.group = "lanes-ratio"
    runs = lr.workloads(lr.data(), dtype)
    acc = {"whole": {}, "marginal": {}, "fixed": {}}
    benchmark.pedantic(lr.repetition, args=(runs, acc), rounds=REPS, warmup_rounds=0)
    print("\n" + lr.header(REPS) + "\n" + lr.report(dtype, acc))
