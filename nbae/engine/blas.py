"""Pin the BLAS behind Numba's ``np.dot`` to one thread.

Numba calls SciPy's bundled OpenBLAS. Its threads help large products, but nbae's products are
small (a batch of 5-20 rows): measured here, a 20x1024 @ 1024x512 float32 product took 3.2 ms
with OpenBLAS's two threads on a busy 2-core machine and 0.37 ms on one. nbae therefore asks
SciPy's OpenBLAS for one thread when its kernels load; set ``NBAE_BLAS_THREADS`` to change it.
NumPy's own OpenBLAS (a separate library) is left alone.
"""

from __future__ import annotations

import ctypes
import glob
import os


def limit_scipy_blas_threads() -> int | None:
    """Set SciPy's OpenBLAS thread count; return the count set, or None if not found."""
    try:
        threads = int(os.environ.get("NBAE_BLAS_THREADS", "1"))
    except ValueError:
        threads = 1
    try:
        import scipy
        from scipy.linalg import cython_blas  # noqa: F401  (loads the library)
    except ImportError:
        return None
    libdir = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), "scipy.libs")
    done = None
    for path in glob.glob(os.path.join(libdir, "*openblas*.so*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads", "openblas_set_num_threads"):
            setter = getattr(lib, symbol, None)
            if setter is not None:
                setter(threads)
                done = threads
                break
    return done
