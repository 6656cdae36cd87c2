"""The :class:`VAE`: a variational autoencoder over the kernels in :mod:`nbae.engine.vae_kernels`.

Same conventions as :class:`nbae.model.Autoencoder` (widths, activations, optimizers, seeds,
dtypes, ``fit`` chunking and history, atomic ``.npz`` files); the differences are the encoder's
two heads (mu and log sigma^2, fused into one layer of width ``2k``), the sampled code and the
loss (see :mod:`nbae.engine.vae_kernels` for the exact convention: per-sample
sums over features, mean over the batch, plus ``beta`` times the KL term).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from nbae.engine import codes as C
from nbae.engine.blas import blas_threads
from nbae.engine.initializers import init_weight
from nbae.engine.model import (
    _DTYPES,
    Autoencoder,
    _as_int_list,
    _check_matrix,
    _count,
    _positive,
)

MODEL_KIND = "vae"  # value of the metadata field "model" in a VAE's .npz file (nbae.engine.vae_io)
# reconstruction losses: the autoencoder's two plus categorical cross-entropy (softmax outputs)
LOSSES = {**C.LOSSES, "cce": 2}
_LOSS_ALIASES = {"categorical_crossentropy": "cce", "cross_entropy": "cce",
                 "categorical-crossentropy": "cce"}


def _kernels():
    from nbae.engine import (
        kernels,
        vae_kernels,  # Numba loads on first use
    )

    return kernels, vae_kernels


class VAE:
    """A dense variational autoencoder whose training loop runs in Numba.

    Parameters
    ----------
    layers : list of int
        Encoder widths, input first and latent size ``k`` last, e.g. ``[35, 25, 15, 5, 2]``; the
        last encoder layer is the pair of heads (mu, log sigma^2), each ``k`` wide.
    activation, output_activation, decoder, leaky_slope, seed, dtype, metadata
        As for :class:`~nbae.model.Autoencoder`. The heads have no activation.
    loss : {"bce", "mse", "cce"}
        Reconstruction term per sample, summed over features (default ``bce``, as in
        Kingma & Welling and pytorch/examples); ``cce``: categorical cross-entropy
        ``-sum_j y_j log a_j`` of a softmax output (targets are distributions over features).
    init : str
        Weight initialisation (default ``xavier``: the all-positive ``scaled-uniform`` gives
        large initial log-variances).
    beta : float
        Weight of the KL term (1: the ELBO; beta-VAE otherwise).
    kl_warmup : int
        Epochs over which the KL weight rises linearly from beta / kl_warmup to beta (0: none).
    dropout : float or list of float
        Dropout probability after the hidden layers, in training only (``torch.nn.Dropout``
        semantics, masks drawn in the compiled loop from the model's generator): one value for
        every hidden layer, or one per hidden layer (encoder's, then decoder's). Never on the
        heads or the output.
    """

    def __init__(self, layers, activation="tanh", output_activation="sigmoid", decoder=None,
                 loss="bce", init="xavier", leaky_slope=0.2, beta=1.0, kl_warmup=0, seed=0,
                 dtype="float64", dropout=0.0, metadata=None):
        enc = _as_int_list("layers", layers)
        if len(enc) < 2:
            raise ValueError(f"layers needs at least an input and a latent size, got {enc!r}")
        dec = enc[::-1] if decoder is None else _as_int_list("decoder", decoder)
        if len(dec) < 2 or dec[0] != enc[-1]:
            raise ValueError(f"decoder must run from the latent size {enc[-1]} to the output, "
                             f"e.g. [{enc[-1]}, ..., {enc[0]}]; got {dec!r}")
        self._encoder_sizes, self._decoder_sizes = enc, dec
        self.sizes = enc + dec[1:]
        self.n_encoder_layers = len(enc) - 1
        n_layers = len(self.sizes) - 1
        self.activations = Autoencoder._resolve_activations(
            activation, "identity", output_activation, n_layers, self.n_encoder_layers,
            mirrored=decoder is None)
        key = loss.strip().lower() if isinstance(loss, str) else loss
        self.loss_name = C._lookup("loss", _LOSS_ALIASES.get(key, key), LOSSES)
        if self.loss_name == "bce" and self.activations[-1] not in ("sigmoid", "softmax"):
            raise ValueError("loss 'bce' needs outputs in (0, 1): use output_activation "
                             f"'sigmoid' or 'softmax', not {self.activations[-1]!r}")
        if self.loss_name == "cce" and self.activations[-1] != "softmax":
            raise ValueError("loss 'cce' needs a softmax output: use output_activation "
                             f"'softmax', not {self.activations[-1]!r}")
        self.init = C.init_name(init)
        self.leaky_slope = _positive("leaky_slope", leaky_slope, allow_zero=True)
        self.beta = _positive("beta", beta, allow_zero=True)
        self.kl_warmup = _count("kl_warmup", kl_warmup, 0)
        self.dropout = self._resolve_dropout(dropout, n_layers)
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
        self.epochs_trained = 0  # drives the KL warm-up across fit calls
        self._layout()
        rng = np.random.default_rng(np.random.SeedSequence(self.seed).spawn(1)[0])
        head = self.n_encoder_layers - 1
        for l, (fi, fo) in enumerate(self.layer_shapes):
            if l == head:  # mu and log-variance heads drawn as two layers of width k
                w = np.hstack([init_weight(self.init, l, fi, fo // 2, rng) for _ in range(2)])
            else:
                w = init_weight(self.init, l, fi, fo, rng)
            self._W[l][...] = w

    def _resolve_dropout(self, dropout, n_layers):
        """Dropout probability of every weight layer's output (0 at the heads and output)."""
        hidden = [l for l in range(n_layers) if l not in (self.n_encoder_layers - 1, n_layers - 1)]
        if isinstance(dropout, (list, tuple)):
            if len(dropout) != len(hidden):
                raise ValueError(f"dropout lists {len(dropout)} values but the network has "
                                 f"{len(hidden)} hidden layers")
            values = list(dropout)
        else:
            values = [dropout] * len(hidden)
        out = [0.0] * n_layers
        for l, v in zip(hidden, values, strict=True):
            p = _positive("dropout", v, allow_zero=True)
            if p >= 1:
                raise ValueError(f"dropout must be in [0, 1), got {v!r}")
            out[l] = p
        return out

    def _layout(self):
        s, k, ne = self.sizes, self.latent_dim, self.n_encoder_layers
        self.layer_shapes = [(s[l], 2 * k if l == ne - 1 else s[l + 1]) for l in range(len(s) - 1)]
        w_off, b_off, total = [], [], 0
        for fi, fo in self.layer_shapes:
            w_off.append(total)
            total += fi * fo
            b_off.append(total)
            total += fo
        self._offsets = (w_off, b_off)
        self._theta = np.zeros(total, dtype=self.dtype)
        self._W = [self._theta[o:o + fi * fo].reshape(fi, fo)
                   for o, (fi, fo) in zip(w_off, self.layer_shapes, strict=True)]
        self._b = [self._theta[o:o + fo] for o, (_, fo) in zip(b_off, self.layer_shapes,
                                                              strict=True)]
        acts = np.array([C.ACTIVATIONS[a] for a in self.activations], dtype=np.int64)
        # backward codes: under CCE the softmax's gradient comes fused with the loss's
        acts_b = acts.copy()
        if self.loss_name == "cce":
            acts_b[-1] = C.ACTIVATIONS["identity"]
        self._dacts_b = acts_b[ne:]
        i64 = np.int64
        # the two chains of nbae.engine.vae_kernels: encoder (ending at [mu | logvar]) and decoder
        self._enc = (np.array(self._encoder_sizes[:-1] + [2 * k], dtype=i64),
                     np.array(w_off[:ne], dtype=i64), np.array(b_off[:ne], dtype=i64), acts[:ne])
        self._dec = (np.array(self._decoder_sizes, dtype=i64), np.array(w_off[ne:], dtype=i64),
                     np.array(b_off[ne:], dtype=i64), acts[ne:])

    # -- properties ----------------------------------------------------------------------------

    input_dim = Autoencoder.input_dim
    output_dim = Autoencoder.output_dim
    n_params = Autoencoder.n_params
    weights = Autoencoder.weights
    biases = Autoencoder.biases
    _set_params = Autoencoder._set_params
    get_params = Autoencoder.get_params

    @property
    def latent_dim(self) -> int:
        return self._encoder_sizes[-1]

    def __repr__(self):
        arch = "-".join(map(str, self.sizes))
        return (f"VAE({arch}, activations={self.activations}, loss={self.loss_name!r}, "
                f"beta={self.beta:g}, dtype={self.dtype.name!r})")

    # -- inference -----------------------------------------------------------------------------

    def _slope(self):
        return self.dtype.type(self.leaky_slope)

    def encode(self, X, return_sigma=False):
        """Posterior means mu of the rows of ``X`` (and the standard deviations sigma)."""
        X = self._check_inputs(X)
        k, _ = _kernels()
        es, ew, eb, ea = self._enc
        with blas_threads():
            H = k.predict(self._theta, X, es, ew, eb, ea, self._slope(), 0, ea.size, 256)
        mu = np.ascontiguousarray(H[:, :self.latent_dim])
        if not return_sigma:
            return mu
        return mu, np.exp(0.5 * H[:, self.latent_dim:])

    def decode(self, Z) -> np.ndarray:
        """Outputs decoded from latent codes ``Z``."""
        Z = self._check_codes(Z)
        k, _ = _kernels()
        ds, dw, db, da = self._dec
        with blas_threads():
            return k.predict(self._theta, Z, ds, dw, db, da, self._slope(), 0, da.size, 256)

    def reconstruct(self, X) -> np.ndarray:
        """Decode the posterior means of ``X`` (deterministic)."""
        return self.decode(self.encode(X))

    predict = reconstruct

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """Decode ``n`` codes drawn from the prior N(0, I) (NumPy generator seeded by ``seed``)."""
        return self.decode(self._prior_codes(n, seed))

    def _check_inputs(self, X):
        return _check_matrix("X", X, self.input_dim, self.dtype)

    def _check_codes(self, Z):
        return _check_matrix("Z", Z, self.latent_dim, self.dtype)

    def _prior_codes(self, n, seed):
        return np.random.default_rng(seed).standard_normal((_count("n", n, 1), self.latent_dim))

    def loss_terms(self, X, Y=None, n_samples: int = 1, seed: int = 0) -> dict:
        """Per-row ``reconstruction`` (Monte-Carlo mean over ``n_samples`` codes) and ``kl``.

        With BCE targets in {0, 1}, ``-(reconstruction + kl)`` is the ELBO of each row in nats.
        """
        return loss_terms(self, X, Y, n_samples, seed, self.encode, self.decode, np.log)

    def loss(self, X, Y=None, n_samples: int = 1, seed: int = 0) -> float:
        """Mean over rows of reconstruction + beta * KL (the training loss, Monte-Carlo)."""
        t = self.loss_terms(X, Y, n_samples=n_samples, seed=seed)
        return float((t["reconstruction"] + self.beta * t["kl"]).mean())

    def _targets(self, X, Y):
        Y = Autoencoder._targets(self, X, Y)
        if self.loss_name == "cce" and Y.min() < 0:
            raise ValueError("loss 'cce' needs non-negative targets (distributions over the "
                             "output features)")
        return Y

    # -- gradients and training ----------------------------------------------------------------

    def _buffers(self, cap):
        """(ea, da, buf, d1, d2, dropout arguments) for batches of up to ``cap`` rows."""
        es, ds = self._enc[0], self._dec[0]
        ne = self.n_encoder_layers
        ea = np.zeros(es.size, dtype=np.int64)
        da = np.zeros(ds.size, dtype=np.int64)
        total = 0
        for offs, widths in ((ea, es), (da, ds)):
            for i, w in enumerate(widths):
                offs[i] = total
                total += cap * int(w)
        drops = []  # per chain: probabilities and the offsets of dropped copies and masks
        for widths, p in ((es, self.dropout[:ne]), (ds, self.dropout[ne:])):
            do = np.zeros((2, len(p)), dtype=np.int64)
            for l, pl in enumerate(p):
                if pl > 0:
                    for r in range(2):
                        do[r, l] = total
                        total += cap * int(widths[l + 1])
            drops += [np.array(p, dtype=np.float64), do]
        width = max(int(es.max()), int(ds.max()))
        tmp = np.zeros(max(es.size, ds.size), dtype=np.int64)
        return (ea, da, np.zeros(total, self.dtype), np.zeros(cap * width, self.dtype),
                np.zeros(cap * width, self.dtype), (*drops, tmp))

    def _chains(self, ea, da):
        es, ew, eb, eacts = self._enc
        ds, dw, db, dacts = self._dec
        return (es, ew, eb, ea, eacts, ds, dw, db, da, dacts, self._dacts_b)

    def gradients(self, X, eps, Y=None, beta=None, dropout_seed=0, reproducible=False):
        """Batch loss of all rows of ``X`` with noise ``eps`` (n, k) and its gradients.

        Returns (loss, [dL/dW_l], [dL/db_l]) like ``Autoencoder.gradients``; ``beta`` defaults
        to the model's. ``eps`` fixes the sample z = mu + sigma * eps, and ``dropout_seed`` the
        dropout masks (if any), so the loss is a deterministic function of the parameters
        (finite-difference checks). ``reproducible`` computes them in ``fit``'s reproducible
        arithmetic.
        """
        X = _check_matrix("X", X, self.input_dim, self.dtype)
        Y = self._targets(X, Y)
        E = _check_matrix("eps", eps, self.latent_dim, self.dtype).copy()  # the kernel writes
        if len(E) != len(X) or len(Y) != len(X):
            raise ValueError(f"X, Y and eps need the same rows, got {len(X)}, {len(Y)}, "
                             f"{len(E)}")
        k, vk = _kernels()
        ea, da, buf, d1, d2, drop = self._buffers(len(X))
        rng = np.random.SeedSequence(int(dropout_seed)).generate_state(1, dtype=np.uint64)
        grad = np.zeros_like(self._theta)
        out = np.zeros(3)
        beta = self.beta if beta is None else _positive("beta", beta, allow_zero=True)
        lanes = self._arithmetic(reproducible)
        with blas_threads():
            vk.vae_loss_and_grad(self._theta, grad, X, Y, *self._chains(ea, da), self._slope(),
                                 LOSSES[self.loss_name], beta, buf, E, np.zeros_like(E), d1,
                                 d2, out, *drop, rng, lanes)
        gW = [grad[o:o + fi * fo].reshape(fi, fo)
              for o, (fi, fo) in zip(self._offsets[0], self.layer_shapes, strict=True)]
        gb = [grad[o:o + fo] for o, (_, fo) in zip(self._offsets[1], self.layer_shapes,
                                                  strict=True)]
        self.last_loss_terms = {"loss": float(out[0]), "reconstruction": float(out[1]),
                                "kl": float(out[2])}
        return float(out[0]), gW, gb

    def fit(self, X, Y=None, epochs=1000, batch_size=5, optimizer="adam", lr=1e-3,
            shuffle=True, momentum=0.0, betas=(0.9, 0.999), eps=None, weight_decay=0.0,
            restore_best=True, patience=None, min_delta=0.0, metric=None, metric_every=100,
            callback=None, callback_every=100, input_noise=None, latent_noise=None,
            progress=False, reproducible=False) -> pd.DataFrame:
        """Train; return the history (epoch, loss, reconstruction, kl, beta).

        Arguments as in ``Autoencoder.fit``; each epoch's values are sample-weighted means of
        its mini-batch values, each taken before its update (the "running" epoch loss).
        ``restore_best`` and ``patience`` look at epochs after the KL warm-up only;
        ``metric(vae) -> dict`` adds history columns every ``metric_every`` epochs;
        ``input_noise`` corrupts the inputs (not the targets) as in ``Autoencoder.fit``.
        ``latent_noise`` (rows of k standard normals, one row per sample visit, consumed in
        training order; at least ``epochs * n`` rows) replaces the generator's eps: with it
        another framework can reproduce the run exactly.
        ``reproducible=True`` trains with the arithmetic of ``Autoencoder.fit(reproducible=True)``
        (the lanes engine's fixed-order products and the project's own exp, log, sin and cos
        instead of BLAS and libm; ``nbae.engine.vae_arith``): the weights are the same bits on
        every x86-64 machine. Not with dropout.
        """
        from nbae.engine.vae_train import fit_vae

        return fit_vae(self, X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                       lr=lr, shuffle=shuffle, momentum=momentum, betas=betas, eps=eps,
                       weight_decay=weight_decay, restore_best=restore_best, patience=patience,
                       min_delta=min_delta, metric=metric, metric_every=metric_every,
                       callback=callback, callback_every=callback_every,
                       input_noise=input_noise, latent_noise=latent_noise, progress=progress,
                       reproducible=reproducible)

    def _arithmetic(self, reproducible):
        """The kernels' ``lanes`` argument: the reproducible or the default arithmetic."""
        from nbae.engine.vae_arith import DEFAULT, EXACT

        if not reproducible:
            return DEFAULT
        if any(p > 0 for p in self.dropout):
            raise ValueError("reproducible=True does not support dropout (its masked layers "
                             "run on BLAS); use dropout=0 or reproducible=False")
        return EXACT

    def _history(self, losses, done, epoch0, metrics):
        from nbae.engine.vae_kernels import COL_KL, COL_LOSS, COL_REC

        ep = np.arange(epoch0 + 1, epoch0 + done + 1)
        w = self.kl_warmup
        beta = self.beta * (np.minimum(1.0, ep / w) if w > 0 else np.ones(done))
        frame = pd.DataFrame({"epoch": ep, "loss": losses[:done, COL_LOSS],
                              "reconstruction": losses[:done, COL_REC],
                              "kl": losses[:done, COL_KL], "beta": beta})
        # metric columns as in Autoencoder: NaN except at the epochs where they were measured
        extra = Autoencoder._history(np.zeros(done), done, metrics)
        for name in extra.columns[2:]:
            frame[name] = extra[name].to_numpy()
        return frame

    # -- persistence ---------------------------------------------------------------------------

    def config(self) -> dict:
        """The constructor arguments that rebuild this architecture."""
        ne = self.n_encoder_layers
        hidden = [a for l, a in enumerate(self.activations)
                  if l not in (ne - 1, len(self.activations) - 1)]
        return {"layers": list(self._encoder_sizes), "decoder": list(self._decoder_sizes),
                "activation": hidden, "output_activation": self.activations[-1],
                "loss": self.loss_name, "init": self.init, "leaky_slope": self.leaky_slope,
                "beta": self.beta, "kl_warmup": self.kl_warmup, "seed": self.seed,
                "dtype": self.dtype.name,
                "dropout": [p for l, p in enumerate(self.dropout)
                            if l not in (ne - 1, len(self.dropout) - 1)]}

    def save(self, path) -> None:
        """Write the model to ``path`` (.npz, atomically); metadata ``model`` is ``"vae"``."""
        from nbae.engine.vae_io import save_vae

        save_vae(self, path)

    @classmethod
    def load(cls, path) -> VAE:
        """Read a model written by :meth:`save`; raises ModelFileError on a bad file."""
        from nbae.engine.vae_io import load_vae

        return load_vae(path, cls)


def _fsum_rows(a):
    return np.array([math.fsum(row) for row in np.atleast_2d(a)])


def loss_terms(vae, X, Y, n_samples, seed, encode, decode, log, exact=False) -> dict:
    """``VAE.loss_terms`` through the given ``encode``, ``decode`` and ``log``; ``exact``
    (nbae.engine.exact's evaluator): log(1 - a) instead of NumPy's log1p and every sum by
    math.fsum (NumPy's reductions may sum in an order that depends on the CPU's vectors)."""
    X = vae._check_inputs(X)
    Y = vae._targets(X, Y)
    rowsum = _fsum_rows if exact else (lambda a: a.sum(axis=1))
    mu, sigma = (np.asarray(a, dtype=np.float64) for a in encode(X, return_sigma=True))
    kl = -0.5 * rowsum(1.0 + 2.0 * log(sigma) - mu**2 - sigma**2)
    rng = np.random.default_rng(seed)
    rec = np.zeros(len(X))
    y = Y.astype(np.float64)
    for _ in range(_count("n_samples", n_samples, 1)):
        a = np.asarray(decode(mu + sigma * rng.standard_normal(mu.shape)), np.float64)
        if vae.loss_name == "mse":
            rec += rowsum((a - y) ** 2)
        elif vae.loss_name == "cce":
            with np.errstate(divide="ignore"):
                rec -= rowsum(y * np.maximum(log(a), -100.0))
        else:
            with np.errstate(divide="ignore"):
                la = np.maximum(log(a), -100.0)
                l1a = np.maximum(log(1.0 - a) if exact else np.log1p(-a), -100.0)
            rec -= rowsum(y * la + (1 - y) * l1a)
    return {"reconstruction": rec / n_samples, "kl": kl}
