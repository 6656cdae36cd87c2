"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or Ctrl-C never leaves a half-written output behind, and readers (DVC, other
processes) only ever see a complete file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from tokenize import TokenError

# What NumPy's .npy/.npz readers raise on a damaged or hostile file: I/O and format errors, a bad
# zip or deflate stream, and -- from a header that reaches its literal parser -- SyntaxError,
# tokenize's TokenError, TypeError (header keys that do not sort: found by the fuzz tests),
# KeyError, and the parser's limits on nesting.
NPY_LOAD_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, SyntaxError, TokenError,
                   zipfile.BadZipFile, zlib.error, RecursionError, MemoryError)


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    ``suffix`` defaults to the target's own suffix so that libraries choosing a format from
    the file name (matplotlib, Pillow, ``np.save``) behave as for the real name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix,
        dir=path.parent,
    )
    os.close(fd)
    # mkstemp makes owner-only files; give outputs the usual umask-derived mode instead
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj, indent: int = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent, sort_keys=False, allow_nan=False) + "\n")


def write_csv(path, frame, **kwargs) -> None:
    """Write a pandas DataFrame as CSV (no index by default)."""
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **kwargs)


def save_npy(path, array) -> None:
    import numpy as np

    with atomic_path(path) as tmp:
        np.save(tmp, array)


def save_figure(fig, path, dpi: int = 120) -> None:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
