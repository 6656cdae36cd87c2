"""Train many same-shaped autoencoders at once, deterministically: one model per SIMD lane.

``fit_many(config, X, seeds=[...])`` trains one model per seed (or per ``overrides`` entry)
with the kernels of ``nbae.lanes_kernels`` and returns the trained
:class:`~nbae.model.Autoencoder` objects and one tidy history DataFrame. Every model's weights
are bit-identical to ``fit_reproducible(Autoencoder(..., seed=s), X, ...)`` -- training alone
-- and to its weights in any other group, on any x86-64 machine with the same package
versions: no BLAS, fixed summation orders, own transcendental functions (see
``nbae.lanes_kernels``). Model ``j`` starts from ``Autoencoder(**config, seed=s_j)``'s initial
weights and draws its shuffles and input noise from the stream ``Autoencoder.fit`` would use.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from nbae.engine import codes as C
from nbae.engine.checks import optimizer_settings
from nbae.engine.model import (
    _CHUNK_SECONDS,
    TrainingDiverged,
    _check_matrix,
    _count,
    _metric_values,
    _positive,
)

# Per-model training settings; the others must agree across the models of one call.
LANE_KEYS = ("lr", "momentum", "betas", "eps", "weight_decay", "restore_best", "patience",
             "min_delta", "input_noise")
SHARED_KEYS = ("epochs", "batch_size", "optimizer", "shuffle", "epoch_loss")
_WIDTHS = (1, 4, 8, 16)  # each width is compiled once (and cached)
_MAX_WIDTH = {"float64": 8, "float32": 16}  # two AVX2 registers (one AVX-512 register)
_STOP = {C.STATUS_OK: "completed", C.STATUS_EARLY_STOP: "early_stop",
         C.STATUS_NONFINITE: "diverged"}


def _k():
    from nbae.engine.lanes import kernels as lanes_kernels
    from nbae.engine.lanes import train as lanes_train  # compiled/loaded on first use

    return lanes_kernels, lanes_train


def _settings(ae, X, Y, epochs=1000, batch_size=5, optimizer="adam", lr=1e-3, shuffle=True,
              momentum=0.0, betas=(0.9, 0.999), eps=None, weight_decay=0.0, restore_best=True,
              patience=None, min_delta=0.0, input_noise=None, epoch_loss="running"):
    """Validated training settings of one model, with Autoencoder.fit's rules and messages."""
    X = _check_matrix("X", X, ae.input_dim, ae.dtype)
    Y = ae._targets(X, Y)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    opt, lr, momentum, b1, b2, eps, weight_decay = optimizer_settings(
        optimizer, lr, momentum, betas, eps, weight_decay)
    if epoch_loss not in ("running", "full"):
        raise ValueError(f"epoch_loss must be 'running' or 'full', got {epoch_loss!r}")
    return X, Y, {
        "epochs": _count("epochs", epochs, 0), "batch_size": _count("batch_size", batch_size, 1),
        "optimizer": opt, "lr": lr, "shuffle": bool(shuffle), "momentum": momentum,
        "betas": [b1, b2], "eps": eps, "weight_decay": weight_decay,
        "restore_best": bool(restore_best),
        "patience": None if patience is None else _count("patience", patience, 1),
        "min_delta": _positive("min_delta", min_delta, allow_zero=True),
        "input_noise": dict(input_noise) if input_noise else None,
        "noise": ae._noise_args(input_noise), "epoch_loss": epoch_loss,
    }


def _width(n_models, dtype, group_size):
    if group_size is not None:
        if group_size not in _WIDTHS:
            raise ValueError(f"group_size must be one of {_WIDTHS}, got {group_size!r}")
        return group_size
    cap = _MAX_WIDTH[dtype.name]
    return next(w for w in _WIDTHS if w >= min(n_models, cap))


