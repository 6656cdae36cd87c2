"""Numeric matrices from ``.npy`` and ``.csv`` files: training data, latent codes, inputs.

Problems raise :class:`~nbae.errors.InputError` naming the file.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from nbae.errors import InputError
from nbae.fileio import NPY_LOAD_ERRORS

MATRIX_SUFFIXES = (".npy", ".csv")



def numeric_matrix(arr, path, width: int | None = None) -> np.ndarray:
    arr = np.asarray(arr)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
            or arr.dtype == bool):
        raise InputError(f"{path}: holds {arr.dtype} values, not numbers")
    if arr.ndim == 1 and (width is None or arr.size == width):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise InputError(f"{path}: expected a 2-D matrix (rows x values), got shape {arr.shape}")
    if width is not None and arr.shape[1] != width:
        raise InputError(f"{path}: rows have {arr.shape[1]} values but the model expects {width}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{path}: holds NaN or infinite values")
    return arr


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(source, name=None, prefer: str | None = None):
    """Read a CSV matrix: ``(values (n, k), column names, labels or None)``.

    ``source`` is a path or an open text stream. A header row is recognised by a non-numeric
    cell; a column with non-numeric entries (or named ``label``) gives the labels. With
    ``prefer="z"`` only the columns ``z0, z1, ...`` are used when the header has them, so a
    file written by ``nbae encode`` reads back as codes.
    """
    name = name or str(source)
    if isinstance(source, (str, Path)):
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{source}: cannot read ({exc.strerror or exc})") from None
    else:
        text = source.read()
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{name}: empty CSV file")
    header = None
    if not all(is_number(c) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise InputError(f"{name}: CSV file has a header but no rows")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise InputError(f"{name}: row {i + 1} has {len(r)} cells, the first has {width}")
    header = header or [str(j) for j in range(width)]
    if len(header) != width:
        raise InputError(f"{name}: header has {len(header)} names but rows have {width} cells")
    numeric = [j for j in range(width)
               if header[j].lower() != "label" and all(is_number(r[j]) for r in rows)]
    text_cols = [j for j in range(width) if j not in numeric]
    if len(text_cols) > 1:
        cols = ", ".join(header[j] for j in text_cols)
        raise InputError(f"{name}: more than one non-numeric column ({cols})")
    if prefer:
        wanted = [j for j in numeric if re.fullmatch(rf"{prefer}\d+", header[j])]
        numeric = wanted or numeric
    if not numeric:
        raise InputError(f"{name}: no numeric columns")
    values = np.array([[float(r[j]) for j in numeric] for r in rows], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise InputError(f"{name}: holds NaN or infinite values")
    labels = [r[text_cols[0]].strip() for r in rows] if text_cols else None
    return values, [header[j] for j in numeric], labels


def load_matrix(path, width: int | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Rows of a ``.npy`` or ``.csv`` file as float64 ``(n, width)``, plus CSV labels if any."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except NPY_LOAD_ERRORS as exc:  # a damaged header fails in many ways (fileio)
            msg = " ".join(str(exc).split())
            raise InputError(f"{path}: not a readable .npy file ({msg})") from None
        return numeric_matrix(arr, path, width), None
    if suffix == ".csv":
        values, _, labels = read_table(path)
        return numeric_matrix(values, path, width), labels
    raise InputError(f"{path}: unsupported matrix file type {suffix!r} (use .npy or .csv)")


