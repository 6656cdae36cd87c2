"""Where a lanes model-step goes, phase by phase, against the machine's measured limits.

    pytest tests/benchmarks/test_lanes_phases.py --benchmark-only -s

The font net (35-25-15-5-2 mirrored, batch 5, Adam) in one group of 8 (float64) or 16
(float32) lanes. Every round times, back to back: the dense forward (the network with every
activation set to identity: products and biases), the whole forward, the loss and backward
pass, the Adam update, the single-model engine's step (extra time per extra step of a long
over a short ``Autoencoder.fit`` call), and two limits of the core: its vector FMA rate (ten
independent fma chains) and its vector rate of one square root plus one division per value
(torch's Adam needs both, correctly rounded, for every parameter; x86 cores run both on one
divider unit). Printed: microseconds per model-step (median [min, max] over the rounds), the
dense phases' share of the FMA peak, and Adam's floor (parameters x the measured sqrt+div
time per value), which bounds the ratio to the single-model engine whatever the products do.
"""

import statistics
import time

import lanes_ratio as lr
import numpy as np
import pytest
from numba import njit
from test_lanes_speed import _fma_chains  # the same peak loop as the lanes benchmark

from nbae import Autoencoder
from nbae.engine.lanes import kernels as lk
from nbae.engine.lanes.simd import (
    aligned_zeros,
    native_width,
    register_lanes,
    vadd,
    vdiv,
    vload,
    vmul,
    vsqrt,
    vstore,
    vzero,
)

B = lr.BATCH
ROUNDS = 5
REPEAT = 2000  # model-steps of a group per timed call


@njit(nogil=True, error_model="numpy")
def _forward(n, theta, sizes, w_off, b_off, a_off, acts, slope, buf, lanes):
    for _ in range(n):
        lk.forward_lanes(theta, sizes, w_off, b_off, a_off, acts, slope, buf, B, lanes)


@njit(nogil=True, error_model="numpy")
def _backward(n, theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, y, total,
              lanes):
    L = acts.size
    for _ in range(n):
        lk.loss_lanes(buf, a_off[L], y, d1, B, sizes[L], 0, total, lanes)
        lk.backward_lanes(theta, grad, sizes, w_off, b_off, a_off, acts, slope, buf, d1, d2, B,
                          lanes)


@njit(nogil=True, error_model="numpy")
def _adam(n, theta, grad, s1, s2, hp, lanes):
    for t in range(n):
        lk.optimizer_lanes(theta, grad, s1, s2, 2, hp, 10 + t % 7, lanes)


@njit(nogil=True, error_model="numpy")
def _sqrt_div(n, m, v, out):
    """n passes of out = m / (sqrt(v) * c + eps) over whole registers: Adam's divider work."""
    reg = register_lanes(v)
    c = vadd(vzero(v, reg), vload(v, 0, reg))
    for _ in range(n):
        for i in range(0, v.size, len(reg)):
            d = vadd(vmul(vsqrt(vload(v, i, reg)), c), c)
            vstore(out, i, vdiv(vload(m, i, reg), d))


class _Group:
    """One group's arrays (model-major parameter layout: parameter p of lane k at p * W + k)."""

    def __init__(self, dtype):
        self.dt = np.dtype(dtype)
        self.W = 2 * native_width(dtype)
        self.lanes = (0,) * self.W
        ae = Autoencoder(lr.LAYERS, activation="tanh", output_activation="sigmoid",
                         init="xavier", dtype=dtype)
        # the single-model layout of the model (private: a benchmark of the kernels)
        self.sizes, self.w_off, self.b_off, self.acts = ae._sizes, ae._w_off, ae._b_off, ae._acts
        self.identity = np.zeros_like(self.acts)
        self.P = ae.n_params
        self.macs = B * sum(a * b for a, b in zip(ae.sizes[:-1], ae.sizes[1:], strict=True))
        # weight gradients of every layer, input gradients of all but the first
        self.backward_flops = 4 * self.macs - 2 * B * ae.sizes[0] * ae.sizes[1]
        W, P, dt = self.W, self.P, self.dt
        rng = np.random.default_rng(0)
        self.a_off = (np.cumsum([0] + [B * s for s in ae.sizes[:-1]]) * W).astype(np.int64)
        self.theta = aligned_zeros(1, P * W, dt)[0]
        self.theta[:] = np.repeat(ae._theta, W) * (1 + 0.01 * rng.standard_normal(P * W))
        self.grad, self.s1, self.s2 = (aligned_zeros(1, P * W, dt)[0] for _ in range(3))
        self.buf = aligned_zeros(1, int(self.a_off[-1]) + B * ae.sizes[-1] * W, dt)[0]
        self.buf[:B * lr.LAYERS[0] * W] = rng.random(B * lr.LAYERS[0] * W) > 0.5
        self.y = self.buf[:B * lr.LAYERS[0] * W].copy()
        self.d1, self.d2 = (aligned_zeros(1, B * max(ae.sizes) * W, dt)[0] for _ in range(2))
        self.total = np.zeros(W, dt)
        self.hp = np.zeros((lk.HP_SIZE, W), dt)
        for row, value in ((lk.HP_LR, 1e-4), (lk.HP_BETA1, 0.9), (lk.HP_BETA2, 0.999),
                           (lk.HP_EPS, 1e-8)):
            self.hp[row] = value
        self.slope = dt.type(0.2)
        # a trained-looking optimizer state: the divider's speed does not depend on values,
        # but zeros would let sqrt(0) shortcuts flatter it on some cores
        self.s2[:] = np.abs(rng.standard_normal(P * W)) * 1e-6
        self.x = np.full(2 * native_width(dtype), 1e-9, dt)
        self.q = np.abs(rng.standard_normal(P * W)).astype(dt) + 0.5

    def phases(self):
        """{phase: f() -> seconds of REPEAT group steps (or of the machine-limit loop)}."""
        g, n = self, REPEAT
        fwd = (g.theta, g.sizes, g.w_off, g.b_off, g.a_off)

        def timed(f, *args):
            def run():
                t = time.perf_counter()
                f(*args)
                return time.perf_counter() - t
            return run
        return {
            "dense forward": timed(_forward, n, *fwd, g.identity, g.slope, g.buf, g.lanes),
            "forward": timed(_forward, n, *fwd, g.acts, g.slope, g.buf, g.lanes),
            "loss + backward": timed(_backward, n, g.theta, g.grad, g.sizes, g.w_off, g.b_off,
                                     g.a_off, g.acts, g.slope, g.buf, g.d1, g.d2, g.y,
                                     g.total, g.lanes),
            "adam": timed(_adam, n, g.theta, g.grad, g.s1, g.s2, g.hp, g.lanes),
            "fma peak": timed(_fma_chains, g.x, 1_000_000, (0,) * native_width(g.dt)),
            "sqrt+div": timed(_sqrt_div, 200, g.q, g.q, g.s2 * 0 + g.q),
        }


