import os
import sys
from pathlib import Path

# the NumPy reference (tests/reference.py) is imported by tests and benchmarks alike
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# small products: BLAS threads only contend on the 2-core CI machines (NumPy reference too)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _sweeps_in_process(tmp_path_factory, monkeypatch):
    """Stage scripts run their sweeps serially into a throwaway store in tests (a local Dask
    cluster costs seconds to start; tests/test_sweep.py covers it and real schedulers)."""
    monkeypatch.setenv("NBAE_SCHEDULER", "serial")
    monkeypatch.setenv("NBAE_SWEEP_STORE", str(tmp_path_factory.mktemp("sweeps")))
