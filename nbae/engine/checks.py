"""Argument checks of the Autoencoder API: one-line ValueErrors naming the argument."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def as_int_list(name, values, minimum=1):
    """``values`` as a list of ints >= ``minimum`` (layer widths)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list of integers, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            raise ValueError(f"{name} must hold integers >= {minimum}, got {list(values)!r}")
        out.append(int(v))
    return out


def check_matrix(name, X, width, dtype):
    """``X`` as a finite C-contiguous (samples, ``width``) array of ``dtype``.

    A 1-D array of ``width`` values is taken as one row.
    """
    X = np.asarray(X)
    if X.ndim == 1 and width is not None and X.size == width:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (samples x features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if width is not None and X.shape[1] != width:
        raise ValueError(f"{name} has {X.shape[1]} columns but the model expects {width}")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} holds non-finite values (first at row {bad[0]}, "
                         f"column {bad[1]})")
    return X


def positive(name, value, allow_zero=False):
    """``value`` as a finite float > 0 (or >= 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def count(name, value, minimum):
    """``value`` as an int >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
