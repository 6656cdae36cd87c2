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


def optimizer_settings(optimizer, lr, momentum, betas, eps, weight_decay):
    """(name, lr, momentum, beta1, beta2, eps, weight_decay) checked as every fit checks them
    (Autoencoder.fit, the VAE's fit and the lanes engine share these rules and messages)."""
    from nbae.engine import codes as C

    opt = C.optimizer_name(optimizer)
    lr = positive("lr", lr)
    momentum = positive("momentum", momentum, allow_zero=True)
    if momentum >= 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if opt != "sgd" and momentum:
        raise ValueError(f"momentum applies to optimizer 'sgd' only, not {opt!r}")
    try:
        b1, b2 = (float(b) for b in betas)
    except (TypeError, ValueError):
        raise ValueError(f"betas must be two numbers, got {betas!r}") from None
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
    eps = (1e-10 if opt == "adagrad" else 1e-8) if eps is None else positive("eps", eps)
    weight_decay = positive("weight_decay", weight_decay, allow_zero=True)
    return opt, lr, momentum, b1, b2, eps, weight_decay
