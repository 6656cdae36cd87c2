"""Run the compiled kernels with one BLAS thread, scoped to the kernel calls (threadpoolctl).

Numba's ``np.dot`` calls SciPy's bundled OpenBLAS. Its threads help large products, but nbae's
products are small (a batch of 5-20 rows): measured here, a 20x1024 @ 1024x512 float32 product
took 3.2 ms with OpenBLAS's two threads on a busy 2-core machine and 0.37 ms on one. Training and
prediction therefore run inside :func:`blas_threads`, which lowers the BLAS thread count for the
duration of the call and restores it afterwards; nothing changes at import time and user code
between calls (metrics, callbacks) keeps its own setting. ``NBAE_BLAS_THREADS`` sets the count
(default 1; ``0`` or a non-integer leaves the libraries alone).
"""

from __future__ import annotations

import contextlib
import os

_controller = None


def _blas_libraries():
    """threadpoolctl's view of the loaded BLAS libraries, built once (a scan costs ~2 ms)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        try:  # the library Numba's np.dot calls: make sure it is loaded before the scan
            from scipy.linalg import cython_blas  # noqa: F401
        except ImportError:
            pass
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def blas_thread_count() -> int | None:
    """The thread count the kernels run with, from ``NBAE_BLAS_THREADS`` (None: no limit)."""
    try:
        threads = int(os.environ.get("NBAE_BLAS_THREADS", "1"))
    except ValueError:
        return None
    return threads if threads > 0 else None


@contextlib.contextmanager
def blas_threads():
    """Limit the BLAS libraries to :func:`blas_thread_count` threads inside the ``with`` block.

    threadpoolctl's ``limit()`` re-reads every library's state and costs ~30-60 us a call, as
    much as a small ``encode``; this touches only the libraries whose count differs (none in a
    nested call) and restores exactly those.
    """
    threads = blas_thread_count()
    changed = []
    if threads is not None:
        for lib in _blas_libraries().lib_controllers:
            before = lib.num_threads
            if before != threads:
                lib.set_num_threads(threads)
                changed.append((lib, before))
    try:
        yield
    finally:
        for lib, before in changed:
            lib.set_num_threads(before)
