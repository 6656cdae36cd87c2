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

# The same codes by name, for the kernels: Numba freezes module-level integers into the machine
# code as constants. (Cached kernels are keyed on their own source files: after changing a code
# here, clear nbae/engine/kernels/__pycache__.)
IDENTITY, TANH, SIGMOID, RELU, LEAKY_RELU, SOFTMAX = (
    ACTIVATIONS[a] for a in ("identity", "tanh", "sigmoid", "relu", "leaky_relu", "softmax"))
MSE, BCE = LOSSES["mse"], LOSSES["bce"]
SGD, ADAGRAD, ADAM = OPTIMIZERS["sgd"], OPTIMIZERS["adagrad"], OPTIMIZERS["adam"]
NOISE_NONE, NOISE_FLIP, NOISE_GAUSSIAN, NOISE_MASK = (
    NOISE_KINDS[k] for k in ("none", "flip", "gaussian", "mask"))

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
