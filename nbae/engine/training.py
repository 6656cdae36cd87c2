"""The machinery behind ``Autoencoder.fit``, split the way scikit-learn's MLP splits it:
``_validate_hyperparameters`` (checks, one frozen record), ``_initialize`` (buffers, optimizer
state, random stream), ``_fit_stochastic`` (the chunked loop over the compiled
``train_epochs``) and ``_finish_fit`` (restore, history, training record, errors).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nbae.engine import codes as C
from nbae.engine.blas import blas_threads
from nbae.engine.checks import check_matrix, count, optimizer_settings, positive
from nbae.engine.history import ProgressBar, history_frame, metric_values
from nbae.errors import TrainingDiverged

# Aim for kernel calls of about this many seconds between returns to Python: short enough
# for a responsive Ctrl-C and progress, long enough that call overhead is invisible.
_CHUNK_SECONDS = 0.25


@dataclass(frozen=True)
class FitSettings:
    """The validated arguments of one ``fit`` call (see ``Autoencoder.fit``)."""

    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    shuffle: bool
    momentum: float
    betas: tuple[float, float]
    eps: float
    weight_decay: float
    restore_best: bool
    patience: int  # 0: no early stopping
    min_delta: float
    metric: Any
    metric_every: int
    callback: Any
    callback_every: int
    noise: tuple[int, float, float, float]  # kernel code, level, low, high
    input_noise: dict | None
    epoch_loss: str
    progress: bool


@dataclass
class FitState:
    """Everything one ``fit`` call allocates, and how far it got."""

    kernels: Any
    params: Any  # kernels.Params
    net: Any  # kernels.Network
    work: Any  # kernels.Work
    opt: Any  # kernels.Optimizer
    sampling: Any  # kernels.Sampling
    batch: int
    eval_rows: int
    losses: np.ndarray
    track: np.ndarray
    done: int = 0
    status: int = C.STATUS_OK
    stop_reason: str = "completed"
    interrupted: bool = False
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)


class TrainingMixin:
    """``fit`` and its parts; mixed into :class:`nbae.engine.model.Autoencoder`."""

    def _validate_hyperparameters(self, X, Y, epochs, batch_size, optimizer, lr, shuffle,
                                  momentum, betas, eps, weight_decay, restore_best, patience,
                                  min_delta, metric, metric_every, callback, callback_every,
                                  input_noise, epoch_loss, progress):
        """Check the data and every argument; return (X, Y, FitSettings)."""
        X = check_matrix("X", X, self.input_dim, self.dtype)
        Y = self._targets(X, Y)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        epochs = count("epochs", epochs, 0)
        batch_size = count("batch_size", batch_size, 1)
        opt, lr, momentum, b1, b2, eps, weight_decay = optimizer_settings(
            optimizer, lr, momentum, betas, eps, weight_decay)
        patience = 0 if patience is None else count("patience", patience, 1)
        min_delta = positive("min_delta", min_delta, allow_zero=True)
        metric_every = count("metric_every", metric_every, 1)
        callback_every = count("callback_every", callback_every, 1)
        noise = self._noise_args(input_noise)
        if epoch_loss not in ("running", "full"):
            raise ValueError(f"epoch_loss must be 'running' or 'full', got {epoch_loss!r}")
        settings = FitSettings(
            epochs=epochs, batch_size=batch_size, optimizer=opt, lr=lr, shuffle=bool(shuffle),
            momentum=momentum, betas=(b1, b2), eps=eps, weight_decay=weight_decay,
            restore_best=bool(restore_best), patience=patience, min_delta=min_delta,
            metric=metric, metric_every=metric_every, callback=callback,
            callback_every=callback_every, noise=noise,
            input_noise=dict(input_noise) if input_noise else None, epoch_loss=epoch_loss,
            progress=bool(progress))
        return X, Y, settings

    def _noise_args(self, spec):
        """(kernel code, level, low, high) of an ``input_noise`` dict."""
        if not spec:
            return 0, 0.0, 0.0, 1.0
        if not isinstance(spec, dict):
            raise ValueError("input_noise must be a dict like {'kind': 'flip', 'level': 0.1}")
        unknown = set(spec) - {"kind", "level", "range"}
        if unknown:
            raise ValueError(f"input_noise: unknown keys {sorted(unknown)}")
        kind = C.noise_name(spec.get("kind", "none"))
        level = positive("input_noise level", spec.get("level", 0.0), allow_zero=True)
        if kind in ("flip", "mask") and level > 1:
            raise ValueError(f"input_noise level is a probability for {kind!r}, got {level}")
        lo, hi = (float(v) for v in spec.get("range", self.metadata.get("pixel_range", [0, 1])))
        if not lo < hi:
            raise ValueError(f"input_noise range must be [low, high] with low < high, "
                             f"got {[lo, hi]}")
        if level == 0:  # no corruption, and no random draws that would change the shuffling
            return 0, 0.0, lo, hi
        return C.NOISE_KINDS[kind], level, lo, hi

    def _initialize(self, n, s: FitSettings) -> FitState:
        """Allocate the buffers and optimizer state of one fit call over ``n`` samples."""
        k = self._kernels()
        batch = min(s.batch_size, n)
        # the full-set loss runs forward passes of up to 256 rows in the same buffers
        eval_rows = min(n, max(batch, 256)) if s.epoch_loss == "full" else 0
        a_off, buf, d1, d2 = self._buffers(max(batch, eval_rows))
        ybuf = np.zeros(batch * self.output_dim, dtype=self.dtype)
        s1 = np.zeros_like(self._theta)
        s2 = np.zeros_like(self._theta) if s.optimizer == "adam" else s1[:1]
        params = k.Params(self._theta, np.zeros_like(self._theta), s1, s2, self._theta.copy())
        hp = np.zeros(k.HP_SIZE, dtype=self.dtype)
        hp[[k.HP_LR, k.HP_MOMENTUM, k.HP_BETA1, k.HP_BETA2, k.HP_EPS, k.HP_WEIGHT_DECAY]] = (
            s.lr, s.momentum, *s.betas, s.eps, s.weight_decay)
        # step: [optimizer steps, finished epochs]
        opt = k.Optimizer(C.OPTIMIZERS[s.optimizer], hp, np.zeros(2, dtype=np.int64))
        # one independent stream per fit call: refitting continues deterministically. Child
        # 1 + k of SeedSequence(seed), i.e. SeedSequence(seed).spawn(2 + k)[-1], without
        # spawning k children first (that made the k-th fit call O(k))
        ss = np.random.SeedSequence(self.seed, spawn_key=(1 + self._fits,))
        self._fits += 1
        rng = ss.generate_state(1, dtype=np.uint64)
        sampling = k.Sampling(s.shuffle, np.arange(n, dtype=np.int64), rng, *s.noise)
        return FitState(
            kernels=k, params=params, net=self._network(), work=k.Work(a_off, buf, ybuf, d1, d2),
            opt=opt, sampling=sampling, batch=batch, eval_rows=eval_rows,
            losses=np.full(s.epochs, np.nan), track=np.array([np.inf, 0.0, np.inf, 0.0]))

    def _training_record(self, s: FitSettings, n) -> dict:
        return {
            "optimizer": s.optimizer, "lr": s.lr, "batch_size": s.batch_size,
            "epochs": s.epochs, "shuffle": s.shuffle, "momentum": s.momentum,
            "betas": list(s.betas), "eps": s.eps, "weight_decay": s.weight_decay,
            "restore_best": s.restore_best, "patience": s.patience or None,
            "min_delta": s.min_delta, "seed": self.seed, "input_noise": s.input_noise,
            "n_samples": n, "epoch_loss": s.epoch_loss,
        }

    def _train_chunk(self, X, Y, s: FitSettings, st: FitState, todo):
        """One call of the compiled loop over ``todo`` epochs; return (epochs run, status)."""
        k = st.kernels
        schedule = k.Schedule(st.batch, todo, st.done, st.eval_rows, s.patience, s.min_delta)
        record = k.Record(st.losses[st.done:st.done + todo], st.track)
        with blas_threads():
            return k.train_epochs(st.params, X, Y, st.net, st.work, st.opt, schedule,
                                  st.sampling, record)

    def _fit_stochastic(self, X, Y, s: FitSettings, st: FitState):
        """The chunked loop: compiled epochs between metric/callback/progress stops."""
        chunk = 1
        t0 = time.perf_counter()
        bar = ProgressBar(s.epochs) if s.progress else None
        try:
            while st.done < s.epochs:
                todo = min(chunk, s.epochs - st.done)
                for every, active in ((s.metric_every, s.metric),
                                      (s.callback_every, s.callback)):
                    if active is not None:
                        todo = min(todo, every - st.done % every)
                tc = time.perf_counter()
                ran, st.status = self._train_chunk(X, Y, s, st, todo)
                elapsed = time.perf_counter() - tc
                st.done += ran
                # the kernel tests only losses; an inf weight behind saturated units is caught
                if st.status != C.STATUS_NONFINITE and not np.all(np.isfinite(self._theta)):
                    st.status = C.STATUS_NONFINITE
                if bar is not None:
                    bar.update(st.done, st.losses[st.done - 1])
                if st.status == C.STATUS_NONFINITE:
                    st.stop_reason = "diverged"
                    break
                if st.status == C.STATUS_EARLY_STOP:
                    st.stop_reason = "early_stop"
                    break
                if s.metric is not None and (st.done % s.metric_every == 0
                                             or st.done == s.epochs):
                    st.metrics[st.done] = metric_values(s.metric(self))
                if s.callback is not None and st.done % s.callback_every == 0:
                    if s.callback(self, history_frame(st.losses, st.done, st.metrics)):
                        st.stop_reason = "callback"
                        break
                # grow or shrink the chunk towards _CHUNK_SECONDS of compiled work per call
                per_epoch = elapsed / max(ran, 1)
                chunk = int(min(max(1, _CHUNK_SECONDS / max(per_epoch, 1e-9)), 1 << 20))
        except KeyboardInterrupt:
            # the interrupt may land as a kernel call returns, losing its return value
            st.done = int(st.opt.step[1])
            st.interrupted = True
            st.stop_reason = "interrupted"
        finally:
            if bar is not None:
                bar.close()
        st.seconds = time.perf_counter() - t0

    def _finish_fit(self, s: FitSettings, st: FitState):
        """Restore the best weights, record the history and the run; raise on divergence."""
        done, track = st.done, st.track
        best_epoch = int(track[1])
        diverged = st.status == C.STATUS_NONFINITE
        # a run that diverges before any finite epoch goes back to its initial weights (kept in
        # params.best since _initialize), so the model never holds the NaN/inf ones
        restored = diverged or (s.restore_best and best_epoch > 0)
        if restored:
            self._theta[:] = st.params.best
        if s.metric is not None and done > 0 and done not in st.metrics \
                and st.stop_reason != "diverged":
            st.metrics[done] = metric_values(s.metric(self))
        self.history = history_frame(st.losses, done, st.metrics)
        finite = st.losses[:done][np.isfinite(st.losses[:done])]
        steps = int(st.opt.step[0])
        self.training.update({
            "epochs_run": int(done), "stop_reason": st.stop_reason, "steps": steps,
            "seconds": st.seconds,
            "steps_per_second": steps / st.seconds if st.seconds > 0 else None,
            "final_loss": float(finite[-1]) if finite.size else None,
            "best_loss": float(track[0]) if best_epoch > 0 else None,
            "best_epoch": best_epoch or None,
            "restored_best": bool(restored),
        })
        if diverged:
            where = (f"weights of epoch {best_epoch} (loss {track[0]:.6g}) restored"
                     if best_epoch else "initial weights kept")
            raise TrainingDiverged(f"loss became NaN/inf in epoch {done}; {where}. Lower the "
                                   f"learning rate (lr={s.lr}) or check the data scale")
        if st.interrupted:
            raise KeyboardInterrupt
        return self.history
