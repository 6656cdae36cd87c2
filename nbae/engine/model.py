"""The Autoencoder API: validation, buffers and the chunked training loop over nbae.engine.kernels.

A network is a chain of dense layers ``A_{l+1} = f_l(A_l W_l + b_l)`` whose widths are
``sizes = encoder + decoder[1:]``; by default the decoder mirrors the encoder, so
``layers=[35, 20, 10, 2]`` gives ``35-20-10-2-10-20-35``. The encoder is the first
``len(layers) - 1`` weight layers and ends in the latent code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from nbae import __version__
from nbae.engine import codes as C
from nbae.engine.initializers import init_weight
from nbae.engine.serialization import load_model, save_model
from nbae.errors import TrainingDiverged

_DTYPES = {"float64": np.float64, "float32": np.float32}
# Aim for kernel calls of about this many seconds between returns to Python: short enough
# for a responsive Ctrl-C and progress, long enough that call overhead is invisible.
_CHUNK_SECONDS = 0.25


def _kernels():
    from nbae.engine import (
        kernels,  # imported on first use: compiling/loading Numba code is not free
    )

    return kernels


def _as_int_list(name, values, minimum=1):
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name} must be a list of integers, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            raise ValueError(f"{name} must hold integers >= {minimum}, got {list(values)!r}")
        out.append(int(v))
    return out


def _check_matrix(name, X, width, dtype):
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


def _positive(name, value, allow_zero=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def _count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Autoencoder:
    """A dense autoencoder whose training loop runs in Numba.

    Parameters
    ----------
    layers : list of int
        Encoder widths, input first and latent code last, e.g. ``[35, 20, 10, 2]``.
    activation : str or list of str
        Hidden-layer activation(s): one name for all, or one per hidden layer -- either for
        every hidden layer of the whole network, or for the encoder's hidden layers only
        (mirrored onto the decoder). Names: identity, tanh, sigmoid, relu, leaky_relu, softmax.
    latent_activation, output_activation : str
        Activations of the code layer and of the reconstruction.
    decoder : list of int, optional
        Full decoder widths from the latent size to the output, e.g. ``[2, 30, 35]``; the
        default mirrors ``layers``.
    loss : {"mse", "bce"}
        Mean squared error or binary cross-entropy, both averaged over all elements.
    init : {"scaled-uniform", "xavier", "xavier-normal", "he", "he-uniform"}
        Weight initialisation (see :mod:`nbae.engine.initializers`); biases start at zero.
    leaky_slope : float
        Negative-side slope of leaky_relu (default 0.2).
    seed : int
        Seeds the initial weights and, through ``fit``, the shuffling and input noise.
    dtype : {"float64", "float32"}
    metadata : dict, optional
        Free-form JSON-serialisable record kept with the model (labels, data description...).
    """

    def __init__(self, layers, activation="tanh", latent_activation="identity",
                 output_activation="sigmoid", decoder=None, loss="mse", init="scaled-uniform",
                 leaky_slope=0.2, seed=0, dtype="float64", metadata=None):
        enc = _as_int_list("layers", layers)
        if len(enc) < 2:
            raise ValueError(f"layers needs at least an input and a latent size, got {enc!r}")
        dec = enc[::-1] if decoder is None else _as_int_list("decoder", decoder)
        if len(dec) < 2 or dec[0] != enc[-1]:
            raise ValueError(f"decoder must run from the latent size {enc[-1]} to the output, "
                             f"e.g. [{enc[-1]}, ..., {enc[0]}]; got {dec!r}")
        self._encoder_sizes = enc
        self._decoder_sizes = dec
        self.sizes = enc + dec[1:]
        self.n_encoder_layers = len(enc) - 1
        n_layers = len(self.sizes) - 1
        self.activations = self._resolve_activations(
            activation, latent_activation, output_activation, n_layers, self.n_encoder_layers,
            mirrored=decoder is None)
        self.loss_name = C.loss_name(loss)
        if self.loss_name == "bce" and self.activations[-1] not in ("sigmoid", "softmax"):
            raise ValueError("loss 'bce' needs outputs in (0, 1): use output_activation "
                             f"'sigmoid' or 'softmax', not {self.activations[-1]!r}")
        self.init = C.init_name(init)
        self.leaky_slope = _positive("leaky_slope", leaky_slope, allow_zero=True)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        if str(dtype) not in _DTYPES:
            raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
        self.dtype = np.dtype(_DTYPES[str(dtype)])
        self.metadata = dict(metadata or {})
        self.training: dict = {}
        self.history: pd.DataFrame | None = None
        self._fits = 0
        self._layout()
        rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])
        for l in range(n_layers):
            self._W[l][...] = init_weight(self.init, l, self.sizes[l], self.sizes[l + 1], rng)

    # -- construction helpers -----------------------------------------------------------------

    @staticmethod
    def _resolve_activations(activation, latent, output, n_layers, n_encoder_layers, mirrored):
        """Activation name of every weight layer: hidden ones, the latent one, the output."""
        n_hidden = n_layers - 2  # every layer but the latent and the output one
        if isinstance(activation, str):
            hidden = [C.activation_name(activation)] * max(n_hidden, 0)
        else:
            names = [C.activation_name(a) for a in activation]
            # encoder-only list, mirrored: hidden layers are enc[1..k-1] then the decoder's
            n_enc_hidden = (n_hidden // 2) if mirrored else None
            if len(names) == n_hidden:
                hidden = names
            elif n_enc_hidden is not None and len(names) == n_enc_hidden:
                hidden = names + names[::-1]
            else:
                want = f"{n_hidden}" + (f" (or {n_enc_hidden}, mirrored)" if n_enc_hidden else "")
                raise ValueError(f"activation lists {len(names)} names but the network has "
                                 f"{want} hidden layers")
        acts = list(hidden)
        acts.insert(n_encoder_layers - 1, C.activation_name(latent))
        return acts + [C.activation_name(output)]

    def _layout(self):
        sizes = self.sizes
        n_layers = len(sizes) - 1
        self._sizes = np.array(sizes, dtype=np.int64)
        self._acts = np.array([C.ACTIVATIONS[a] for a in self.activations], dtype=np.int64)
        w_off, b_off = [], []
        total = 0
        for l in range(n_layers):
            w_off.append(total)
            total += sizes[l] * sizes[l + 1]
            b_off.append(total)
            total += sizes[l + 1]
        self._w_off = np.array(w_off, dtype=np.int64)
        self._b_off = np.array(b_off, dtype=np.int64)
        self._theta = np.zeros(total, dtype=self.dtype)
        self._W = [self._theta[w_off[l]:w_off[l] + sizes[l] * sizes[l + 1]]
                   .reshape(sizes[l], sizes[l + 1]) for l in range(n_layers)]
        self._b = [self._theta[b_off[l]:b_off[l] + sizes[l + 1]] for l in range(n_layers)]

    # -- properties ----------------------------------------------------------------------------

    @property
    def input_dim(self) -> int:
        return self.sizes[0]

    @property
    def latent_dim(self) -> int:
        return self.sizes[self.n_encoder_layers]

    @property
    def output_dim(self) -> int:
        return self.sizes[-1]

    @property
    def n_params(self) -> int:
        return int(self._theta.size)

    @property
    def weights(self) -> list[np.ndarray]:
        """Weight matrices, shape (fan_in, fan_out); views into the parameter vector."""
        return list(self._W)

    @weights.setter
    def weights(self, values):
        self._set_params("weights", values, self._W)

    @property
    def biases(self) -> list[np.ndarray]:
        return list(self._b)

    @biases.setter
    def biases(self, values):
        self._set_params("biases", values, self._b)

    def _set_params(self, name, values, targets):
        values = list(values)
        if len(values) != len(targets):
            raise ValueError(f"{name} needs {len(targets)} arrays, got {len(values)}")
        checked = []
        for l, (v, t) in enumerate(zip(values, targets, strict=True)):
            v = np.asarray(v, dtype=np.float64)
            if v.shape != t.shape:
                raise ValueError(f"{name}[{l}] must have shape {t.shape}, got {v.shape}")
            if not np.all(np.isfinite(v)):
                raise ValueError(f"{name}[{l}] holds non-finite values")
            checked.append(v)
        for v, t in zip(checked, targets, strict=True):
            t[...] = v

    def get_params(self) -> np.ndarray:
        """A copy of all parameters as one flat vector (W0, b0, W1, b1, ...)."""
        return self._theta.copy()

    def __repr__(self):
        arch = "-".join(map(str, self.sizes))
        return (f"Autoencoder({arch}, activations={self.activations}, loss={self.loss_name!r}, "
                f"dtype={self.dtype.name!r})")

    # -- inference -----------------------------------------------------------------------------

    def _predict(self, X, l0, l1, name):
        X = _check_matrix(name, X, self.sizes[l0], self.dtype)
        k = _kernels()
        return k.predict(self._theta, X, self._sizes, self._w_off, self._b_off, self._acts,
                         self.dtype.type(self.leaky_slope), l0, l1, 256)

    def encode(self, X) -> np.ndarray:
        """Latent codes of the rows of ``X``."""
        return self._predict(X, 0, self.n_encoder_layers, "X")

    def decode(self, Z) -> np.ndarray:
        """Reconstructions decoded from latent codes ``Z``."""
        return self._predict(Z, self.n_encoder_layers, len(self.sizes) - 1, "Z")

    def reconstruct(self, X) -> np.ndarray:
        """Encode then decode ``X``."""
        return self._predict(X, 0, len(self.sizes) - 1, "X")

    predict = reconstruct

    def loss(self, X, Y=None) -> float:
        """Mean loss of the reconstructions of ``X`` against ``Y`` (default ``X``)."""
        out = self.reconstruct(X)
        Y = self._targets(X, Y)
        k = _kernels()
        return float(k.loss_value(out, Y, C.LOSSES[self.loss_name]))

    def _targets(self, X, Y):
        if Y is None:
            Y = X
        Y = _check_matrix("Y", Y, self.output_dim, self.dtype)
        if self.loss_name == "bce" and (Y.min() < 0 or Y.max() > 1):
            raise ValueError("loss 'bce' needs targets in [0, 1]; rescale Y or use loss 'mse'")
        return Y

    def _buffers(self, cap):
        sizes = self.sizes
        a_off = np.zeros(len(sizes), dtype=np.int64)
        total = 0
        for l, s in enumerate(sizes):
            a_off[l] = total
            total += cap * s
        buf = np.zeros(total, dtype=self.dtype)
        d1 = np.zeros(cap * max(sizes), dtype=self.dtype)
        d2 = np.zeros_like(d1)
        return a_off, buf, d1, d2

    def gradients(self, X, Y=None):
        """Mean loss over all rows and its gradients: (loss, [dL/dW_l], [dL/db_l]).

        One full batch through the same kernels training uses; for checks and research.
        """
        X = _check_matrix("X", X, self.input_dim, self.dtype)
        Y = self._targets(X, Y)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        k = _kernels()
        a_off, buf, d1, d2 = self._buffers(X.shape[0])
        grad = np.zeros_like(self._theta)
        loss = k.loss_and_grad(self._theta, grad, X, Y, self._sizes, self._w_off, self._b_off,
                               a_off, self._acts, self.dtype.type(self.leaky_slope),
                               C.LOSSES[self.loss_name], buf, d1, d2)
        s = self.sizes
        gW = [grad[o:o + s[l] * s[l + 1]].reshape(s[l], s[l + 1]) for l, o in
              enumerate(self._w_off)]
        gb = [grad[o:o + s[l + 1]] for l, o in enumerate(self._b_off)]
        return float(loss), gW, gb

    # -- training ------------------------------------------------------------------------------

    def fit(self, X, Y=None, epochs=1000, batch_size=5, optimizer="adam", lr=1e-3,
            shuffle=True, momentum=0.0, betas=(0.9, 0.999), eps=None, weight_decay=0.0,
            restore_best=True, patience=None, min_delta=0.0,
            metric: Callable | None = None, metric_every=100,
            callback: Callable | None = None, callback_every=100,
            input_noise: dict | None = None, epoch_loss="running",
            progress=False) -> pd.DataFrame:
        """Train with mini-batch gradient descent; return the per-epoch history.

        Each epoch visits every sample once in mini-batches of ``batch_size`` (the last, partial
        batch is used, not dropped), in a fresh random order when ``shuffle``. Gradients are those
        of the mean loss over the mini-batch. The optimizers follow ``torch.optim``'s defaults:
        ``sgd`` (optional ``momentum``), ``adagrad`` (eps 1e-10), ``adam`` (``betas``, eps 1e-8,
        bias-corrected); ``weight_decay`` adds ``weight_decay * theta`` to the gradient.

        The history's ``loss`` of an epoch is, with ``epoch_loss="running"`` (the default, as in
        most training loops), the sample-weighted mean of its mini-batch losses, each measured
        before that batch's update; with ``epoch_loss="full"`` it is the loss of the parameters
        at the end of the epoch on the whole training set (one extra forward pass per epoch,
        without input noise), so the best epoch's loss is exactly that of the weights kept. With
        ``restore_best`` the parameters at the end of the lowest-loss epoch are restored when
        training ends. ``patience`` stops after
        that many epochs without the loss improving by more than ``min_delta``.

        ``metric(ae) -> dict`` is evaluated every ``metric_every`` epochs (and after the last)
        and its values become history columns; ``callback(ae, history) -> bool`` every
        ``callback_every`` epochs may return True to stop. ``input_noise`` (e.g.
        ``{"kind": "flip", "level": 0.1, "range": [0, 1]}``) corrupts the inputs afresh in every
        epoch inside the compiled loop while the targets stay clean: a denoising autoencoder.

        Raises TrainingDiverged (the best finite weights are restored first) if the loss or a
        parameter becomes NaN/inf. On KeyboardInterrupt the best weights are restored, the
        history so far is kept in ``self.history`` and the interrupt is re-raised.
        """
        X = _check_matrix("X", X, self.input_dim, self.dtype)
        Y = self._targets(X, Y)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        epochs = _count("epochs", epochs, 0)
        batch_size = _count("batch_size", batch_size, 1)
        opt = C.optimizer_name(optimizer)
        lr = _positive("lr", lr)
        momentum = _positive("momentum", momentum, allow_zero=True)
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
        eps = (1e-10 if opt == "adagrad" else 1e-8) if eps is None else _positive("eps", eps)
        weight_decay = _positive("weight_decay", weight_decay, allow_zero=True)
        patience = 0 if patience is None else _count("patience", patience, 1)
        min_delta = _positive("min_delta", min_delta, allow_zero=True)
        metric_every = _count("metric_every", metric_every, 1)
        callback_every = _count("callback_every", callback_every, 1)
        noise_code, noise_level, lo, hi = self._noise_args(input_noise)
        if epoch_loss not in ("running", "full"):
            raise ValueError(f"epoch_loss must be 'running' or 'full', got {epoch_loss!r}")

        k = _kernels()
        n = X.shape[0]
        batch = min(batch_size, n)
        # the full-set loss runs forward passes of up to 256 rows in the same buffers
        eval_rows = min(n, max(batch, 256)) if epoch_loss == "full" else 0
        a_off, buf, d1, d2 = self._buffers(max(batch, eval_rows))
        ybuf = np.zeros(batch * self.output_dim, dtype=self.dtype)
        grad = np.zeros_like(self._theta)
        s1 = np.zeros_like(self._theta)
        s2 = np.zeros_like(self._theta) if opt == "adam" else s1[:1]
        best_theta = self._theta.copy()
        hp = np.zeros(k.HP_SIZE, dtype=self.dtype)
        hp[[k.HP_LR, k.HP_MOMENTUM, k.HP_BETA1, k.HP_BETA2, k.HP_EPS, k.HP_WEIGHT_DECAY]] = (
            lr, momentum, b1, b2, eps, weight_decay)
        step = np.zeros(2, dtype=np.int64)  # optimizer steps, finished epochs
        perm = np.arange(n, dtype=np.int64)
        # one independent stream per fit call: refitting continues deterministically
        ss = np.random.SeedSequence(self.seed).spawn(2 + self._fits)[-1]
        self._fits += 1
        rng = ss.generate_state(1, dtype=np.uint64)
        losses = np.full(epochs, np.nan)
        track = np.array([np.inf, 0.0, np.inf, 0.0])
        slope = self.dtype.type(self.leaky_slope)
        loss_code = C.LOSSES[self.loss_name]
        opt_code = C.OPTIMIZERS[opt]
        metrics: dict[int, dict] = {}

        self.training = {
            "optimizer": opt, "lr": lr, "batch_size": batch_size, "epochs": epochs,
            "shuffle": bool(shuffle), "momentum": momentum, "betas": [b1, b2], "eps": eps,
            "weight_decay": weight_decay, "restore_best": bool(restore_best),
            "patience": patience or None, "min_delta": min_delta, "seed": self.seed,
            "input_noise": dict(input_noise) if input_noise else None, "n_samples": n,
            "epoch_loss": epoch_loss,
        }

        done = 0
        status = C.STATUS_OK
        chunk = 1
        t0 = time.perf_counter()
        stop_reason = "completed"
        interrupted = False
        bar = _progress(epochs) if progress else None
        try:
            while done < epochs:
                todo = min(chunk, epochs - done)
                for every, active in ((metric_every, metric), (callback_every, callback)):
                    if active is not None:
                        todo = min(todo, every - done % every)
                tc = time.perf_counter()
                ran, status = k.train_epochs(
                    self._theta, grad, s1, s2, best_theta, X, Y, self._sizes, self._w_off,
                    self._b_off, a_off, self._acts, slope, loss_code, opt_code, hp, step, batch,
                    todo, bool(shuffle), perm, rng, noise_code, noise_level, lo, hi, buf, ybuf,
                    d1, d2, losses[done:done + todo], track, done, patience, min_delta,
                    eval_rows)
                elapsed = time.perf_counter() - tc
                done += ran
                # the kernel tests only losses; an inf weight behind saturated units is caught here
                if status != C.STATUS_NONFINITE and not np.all(np.isfinite(self._theta)):
                    status = C.STATUS_NONFINITE
                if bar is not None:
                    bar(done, losses[done - 1])
                if status == C.STATUS_NONFINITE:
                    stop_reason = "diverged"
                    break
                if status == C.STATUS_EARLY_STOP:
                    stop_reason = "early_stop"
                    break
                if metric is not None and (done % metric_every == 0 or done == epochs):
                    metrics[done] = _metric_values(metric(self))
                if callback is not None and done % callback_every == 0:
                    if callback(self, self._history(losses, done, metrics)):
                        stop_reason = "callback"
                        break
                # grow or shrink the chunk towards _CHUNK_SECONDS of compiled work per call
                per_epoch = elapsed / max(ran, 1)
                chunk = int(min(max(1, _CHUNK_SECONDS / max(per_epoch, 1e-9)), 1 << 20))
        except KeyboardInterrupt:
            # the interrupt may land as a kernel call returns, losing its return value
            done = int(step[1])
            interrupted = True
            stop_reason = "interrupted"
        finally:
            if bar is not None:
                bar(None, None)
        seconds = time.perf_counter() - t0
        best_epoch = int(track[1])
        if (restore_best or status == C.STATUS_NONFINITE) and best_epoch > 0:
            self._theta[:] = best_theta
        if metric is not None and done > 0 and done not in metrics and stop_reason != "diverged":
            metrics[done] = _metric_values(metric(self))
        history = self._history(losses, done, metrics)
        self.history = history
        finite = losses[:done][np.isfinite(losses[:done])]
        steps = int(step[0])
        self.training.update({
            "epochs_run": int(done), "stop_reason": stop_reason, "steps": steps,
            "seconds": seconds, "steps_per_second": steps / seconds if seconds > 0 else None,
            "final_loss": float(finite[-1]) if finite.size else None,
            "best_loss": float(track[0]) if best_epoch > 0 else None,
            "best_epoch": best_epoch or None,
            "restored_best": bool((restore_best or status == C.STATUS_NONFINITE)
                                  and best_epoch > 0),
        })
        if status == C.STATUS_NONFINITE:
            where = (f"weights of epoch {best_epoch} (loss {track[0]:.6g}) restored"
                     if best_epoch else "initial weights kept")
            raise TrainingDiverged(f"loss became NaN/inf in epoch {done}; {where}. Lower the "
                                   f"learning rate (lr={lr}) or check the data scale")
        if interrupted:
            raise KeyboardInterrupt
        return history

    def _noise_args(self, spec):
        if not spec:
            return 0, 0.0, 0.0, 1.0
        if not isinstance(spec, dict):
            raise ValueError("input_noise must be a dict like {'kind': 'flip', 'level': 0.1}")
        unknown = set(spec) - {"kind", "level", "range"}
        if unknown:
            raise ValueError(f"input_noise: unknown keys {sorted(unknown)}")
        kind = C.noise_name(spec.get("kind", "none"))
        level = _positive("input_noise level", spec.get("level", 0.0), allow_zero=True)
        if kind in ("flip", "mask") and level > 1:
            raise ValueError(f"input_noise level is a probability for {kind!r}, got {level}")
        lo, hi = (float(v) for v in spec.get("range", self.metadata.get("pixel_range", [0, 1])))
        if not lo < hi:
            raise ValueError(f"input_noise range must be [low, high] with low < high, "
                             f"got {[lo, hi]}")
        if level == 0:  # no corruption, and no random draws that would change the shuffling
            return 0, 0.0, lo, hi
        return C.NOISE_KINDS[kind], level, lo, hi

    @staticmethod
    def _history(losses, done, metrics):
        frame = pd.DataFrame({"epoch": np.arange(1, done + 1), "loss": losses[:done]})
        names = sorted({k for m in metrics.values() for k in m})
        for name in names:
            col = np.full(done, np.nan)
            for ep, vals in metrics.items():
                if name in vals and ep <= done:
                    col[ep - 1] = vals[name]
            frame[name] = col
        return frame

    # -- persistence ---------------------------------------------------------------------------

    def config(self) -> dict:
        """The constructor arguments that rebuild this architecture."""
        hidden = [a for l, a in enumerate(self.activations)
                  if l not in (self.n_encoder_layers - 1, len(self.activations) - 1)]
        return {
            "layers": list(self._encoder_sizes), "decoder": list(self._decoder_sizes),
            "activation": hidden, "latent_activation": self.activations[self.n_encoder_layers - 1],
            "output_activation": self.activations[-1], "loss": self.loss_name, "init": self.init,
            "leaky_slope": self.leaky_slope, "seed": self.seed, "dtype": self.dtype.name,
        }

    def save(self, path) -> None:
        """Write the model to ``path`` (.npz) atomically."""
        meta = {"nbae_version": __version__, "sizes": list(self.sizes),
                "activations": list(self.activations), "config": self.config(),
                "training": _jsonable(self.training), "metadata": _jsonable(self.metadata),
                # fit() draws each call's shuffle/noise stream by its index: a loaded model
                # continues training exactly as the saved one would have
                "fit_calls": self._fits}
        save_model(path, meta, self._W, self._b)

    @classmethod
    def load(cls, path) -> Autoencoder:
        """Read a model written by :meth:`save`; raises ModelFileError on a bad file."""
        from nbae.engine.serialization import ModelFileError

        meta, weights, biases = load_model(path)
        cfg = meta.get("config")
        try:
            ae = cls(**cfg, metadata=meta.get("metadata") or {})
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: inconsistent architecture record: {exc}") from None
        if ae.sizes != meta["sizes"]:
            raise ModelFileError(f"{path}: layer sizes {meta['sizes']} do not match the "
                                 f"architecture record {ae.sizes}")
        ae.weights = weights
        ae.biases = biases
        ae.training = meta.get("training") or {}
        ae._fits = int(meta.get("fit_calls", 0))
        return ae


def _metric_values(values) -> dict:
    if isinstance(values, dict):
        return {str(k): float(v) for k, v in values.items()}
    return {"metric": float(values)}


def _jsonable(obj):
    """Plain-Python copy of ``obj`` for JSON (NumPy scalars/arrays become numbers/lists)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _progress(total):
    """A minimal progress reporter on stderr: a bar on a terminal, nothing otherwise."""
    import sys

    tty = sys.stderr.isatty()
    state = {"last": 0.0}

    def update(done, loss):
        if not tty:
            return
        if done is None:
            sys.stderr.write("\n")
            return
        now = time.perf_counter()
        if now - state["last"] < 0.1 and done < total:
            return
        state["last"] = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                         f"loss {loss:.4g}")
        sys.stderr.flush()

    return update
