"""A small, obviously correct NumPy autoencoder: the yardstick for the Numba kernels.

Written for clarity, not speed: every layer stores its pre-activation Z, derivatives use Z
(not the output, as the kernels do), softmax backprop multiplies by its explicit Jacobian
matrix, and the optimizers are transcribed from the torch.optim documentation.
"""

from __future__ import annotations

import numpy as np


def act(name, z, slope=0.2):
    if name == "identity":
        return z
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        with np.errstate(over="ignore"):  # exp(800) = inf gives the right limit, 0
            return 1.0 / (1.0 + np.exp(-z))
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def act_backward(name, z, upstream, slope=0.2):
    """dL/dz given dL/da, from the derivative in terms of z."""
    if name == "identity":
        return upstream
    if name == "tanh":
        return upstream * (1.0 - np.tanh(z) ** 2)
    if name == "sigmoid":
        s = act("sigmoid", z)
        return upstream * s * (1.0 - s)
    if name == "relu":
        return upstream * (z > 0)
    if name == "leaky_relu":
        return upstream * np.where(z > 0, 1.0, slope)
    if name == "softmax":
        a = act("softmax", z)
        out = np.empty_like(upstream)
        for i in range(z.shape[0]):
            jac = np.diag(a[i]) - np.outer(a[i], a[i])  # J[j, k] = da_j / dz_k
            out[i] = jac.T @ upstream[i]
        return out
    raise ValueError(name)


def loss(name, a, y):
    if name == "mse":
        return np.mean((a - y) ** 2)
    la = np.maximum(np.log(a), -100.0)
    l1a = np.maximum(np.log(1.0 - a), -100.0)
    return -np.mean(y * la + (1 - y) * l1a)


def loss_grad(name, a, y):
    if name == "mse":
        return 2.0 * (a - y) / a.size
    return (a - y) / np.maximum(a * (1 - a), 1e-12) / a.size


def forward(Ws, bs, acts, X, slope=0.2):
    """Return the list of activations [A_0 = X, A_1, ...] and pre-activations [Z_0, ...]."""
    A, Z = [X], []
    for W, b, name in zip(Ws, bs, acts, strict=True):
        z = A[-1] @ W + b
        Z.append(z)
        A.append(act(name, z, slope))
    return A, Z


def gradients(Ws, bs, acts, lossname, X, Y, slope=0.2):
    A, Z = forward(Ws, bs, acts, X, slope)
    L = loss(lossname, A[-1], Y)
    d = loss_grad(lossname, A[-1], Y)
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for l in reversed(range(len(Ws))):
        dz = act_backward(acts[l], Z[l], d, slope)
        gW[l] = A[l].T @ dz
        gb[l] = dz.sum(axis=0)
        d = dz @ Ws[l].T
    return L, gW, gb


class SGD:
    def __init__(self, lr, momentum=0.0):
        self.lr, self.momentum, self.buf = lr, momentum, None

    def step(self, params, grads):
        if self.momentum:
            if self.buf is None:
                self.buf = [g.copy() for g in grads]
            else:
                self.buf = [self.momentum * b + g for b, g in zip(self.buf, grads, strict=True)]
            grads = self.buf
        for p, g in zip(params, grads, strict=True):
            p -= self.lr * g


class Adagrad:
    def __init__(self, lr, eps=1e-10):
        self.lr, self.eps, self.sums = lr, eps, None

    def step(self, params, grads):
        if self.sums is None:
            self.sums = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.sums, strict=True):
            s += g * g
            p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam:
    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = self.v = None
        self.t = 0

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m[:] = self.b1 * m + (1 - self.b1) * g
            v[:] = self.b2 * v + (1 - self.b2) * g * g
            mhat = m / (1 - self.b1**self.t)
            vhat = v / (1 - self.b2**self.t)
            p -= self.lr * mhat / (np.sqrt(vhat) + self.eps)


def make_optimizer(name, lr, momentum=0.0):
    return {"sgd": lambda: SGD(lr, momentum), "adagrad": lambda: Adagrad(lr),
            "adam": lambda: Adam(lr)}[name]()


def train(Ws, bs, acts, lossname, X, Y, epochs, batch_size, optimizer, lr, momentum=0.0,
          slope=0.2):
    """Unshuffled mini-batch training; returns the per-epoch losses (sample-weighted)."""
    opt = make_optimizer(optimizer, lr, momentum)
    params = [*Ws, *bs]
    history = []
    n = X.shape[0]
    for _ in range(epochs):
        total = 0.0
        for start in range(0, n, batch_size):
            xb, yb = X[start:start + batch_size], Y[start:start + batch_size]
            L, gW, gb = gradients(Ws, bs, acts, lossname, xb, yb, slope)
            total += L * len(xb)
            opt.step(params, [*gW, *gb])
        history.append(total / n)
    return np.array(history)
