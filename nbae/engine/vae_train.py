"""The VAE's training driver: validation, buffers, chunked calls of the compiled epoch loop.

Same structure as ``Autoencoder.fit`` (chunks of about ``_CHUNK_SECONDS`` of compiled work
between returns to Python for progress, metrics, callbacks and Ctrl-C; best-epoch restore;
divergence reported as ``TrainingDiverged`` after restoring finite weights). Called by
:meth:`nbae.vae.VAE.fit`, which documents the arguments.
"""

from __future__ import annotations

import time

import numpy as np

from nbae.engine import codes as C
from nbae.engine.blas import blas_threads
from nbae.engine.checks import optimizer_settings
from nbae.engine.model import (
    _CHUNK_SECONDS,
    Autoencoder,
    TrainingDiverged,
    _check_matrix,
    _count,
    _metric_values,
    _positive,
    _progress,
)
from nbae.engine.vae import LOSSES, _kernels


def fit_vae(vae, X, Y, epochs, batch_size, optimizer, lr, shuffle, momentum, betas, eps,
            weight_decay, restore_best, patience, min_delta, metric, metric_every, callback,
            callback_every, input_noise, latent_noise, progress, reproducible=False):
    """Train ``vae`` in place; return the history (see ``VAE.fit``)."""
    X = _check_matrix("X", X, vae.input_dim, vae.dtype)
    Y = vae._targets(X, Y)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    epochs = _count("epochs", epochs, 0)
    batch_size = _count("batch_size", batch_size, 1)
    callback_every = _count("callback_every", callback_every, 1)
    metric_every = _count("metric_every", metric_every, 1)
    # optimizer settings: validated exactly as Autoencoder.fit does
    opt, hp_values = _optimizer_settings(optimizer, lr, momentum, betas, eps, weight_decay)
    patience = 0 if patience is None else _count("patience", patience, 1)
    min_delta = _positive("min_delta", min_delta, allow_zero=True)
    noise_args = Autoencoder._noise_args(vae, input_noise)
    lanes = vae._arithmetic(reproducible)
    n = X.shape[0]
    if latent_noise is None:
        noise = np.zeros((0, vae.latent_dim), dtype=vae.dtype)
    else:
        noise = _check_matrix("latent_noise", latent_noise, vae.latent_dim, vae.dtype)
        if len(noise) < epochs * n:
            raise ValueError(f"latent_noise has {len(noise)} rows; {epochs} epochs of {n} "
                             f"samples need {epochs * n}")

    k, vk = _kernels()
    batch = min(batch_size, n)
    ea, da, buf, d1, d2, drop = vae._buffers(batch)
    ybuf = np.zeros(batch * vae.output_dim, dtype=vae.dtype)
    ebuf = np.zeros(batch * vae.latent_dim, dtype=vae.dtype)
    dz = np.zeros_like(ebuf)
    grad = np.zeros_like(vae._theta)
    s1 = np.zeros_like(vae._theta)
    s2 = np.zeros_like(vae._theta) if opt == "adam" else s1[:1]
    best_theta = vae._theta.copy()
    hp = np.zeros(k.HP_SIZE, dtype=vae.dtype)
    hp[[k.HP_LR, k.HP_MOMENTUM, k.HP_BETA1, k.HP_BETA2, k.HP_EPS, k.HP_WEIGHT_DECAY]] = (
        hp_values)
    step = np.zeros(2, dtype=np.int64)
    eps_pos = np.zeros(1, dtype=np.int64)
    perm = np.arange(n, dtype=np.int64)
    ss = np.random.SeedSequence(vae.seed).spawn(2 + vae._fits)[-1]
    vae._fits += 1
    rng = ss.generate_state(1, dtype=np.uint64)
    losses = np.full((epochs, 3), np.nan)
    track = np.array([np.inf, 0.0, np.inf, 0.0])
    epoch0 = vae.epochs_trained
    vae.training = {
        "optimizer": opt, "lr": hp_values[0], "batch_size": batch_size, "epochs": epochs,
        "shuffle": bool(shuffle), "momentum": hp_values[1], "betas": list(hp_values[2:4]),
        "eps": hp_values[4], "weight_decay": hp_values[5], "restore_best": bool(restore_best),
        "patience": patience or None, "min_delta": min_delta, "seed": vae.seed,
        "n_samples": n, "epoch_loss": "running", "beta": vae.beta,
        "kl_warmup": vae.kl_warmup, "latent_noise": latent_noise is not None,
        "input_noise": dict(input_noise) if input_noise else None,
    }
    if reproducible:  # as Autoencoder.fit(reproducible=True) records it
        vae.training["engine"] = "lanes"
    done, status, chunk, stop_reason, interrupted = 0, C.STATUS_OK, 1, "completed", False
    metrics: dict[int, dict] = {}
    t0 = time.perf_counter()
    bar = _progress(epochs) if progress else None
    try:
        while done < epochs:
            todo = min(chunk, epochs - done)
            for every, active in ((metric_every, metric), (callback_every, callback)):
                if active is not None:
                    todo = min(todo, every - done % every)
            tc = time.perf_counter()
            with blas_threads():  # one BLAS thread: fixed summation order, no contention
                ran, status = vk.vae_train_epochs(
                    vae._theta, grad, s1, s2, best_theta, X, Y, *vae._chains(ea, da),
                    vae._slope(), LOSSES[vae.loss_name], vae.beta, vae.kl_warmup,
                    C.OPTIMIZERS[opt], hp, step, batch, todo, bool(shuffle), perm, rng, noise,
                    eps_pos, buf, ybuf, ebuf, dz, d1, d2, losses[done:done + todo], track,
                    epoch0 + done, patience, min_delta, *drop, *noise_args, lanes)
            elapsed = time.perf_counter() - tc
            done += ran
            if status != C.STATUS_NONFINITE and not np.all(np.isfinite(vae._theta)):
                status = C.STATUS_NONFINITE
            if bar is not None:
                bar(done, losses[done - 1, 0])
            if status == C.STATUS_NONFINITE:
                stop_reason = "diverged"
                break
            if status == C.STATUS_EARLY_STOP:
                stop_reason = "early_stop"
                break
            if metric is not None and (done % metric_every == 0 or done == epochs):
                metrics[done] = _metric_values(metric(vae))
            if callback is not None and done % callback_every == 0:
                if callback(vae, vae._history(losses, done, epoch0, metrics)):
                    stop_reason = "callback"
                    break
            per_epoch = elapsed / max(ran, 1)
            chunk = int(min(max(1, _CHUNK_SECONDS / max(per_epoch, 1e-9)), 1 << 20))
    except KeyboardInterrupt:
        done, interrupted, stop_reason = int(step[1]), True, "interrupted"
    finally:
        if bar is not None:
            bar(None, None)
    seconds = time.perf_counter() - t0
    vae.epochs_trained = epoch0 + done
    best_epoch = int(track[1])
    restored = bool((restore_best or status == C.STATUS_NONFINITE) and best_epoch > 0)
    if restored or status == C.STATUS_NONFINITE:  # no best epoch: the starting weights
        vae._theta[:] = best_theta
    if metric is not None and done > 0 and done not in metrics and stop_reason != "diverged":
        metrics[done] = _metric_values(metric(vae))
    vae.history = history = vae._history(losses, done, epoch0, metrics)
    finite = losses[:done, 0][np.isfinite(losses[:done, 0])]
    steps = int(step[0])
    vae.training.update({
        "epochs_run": int(done), "stop_reason": stop_reason, "steps": steps,
        "seconds": seconds, "steps_per_second": steps / seconds if seconds > 0 else None,
        "final_loss": float(finite[-1]) if finite.size else None,
        "best_loss": float(track[0]) if best_epoch > 0 else None,
        "best_epoch": best_epoch or None, "restored_best": restored,
    })
    if status == C.STATUS_NONFINITE:
        where = (f"weights of epoch {best_epoch} (loss {track[0]:.6g}) restored"
                 if restored else "weights from before this fit restored")
        raise TrainingDiverged(f"loss became NaN/inf in epoch {epoch0 + done}; {where}. "
                               f"Lower the learning rate (lr={lr}) or check the data scale")
    if interrupted:
        raise KeyboardInterrupt
    return history


def _optimizer_settings(optimizer, lr, momentum, betas, eps, weight_decay):
    """(name, [lr, momentum, beta1, beta2, eps, weight_decay]) checked as Autoencoder.fit does."""
    opt, *values = optimizer_settings(optimizer, lr, momentum, betas, eps, weight_decay)
    return opt, values
