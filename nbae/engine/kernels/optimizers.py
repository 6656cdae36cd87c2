"""Optimizer updates: one fused pass over the flat parameter vector, ``torch.optim`` semantics.

Hyperparameters travel in a small array ``hp`` of the parameters' dtype, indexed by the
``HP_*`` constants below, so that float32 training does its arithmetic in float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from nbae.engine.codes import ADAGRAD, SGD
from nbae.engine.kernels.intrinsics import JIT_NP, cast_like

# Hyperparameter vector layout (``hp``).
HP_LR, HP_MOMENTUM, HP_BETA1, HP_BETA2, HP_EPS, HP_WEIGHT_DECAY = 0, 1, 2, 3, 4, 5
HP_SIZE = 6


@njit(**JIT_NP)
def optimizer_step(theta, grad, s1, s2, opt, hp, t):
    """Apply one update of optimizer ``opt`` at step ``t`` (1-based), in place.

    With g = grad + weight_decay * theta:
    SGD:      v = momentum v + g (v starts as g), theta -= lr v   (plain: theta -= lr g)
    Adagrad:  G += g^2, theta -= lr g / (sqrt(G) + eps)
    Adam:     m += (1 - b1)(g - m), v = b2 v + (1 - b2) g^2,
              theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    A non-finite parameter shows up as a non-finite loss at the next step (or in the
    caller's check after each call), so the loop carries no test of its own and vectorises.

    Parameters
    ----------
    theta : ndarray (n_params,)
        Parameters, updated in place.
    grad : ndarray (n_params,)
        Gradient of the mini-batch loss.
    s1, s2 : ndarray (n_params,)
        Optimizer state (momentum / Adagrad sum / Adam moments); ``s2`` is used by Adam only.
    opt : int
        SGD, ADAGRAD or ADAM.
    hp : ndarray (HP_SIZE,)
        Hyperparameters in theta's dtype, indexed by the HP_* constants.
    t : int
        Step number, 1-based (Adam's bias correction, SGD momentum's first step).
    """
    n = theta.size
    lr = hp[HP_LR]
    wd = hp[HP_WEIGHT_DECAY]
    if opt == SGD:
        mom = hp[HP_MOMENTUM]
        if mom == 0.0:
            for i in range(n):
                g = grad[i] + wd * theta[i]
                theta[i] -= lr * g
        else:
            for i in range(n):
                g = grad[i] + wd * theta[i]
                v = mom * s1[i] + g if t > 1 else g
                s1[i] = v
                theta[i] -= lr * v
    elif opt == ADAGRAD:
        eps = hp[HP_EPS]
        for i in range(n):
            g = grad[i] + wd * theta[i]
            s = s1[i] + g * g
            s1[i] = s
            theta[i] -= lr * g / (np.sqrt(s) + eps)
    else:
        b1 = hp[HP_BETA1]
        b2 = hp[HP_BETA2]
        eps = hp[HP_EPS]
        # per-step scalars in float64 (the bias corrections as PyTorch computes them on the
        # host), then cast to theta's type so that the loop below stays in that type
        omb1 = cast_like(theta, 1.0 - b1)
        omb2 = cast_like(theta, 1.0 - b2)
        step = cast_like(theta, lr / (1.0 - np.float64(b1) ** t))
        inv_bc2 = cast_like(theta, 1.0 / np.sqrt(1.0 - np.float64(b2) ** t))
        for i in range(n):
            g = grad[i] + wd * theta[i]
            m = s1[i] + omb1 * (g - s1[i])
            v = b2 * s2[i] + omb2 * g * g
            s1[i] = m
            s2[i] = v
            theta[i] -= step * m / (np.sqrt(v) * inv_bc2 + eps)