def train_lanes(models, X, Y, settings, metric=None, metric_every=100, callback=None,
                callback_every=100, progress=None, n_jobs=None, group_size=None, threads=1):
    """Train ``models`` (same architecture) in lanes, in place; return their history frames.

    ``settings`` holds one dict from ``_settings`` per model. The shared core of
    ``fit_many`` and ``fit_reproducible``; fills each model's ``training`` and ``history``.
    ``threads``: threads inside one model trained alone (group width 1; ``lanes.solo``).
    """
    lk, lt = _k()
    from nbae.engine.lanes.simd import aligned_zeros

    ae0 = models[0]
    K = len(models)
    for key in SHARED_KEYS:
        if any(s[key] != settings[0][key] for s in settings):
            raise ValueError(f"{key!r} must be the same for all models trained together")
    for ae in models:
        if (ae.sizes, ae.activations, ae.loss_name, ae.dtype, ae.leaky_slope) != (
                ae0.sizes, ae0.activations, ae0.loss_name, ae0.dtype, ae0.leaky_slope):
            raise ValueError(f"all models need the same architecture: {ae!r} vs {ae0!r}")
    metric_every = _count("metric_every", metric_every, 1)
    callback_every = _count("callback_every", callback_every, 1)
    s0 = settings[0]
    epochs, opt = s0["epochs"], s0["optimizer"]
    dt = ae0.dtype
    W = _width(K, dt, group_size)
    G = -(-K // W)
    n = X.shape[0]
    batch = min(s0["batch_size"], n)
    eval_rows = min(n, max(batch, 256)) if s0["epoch_loss"] == "full" else 0
    cap = max(batch, eval_rows)
    sizes = ae0.sizes
    P = ae0.n_params
    a_off = np.cumsum([0] + [cap * s * W for s in sizes[:-1]]).astype(np.int64)
    # every group's arrays start on a 64-byte boundary: the kernels' vector loads then never
    # straddle a cache line (25 % faster products than NumPy's 16-byte alignment, measured)
    theta = aligned_zeros(G, P * W, dt)
    for j, ae in enumerate(models):
        theta[j // W, j % W::W] = ae._theta
    grad, s1, s2, final, best = (aligned_zeros(G, P * W, dt) for _ in range(5))
    best[:] = theta
    hp = np.zeros((G, lk.HP_SIZE, W), dt)
    # filler lanes (lr 0) get harmless betas and eps, so their zero updates stay finite
    hp[:, [lk.HP_BETA1, lk.HP_BETA2, lk.HP_EPS], :] = np.array([0.9, 0.999, 1.0])[:, None]
    perm = np.tile(np.arange(n, dtype=np.int64), (G, W, 1))
    rng = np.zeros((G, W), np.uint64)
    noise = np.zeros((G, W), np.int64)
    nlev, nlo, nhi, mind = (np.zeros((G, W)) for _ in range(4))
    nhi[:] = 1.0
    patience = np.zeros((G, W), np.int64)
    status = np.full((G, W), lk.LANE_PADDING, np.int64)
    track = np.tile(np.array([np.inf, 0.0, np.inf, 0.0])[:, None], (G, 1, W))
    for j, (ae, s) in enumerate(zip(models, settings, strict=True)):
        g, c = divmod(j, W)
        hp[g, [lk.HP_LR, lk.HP_MOMENTUM, lk.HP_BETA1, lk.HP_BETA2, lk.HP_EPS,
               lk.HP_WEIGHT_DECAY], c] = (s["lr"], s["momentum"], *s["betas"], s["eps"],
                                          s["weight_decay"])
        # the stream Autoencoder.fit would draw for this call: shuffles and noise match it
        ss = np.random.SeedSequence(ae.seed).spawn(2 + ae._fits)[-1]
        ae._fits += 1
        rng[g, c] = ss.generate_state(1, dtype=np.uint64)[0]
        noise[g, c], nlev[g, c], nlo[g, c], nhi[g, c] = s["noise"]
        patience[g, c] = s["patience"] or 0
        mind[g, c] = s["min_delta"]
        status[g, c] = lk.LANE_RUNNING
    buf = aligned_zeros(G, int(a_off[-1]) + cap * sizes[-1] * W, dt)
    ybuf = aligned_zeros(G, cap * sizes[-1] * W, dt)
    d1, d2 = (aligned_zeros(G, cap * max(sizes) * W, dt) for _ in range(2))
    losses = np.full((G, epochs, W), np.nan)
    done_lane = np.zeros((G, W), np.int64)
    step = np.zeros((G, 1), np.int64)
    lanes = (0,) * W
    args = (ae0._sizes, ae0._w_off, ae0._b_off, a_off, ae0._acts, dt.type(ae0.leaky_slope),
            C.LOSSES[ae0.loss_name], C.OPTIMIZERS[opt])
    workers = min(G, os.cpu_count() or 1) if n_jobs is None else max(1, min(G, n_jobs))
    parts = _count("threads", threads, 1) if W == 1 and G == 1 else 1
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    halt = threading.Event()
    metrics = [dict() for _ in range(K)]
    for ae, s in zip(models, settings, strict=True):
        ae.training = {k: v for k, v in s.items() if k != "noise"}
        ae.training.update({"seed": ae.seed, "n_samples": n, "engine": "lanes",
                            "group_size": W})

    def run_group(g, todo, done):
        return lt.train_group(
            theta[g], grad[g], s1[g], s2[g], best[g], final[g], X, Y, *args,
            hp[g], step[g], batch, todo, s0["shuffle"], perm[g], rng[g], noise[g],
            nlev[g], nlo[g], nhi[g], buf[g], ybuf[g], d1[g], d2[g], losses[g, done:done + todo],
            track[g], status[g], done_lane[g], done, patience[g], mind[g], eval_rows, parts,
            lanes)

    def lane_params(j, which):
        return which[j // W, j % W::W]

    def put(ae, vec):
        # the model's weights and biases are views of its flat vector, laid out as a lane's
        # (checked values: finite, of the model's dtype); one copy, not per-layer setters
        ae._theta[:] = vec

    done, chunk, stopped = 0, 1, None
    t0 = time.perf_counter()
    bar = _bar(epochs, progress)
    try:
        while done < epochs and (status == lk.LANE_RUNNING).any():
            todo = min(chunk, epochs - done)
            for every, active in ((metric_every, metric), (callback_every, callback)):
                if active is not None:
                    todo = min(todo, every - done % every)
            tc = time.perf_counter()
            if pool is None:
                ran = [run_group(g, todo, done) for g in range(G)]
            else:
                ran = run_balanced(pool, workers, G, todo, done, run_group, halt)
            elapsed = time.perf_counter() - tc
            done += max(ran)
            if bar is not None:
                bar.update(max(ran))
            for j, ae in enumerate(models):
                if status[j // W, j % W] == lk.LANE_RUNNING and metric is not None and (
                        done % metric_every == 0 or done == epochs):
                    put(ae, lane_params(j, theta))
                    metrics[j][done] = _metric_values(metric(ae))
            if callback is not None and done % callback_every == 0:
                put(ae0, lane_params(0, theta))
                if callback(ae0, _frame(losses[0, :, 0], done_lane[0, 0], metrics[0])):
                    stopped = "callback"
                    break
            chunk = int(min(max(1, _CHUNK_SECONDS * max(ran) / max(elapsed, 1e-9)), 1 << 20))
    except KeyboardInterrupt:
        stopped = "interrupted"
        halt.set()  # the workers start no new slice
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)  # let running groups finish
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    frames = []
    for j, ae in enumerate(models):
        g, c = divmod(j, W)
        st = int(status[g, c])
        ran_j = int(done_lane[g, c])
        best_epoch = int(track[g, 1, c])
        restored = (settings[j]["restore_best"] or st == C.STATUS_NONFINITE) and best_epoch > 0
        src = best if restored or st == C.STATUS_NONFINITE else (
            final if st == C.STATUS_EARLY_STOP else theta)
        put(ae, lane_params(j, src))
        reason = _STOP.get(st, stopped or "completed")
        if metric is not None and ran_j > 0 and ran_j not in metrics[j] and reason not in (
                "diverged", "interrupted"):  # after Ctrl-C, stop promptly
            metrics[j][ran_j] = _metric_values(metric(ae))
        ae.history = _frame(losses[g, :, c], ran_j, metrics[j])
        finite = ae.history["loss"].to_numpy()[np.isfinite(ae.history["loss"].to_numpy())]
        steps = ran_j * math.ceil(n / batch)
        ae.training.update({
            "epochs_run": ran_j, "stop_reason": reason, "steps": steps, "seconds": seconds,
            "steps_per_second": steps / seconds if seconds > 0 else None,
            "final_loss": float(finite[-1]) if finite.size else None,
            "best_loss": float(track[g, 0, c]) if best_epoch > 0 else None,
            "best_epoch": best_epoch or None, "restored_best": bool(restored)})
        frames.append(ae.history)
    if stopped == "interrupted":
        exc = KeyboardInterrupt()
        exc.models, exc.histories = models, frames
        raise exc
    return frames


def run_balanced(pool, workers, G, todo, start, run_group, halt, slices=8):
    """Run groups ``0..G-1`` for ``todo`` epochs each from epoch ``start``, on ``workers``
    threads of ``pool``; return the epochs each group ran.

    A group's epochs run in order, in slices of about ``todo / slices`` epochs; a free worker
    takes the free group with the most epochs left. With one task per group (the old
    ``pool.map``), a worker slowed down by the shared machine left the other idle at the end
    of every chunk (12-16 % idle measured with 4 float32 groups on 2 threads); with slices
    the tail is at most one slice. Same results: a group's state lives in its arrays, so
    where its epochs are cut into calls changes no bit (chunk sizes already vary with the
    machine's speed).
    ``run_group(g, epochs, epoch0)`` returns the epochs it ran (fewer when no lane is left).
    """
    size = max(1, -(-todo // slices))
    left = [todo] * G
    ran = [0] * G
    held = [False] * G
    cond = threading.Condition()

    def worker():
        while True:
            with cond:
                while True:
                    free = [g for g in range(G) if left[g] > 0 and not held[g]]
                    if free or halt.is_set() or not any(held[g] and left[g] for g in range(G)):
                        break
                    cond.wait()  # the only groups left are running: one may come free
                if not free or halt.is_set():
                    return
                g = max(free, key=lambda h: left[h])
                k = min(size, left[g])
                held[g] = True
            r = 0  # a slice that raised ends its group; the error reaches the caller
            try:
                r = run_group(g, k, start + ran[g])
            finally:
                with cond:
                    ran[g] += r
                    left[g] = left[g] - k if r == k else 0
                    held[g] = False
                    cond.notify_all()

    for f in [pool.submit(worker) for _ in range(workers)]:
        f.result()
    return ran


def _frame(losses, done, metrics):
    from nbae.engine.model import Autoencoder

    return Autoencoder._history(losses, int(done), metrics)


def _bar(total, progress):
    """tqdm progress on stderr; quiet when stderr is not a terminal (or progress=False)."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="epoch", file=sys.stderr, leave=False)


def fit_reproducible(ae, X, Y=None, metric=None, metric_every=100, callback=None,
                     callback_every=100, progress=False, threads=1, **fit_kwargs
                     ) -> pd.DataFrame:
    """``ae.fit(X, Y, ...)`` with the lanes engine's machine-independent arithmetic (one lane).

    Same arguments, history and side effects as :meth:`Autoencoder.fit` (``training``,
    ``history``, the per-call random stream), and like it raises TrainingDiverged (best
    weights kept) and re-raises KeyboardInterrupt. The weights are bit-identical on every
    x86-64 machine with the same package versions, and to the same model's lane in
    ``fit_many``. ``threads`` > 1 splits the large layers' products and updates over that
    many threads, with the same bits.
    """
    X, Y, s = _settings(ae, X, Y, **fit_kwargs)
    (history,) = train_lanes([ae], X, Y, [s], metric=metric, metric_every=metric_every,
                             callback=callback, callback_every=callback_every,
                             progress=progress, n_jobs=1, group_size=1, threads=threads)
    if ae.training["stop_reason"] == "diverged":
        best = ae.training["best_epoch"]
        where = (f"weights of epoch {best} (loss {ae.training['best_loss']:.6g}) restored"
                 if best else "initial weights kept")
        raise TrainingDiverged(f"loss became NaN/inf in epoch {ae.training['epochs_run']}; "
                               f"{where}. Lower the learning rate (lr={s['lr']}) or check the "
                               "data scale")
    return history
