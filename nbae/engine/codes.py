"""Names and integer codes of activations, losses, optimizers and noise kinds.

Kernels select behaviour by small integer codes rather than by receiving functions: passing
jitted functions as arguments defeats Numba's on-disk cache. This module imports no Numba, so
the command line can validate names without paying for the JIT.
"""

from __future__ import annotations

ACTIVATIONS = {
    "identity": 0,
    "tanh": 1,
    "sigmoid": 2,
    "relu": 3,
    "leaky_relu": 4,
    "softmax": 5,
}
# Spellings users reach for; normalised to the names above.
ACTIVATION_ALIASES = {"linear": "identity", "none": "identity", "logistic": "sigmoid",
                      "leaky-relu": "leaky_relu", "leakyrelu": "leaky_relu"}

LOSSES = {"mse": 0, "bce": 1}
OPTIMIZERS = {"sgd": 0, "adagrad": 1, "adam": 2}
NOISE_KINDS = {"none": 0, "flip": 1, "gaussian": 2, "mask": 3}
INITS = ("scaled-uniform", "xavier", "xavier-normal", "he", "he-uniform")

# Kernel status codes returned by the training loop.
STATUS_OK = 0
STATUS_EARLY_STOP = 1
STATUS_NONFINITE = 2


def _lookup(kind: str, name, table, aliases=None) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{kind} must be a name (one of {', '.join(table)}), got {name!r}")
    key = name.strip().lower()
    if aliases:
        key = aliases.get(key, key)
    if key not in table:
        raise ValueError(f"unknown {kind} {name!r}; choose one of: {', '.join(table)}")
    return key


def activation_name(name) -> str:
    return _lookup("activation", name, ACTIVATIONS, ACTIVATION_ALIASES)


def loss_name(name) -> str:
    return _lookup("loss", name, LOSSES)


def optimizer_name(name) -> str:
    return _lookup("optimizer", name, OPTIMIZERS)


def noise_name(name) -> str:
    return _lookup("noise kind", name, NOISE_KINDS)


def init_name(name) -> str:
    return _lookup("init", name, {k: i for i, k in enumerate(INITS)})
