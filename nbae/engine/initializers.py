"""Weight initialisation schemes. Biases always start at zero.

- ``scaled-uniform``: W_l ~ U(0, 1) / sqrt(l + 1) for the l-th weight matrix of the whole
  network (l = 0, 1, ...), the scheme of the original font study. All weights are positive,
  shrinking with depth.
- ``xavier`` (Glorot uniform): U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
- ``xavier-normal``: N(0, 2 / (fan_in + fan_out)).
- ``he`` (Kaiming normal): N(0, 2 / fan_in), for ReLU-family layers.
- ``he-uniform``: U(-a, a), a = sqrt(6 / fan_in).
"""

from __future__ import annotations

import numpy as np

from nbae.engine.codes import init_name


def init_weight(scheme: str, layer: int, fan_in: int, fan_out: int,
                rng: np.random.Generator) -> np.ndarray:
    """Draw one (fan_in, fan_out) float64 weight matrix for weight layer ``layer``."""
    scheme = init_name(scheme)
    shape = (fan_in, fan_out)
    if scheme == "scaled-uniform":
        return rng.random(shape) / np.sqrt(layer + 1)
    if scheme == "xavier":
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, shape)
    if scheme == "xavier-normal":
        return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), shape)
    if scheme == "he":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    a = np.sqrt(6.0 / fan_in)  # he-uniform
    return rng.uniform(-a, a, shape)
