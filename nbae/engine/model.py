"""The Autoencoder class: architecture, parameters, inference, gradients and persistence.

``fit`` lives in :mod:`nbae.engine.training` (mixed in); the compiled code in
:mod:`nbae.engine.kernels`.

A network is a chain of dense layers ``A_{l+1} = f_l(A_l W_l + b_l)`` whose widths are
``sizes = encoder + decoder[1:]``; by default the decoder mirrors the encoder, so
``layers=[35, 20, 10, 2]`` gives ``35-20-10-2-10-20-35``. The encoder is the first
``len(layers) - 1`` weight layers and ends in the latent code.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from nbae import __version__
from nbae.engine import codes as C
from nbae.engine.blas import blas_threads
from nbae.engine.checks import as_int_list, check_matrix, count, positive
from nbae.engine.history import history_frame, metric_values, progress_callback
from nbae.engine.initializers import init_weight
from nbae.engine.serialization import load_model, save_model
from nbae.engine.training import _CHUNK_SECONDS, TrainingMixin  # noqa: F401  (see below)
from nbae.errors import TrainingDiverged

_DTYPES = {"float64": np.float64, "float32": np.float32}

# Former private names of this module that the VAE (nbae.engine.vae, vae_train, vae_io) and the
# lanes ensemble still import from here; new code imports checks/history/training directly.
__all__ = ["Autoencoder", "TrainingDiverged"]
_as_int_list, _check_matrix, _count, _positive = as_int_list, check_matrix, count, positive
_metric_values, _progress = metric_values, progress_callback


class Autoencoder(TrainingMixin):
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
        enc = as_int_list("layers", layers)
        if len(enc) < 2:
            raise ValueError(f"layers needs at least an input and a latent size, got {enc!r}")
        dec = enc[::-1] if decoder is None else as_int_list("decoder", decoder)
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
        self.leaky_slope = positive("leaky_slope", leaky_slope, allow_zero=True)
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
        self._views()

    def _views(self) -> None:
        """Per-layer weight and bias arrays as views of the flat parameter vector."""
        sizes, w_off, b_off = self.sizes, self._w_off, self._b_off
        n_layers = len(sizes) - 1
        self._W = [self._theta[w_off[l]:w_off[l] + sizes[l] * sizes[l + 1]]
                   .reshape(sizes[l], sizes[l + 1]) for l in range(n_layers)]
        self._b = [self._theta[b_off[l]:b_off[l] + sizes[l + 1]] for l in range(n_layers)]

    def __setstate__(self, state) -> None:
        # pickle (Dask sends models between processes) copies views apart from their base
        self.__dict__.update(state)
        self._views()

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
        X = check_matrix(name, X, self.sizes[l0], self.dtype)
        k = self._kernels()
        with blas_threads():
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
        k = self._kernels()
        return float(k.loss_value(out, Y, C.LOSSES[self.loss_name]))

    def _targets(self, X, Y):
        if Y is None:
            Y = X
        Y = check_matrix("Y", Y, self.output_dim, self.dtype)
        if self.loss_name == "bce" and (Y.min() < 0 or Y.max() > 1):
            raise ValueError("loss 'bce' needs targets in [0, 1]; rescale Y or use loss 'mse'")
        return Y

    _history = staticmethod(history_frame)  # (losses, done, metrics) -> DataFrame

    @staticmethod
    def _kernels():
        from nbae.engine import kernels  # on first use: loading Numba code is not free

        return kernels

    def _network(self):
        """The layout and loss as the kernels' ``Network`` tuple."""
        return self._kernels().Network(self._sizes, self._w_off, self._b_off, self._acts,
                                       self.dtype.type(self.leaky_slope),
                                       C.LOSSES[self.loss_name])

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
        X = check_matrix("X", X, self.input_dim, self.dtype)
        Y = self._targets(X, Y)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        k = self._kernels()
        a_off, buf, d1, d2 = self._buffers(X.shape[0])
        grad = np.zeros_like(self._theta)
        with blas_threads():
            loss = k.loss_and_grad(self._theta, grad, X, Y, self._sizes, self._w_off,
                                   self._b_off, a_off, self._acts,
                                   self.dtype.type(self.leaky_slope), C.LOSSES[self.loss_name],
                                   buf, d1, d2)
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
            progress=False, reproducible=False, threads=1) -> pd.DataFrame:
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

        ``reproducible=True`` trains with the lanes engine's arithmetic instead of BLAS (fixed
        summation order, no fast-math, own exp/log/tanh): the weights are bit-identical on every
        x86-64 machine with the same package versions, and to this model's lane in
        ``nbae.studies.ensemble.fit_many``. ``threads`` (reproducible only) splits the
        products and updates of large layers (batch x fan-in x fan-out >= 2^18) over that
        many threads, with the same bits; the BLAS engine's threads are set by
        ``NBAE_BLAS_THREADS`` instead.
        """
        if threads != 1 and not reproducible:
            raise ValueError("threads applies to reproducible=True; the BLAS engine's threads "
                             "are set by NBAE_BLAS_THREADS")
        if reproducible:
            from nbae.engine.ensemble import fit_reproducible

            return fit_reproducible(
                self, X, Y, metric=metric, metric_every=metric_every, callback=callback,
                callback_every=callback_every, progress=progress, epochs=epochs,
                batch_size=batch_size, optimizer=optimizer, lr=lr, shuffle=shuffle,
                momentum=momentum, betas=betas, eps=eps, weight_decay=weight_decay,
                restore_best=restore_best, patience=patience, min_delta=min_delta,
                input_noise=input_noise, epoch_loss=epoch_loss, threads=threads)
        X, Y, settings = self._validate_hyperparameters(
            X, Y, epochs, batch_size, optimizer, lr, shuffle, momentum, betas, eps, weight_decay,
            restore_best, patience, min_delta, metric, metric_every, callback, callback_every,
            input_noise, epoch_loss, progress)
        state = self._initialize(X.shape[0], settings)
        self.training = self._training_record(settings, X.shape[0])
        self._fit_stochastic(X, Y, settings, state)
        return self._finish_fit(settings, state)

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