def _single_step(X, dtype):
    """The single-model engine's microseconds per step: extra time per extra step."""
    long, short = lr._single(X, dtype, lr.EPOCHS), lr._single(X, dtype, lr.SHORT)
    return (long - short) / ((lr.EPOCHS - lr.SHORT) * lr.STEPS) * 1e6


def _round(g, phases, X, acc):
    for name, f in phases.items():
        acc.setdefault(name, []).append(f())
    acc.setdefault("single", []).append(_single_step(X, g.dt.name))


def _summary(g, acc):
    W, n = g.W, REPEAT
    per = {k: [s / (n * W) * 1e6 for s in acc[k]] for k in
           ("dense forward", "forward", "loss + backward", "adam")}
    per["activations"] = [f - d for f, d in zip(per["forward"], per["dense forward"],
                                                 strict=True)]
    vw = native_width(g.dt)
    peak = [1_000_000 * 10 * vw * 2 / s / 1e9 for s in acc["fma peak"]]  # GFLOP/s
    divider = [s / (200 * g.P * W) * 1e9 for s in acc["sqrt+div"]]  # ns per value
    step = [a + b + c for a, b, c in zip(per["forward"], per["loss + backward"], per["adam"],
                                         strict=True)]
    single = acc["single"]

    def med(v):
        return f"{statistics.median(v):6.2f} [{min(v):.2f}, {max(v):.2f}]"
    lines = [f"{time.strftime('%Y-%m-%d %H:%M')}  {g.dt.name}, one group of {W} lanes, font "
             f"net, Adam; us per model-step, median [min, max] of {len(step)} rounds",
             f"  machine: vector fma peak {statistics.median(peak):.1f} GFLOP/s one core; "
             f"sqrt + division {statistics.median(divider):.2f} ns per value",
             f"  single-model engine step     {med(single)}"]
    for name, flops in (("dense forward", 2 * g.macs), ("activations", 0),
                        ("loss + backward", g.backward_flops), ("adam", 0)):
        v = per[name]
        share = (f"  {flops / statistics.median(v) / 1e3 / statistics.median(peak):4.0%} of "
                 "the fma peak" if flops else "")
        lines.append(f"  {name:28s} {med(v)}{share}")
    floor = [d * g.P / 1e3 for d in divider]
    ratio = [s / t for s, t in zip(single, step, strict=True)]
    lines += [f"  lanes step (sum)             {med(step)}  = {statistics.median(ratio):.2f}x "
              "the single-model engine",
              f"  adam's divider floor         {med(floor)}  ({g.P} parameters): 4x the "
              f"single-model engine leaves {statistics.median(single) / 4:.2f} us for a whole "
              "model-step"]
    return "\n".join(lines)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lanes_phases(benchmark, dtype):
    benchmark.group = "lanes-phases"
    g = _Group(dtype)
    X = lr.data()
    phases = g.phases()
    acc = {}
    _round(g, phases, X, acc)  # compile and warm up
    acc.clear()
    benchmark.pedantic(_round, args=(g, phases, X, acc), rounds=ROUNDS, warmup_rounds=0)
    print("\n" + _summary(g, acc))
