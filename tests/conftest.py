import os
import sys
from pathlib import Path

# the NumPy reference (tests/reference.py) is imported by tests and benchmarks alike
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# small products: BLAS threads only contend on the 2-core CI machines (NumPy reference too)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
