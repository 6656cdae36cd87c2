"""The metadata record of a model file, field by field: what ``load_model`` checks before it
spends memory on any array (types, ranges, names, layer sizes, training record, the user's
metadata). Every failure is a one-line :class:`ModelFileError` naming the file and the dotted
field. The limits below are the format's; :mod:`nbae.engine.serialization` reads the zip and
the arrays around these checks.
"""

from __future__ import annotations

import math
from pathlib import Path

from nbae.engine import codes as C

FORMAT = "nbae-autoencoder"
FORMAT_VERSION = 1
MAX_WIDTH = 1 << 20  # units in one layer
MAX_LAYERS = 256  # weight layers
MAX_PARAMS = 1 << 26  # weights + biases (512 MiB as float64); load_model(max_params=) raises it
MAX_META_BYTES = 64 << 20  # the metadata record holds labels and, for fonts, training inputs
# fit() spawns its random stream by the number of earlier fits, O(fit_calls) work per fit
MAX_FIT_CALLS = 100_000
MAX_COUNT = 1 << 53  # epochs, steps, samples: any integer a float counter stays exact for
MAX_SEED = 1 << 128
_CONFIG_KEYS = {"layers", "decoder", "activation", "latent_activation", "output_activation",
                "loss", "init", "leaky_slope", "seed", "dtype"}

class ModelFileError(ValueError):
    """A model file that cannot be read: missing, truncated, foreign or inconsistent."""


def _clip(text, n: int = 60) -> str:
    """``text`` on one line, at most ``n`` characters: messages quote hostile values."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _short(value) -> str:
    return _clip(repr(value))


# ------------------------------------------------------------------------- metadata fields


class _Fields:
    """Type and range checks of metadata fields; a failure names the file and dotted field."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str, what: str, value) -> ModelFileError:
        return ModelFileError(f"{self.path}: metadata field '{field}': expected {what}, got "
                              f"{_short(value)}")

    def integer(self, field, v, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise self.fail(field, f"an integer from {lo} to {hi}", v)
        return v

    def number(self, field, v, lo=-math.inf, hi=math.inf, *, open_lo=False, open_hi=False):
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) \
            and (lo < v if open_lo else lo <= v) and (v < hi if open_hi else v <= hi)
        if not ok:
            what = (f"a finite number {'>' if open_lo else '>='} {lo:g}" if hi == math.inf else
                    f"a number in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}")
            raise self.fail(field, what, v)
        return float(v)

    def name(self, field, v, lookup) -> str:
        try:
            return lookup(v)
        except ValueError as exc:
            raise self.fail(field, str(exc).split(";")[-1].strip(), v) from None

    def text(self, field, v) -> str:
        if not isinstance(v, str):
            raise self.fail(field, "a string", v)
        return v

    def ints(self, field, v, min_len: int, max_len: int) -> list[int]:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            raise self.fail(field, f"a list of {min_len} to {max_len} layer widths", v)
        return [self.integer(f"{field}[{i}]", x, 1, MAX_WIDTH) for i, x in enumerate(v)]

    def numbers(self, field, v, n: int, nulls: bool = False) -> list:
        """A list of ``n`` finite numbers (``nulls``: null stands for a non-finite value)."""
        if not isinstance(v, list) or len(v) != n:
            raise self.fail(field, f"a list of {n} numbers", v)
        return [x if x is None and nulls else self.number(f"{field}[{i}]", x)
                for i, x in enumerate(v)]

    def matrix(self, field, v, shape=None, nulls: bool = False) -> None:
        """A rectangular list of lists of finite numbers (``nulls`` as in :meth:`numbers`)."""
        rows = v if isinstance(v, list) and all(isinstance(r, list) for r in v) else None
        ok = rows is not None and len({len(r) for r in rows}) <= 1 and all(
            (x is None and nulls) or (not isinstance(x, bool) and isinstance(x, (int, float))
                                      and math.isfinite(x)) for r in rows for x in r)
        if ok and shape is not None:
            ok = (len(rows), len(rows[0]) if rows else 0) == shape
        if not ok:
            raise self.fail(field, "a matrix of finite numbers" + (f" of shape {shape}"
                                                                   if shape else ""), v)


def _check_meta(meta: dict, path: Path) -> list[int]:
    """Check every metadata field the package reads; return the layer sizes."""
    F = _Fields(path)
    version = meta.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version} is newer than this nbae "
                             f"understands ({FORMAT_VERSION}); upgrade nbae")
    F.integer("format_version", version, 1, FORMAT_VERSION)
    if "nbae_version" in meta:
        F.text("nbae_version", meta["nbae_version"])
    sizes = F.ints("sizes", meta.get("sizes"), 2, MAX_LAYERS + 1)
    acts = meta.get("activations")
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise F.fail("activations", f"a list of {len(sizes) - 1} activation names", acts)
    for i, a in enumerate(acts):
        F.name(f"activations[{i}]", a, C.activation_name)
    n_encoder = _check_config(F, meta.get("config"), sizes)
    _check_training(F, meta.get("training"))
    _check_user_metadata(F, meta.get("metadata"), sizes, sizes[n_encoder])
    F.integer("fit_calls", meta.get("fit_calls", 0), 0, MAX_FIT_CALLS)
    return sizes


def _check_config(F: _Fields, cfg, sizes: list[int]) -> int:
    """The constructor arguments; returns the number of encoder layers."""
    if not isinstance(cfg, dict):
        raise F.fail("config", "a mapping of constructor arguments", cfg)
    unknown = sorted(map(str, set(cfg) - _CONFIG_KEYS))
    if unknown:
        raise F.fail("config", f"only the keys {sorted(_CONFIG_KEYS)}", unknown)
    layers = F.ints("config.layers", cfg.get("layers"), 2, MAX_LAYERS)
    decoder = cfg.get("decoder")
    decoder = layers[::-1] if decoder is None else F.ints("config.decoder", decoder, 2,
                                                          MAX_LAYERS)
    if decoder[0] != layers[-1] or layers + decoder[1:] != sizes:
        raise F.fail("config.layers", f"encoder and decoder widths that make sizes {sizes}",
                     [layers, decoder])
    activation = cfg.get("activation", "tanh")
    if isinstance(activation, list) and len(activation) <= MAX_LAYERS:
        for i, a in enumerate(activation):
            F.name(f"config.activation[{i}]", a, C.activation_name)
    else:
        F.name("config.activation", activation, C.activation_name)
    for key, default in (("latent_activation", "identity"), ("output_activation", "sigmoid")):
        F.name(f"config.{key}", cfg.get(key, default), C.activation_name)
    F.name("config.loss", cfg.get("loss", "mse"), C.loss_name)
    F.name("config.init", cfg.get("init", "scaled-uniform"), C.init_name)
    F.number("config.leaky_slope", cfg.get("leaky_slope", 0.2), 0.0)
    F.integer("config.seed", cfg.get("seed", 0), 0, MAX_SEED - 1)
    if cfg.get("dtype", "float64") not in ("float32", "float64"):
        raise F.fail("config.dtype", "'float32' or 'float64'", cfg.get("dtype"))
    return len(layers) - 1


_COUNTS = ("batch_size", "epochs", "n_samples", "epochs_run", "steps", "patience", "best_epoch")
_FLAGS = ("shuffle", "restore_best", "restored_best")
_OPTIONAL = ("patience", "best_epoch", "input_noise", "seconds", "steps_per_second",
             "final_loss", "best_loss")  # null when unused or not finite


def _check_training(F: _Fields, training) -> None:
    """The settings and outcome of the last fit (free-form beyond the keys fit writes)."""
    if training is None:
        return
    if not isinstance(training, dict):
        raise F.fail("training", "a mapping", training)
    for key, v in training.items():
        field = f"training.{key}"
        if v is None and key in _OPTIONAL:
            continue
        if key == "optimizer":
            F.name(field, v, C.optimizer_name)
        elif key in ("lr", "eps"):
            F.number(field, v, 0.0, open_lo=True)
        elif key in ("weight_decay", "min_delta", "seconds", "steps_per_second"):
            F.number(field, v, 0.0)
        elif key == "momentum":
            F.number(field, v, 0.0, 1.0, open_hi=True)
        elif key == "betas":
            if not isinstance(v, list) or len(v) != 2:
                raise F.fail(field, "a pair of numbers in [0, 1)", v)
            for i, b in enumerate(v):
                F.number(f"{field}[{i}]", b, 0.0, 1.0, open_hi=True)
        elif key in _COUNTS:
            F.integer(field, v, 0, MAX_COUNT)
        elif key == "seed":
            F.integer(field, v, 0, MAX_SEED - 1)
        elif key in _FLAGS and not isinstance(v, bool):
            raise F.fail(field, "true or false", v)
        elif key in ("final_loss", "best_loss"):
            F.number(field, v)
        elif key == "epoch_loss" and v not in ("running", "full"):
            raise F.fail(field, "'running' or 'full'", v)
        elif key == "stop_reason":
            F.text(field, v)
        elif key == "input_noise":
            _check_noise(F, field, v)


def _check_noise(F: _Fields, field: str, v) -> None:
    if not isinstance(v, dict) or set(v) - {"kind", "level", "range"}:
        raise F.fail(field, "a mapping with kind, level and range", v)
    F.name(f"{field}.kind", v.get("kind", "none"), C.noise_name)
    F.number(f"{field}.level", v.get("level", 0.0), 0.0)
    if "range" in v:
        _check_range(F, f"{field}.range", v["range"])


def _check_range(F: _Fields, field: str, v) -> None:
    lo, hi = F.numbers(field, v, 2)
    if not lo < hi:
        raise F.fail(field, "[low, high] with low < high", v)


def _check_user_metadata(F: _Fields, md, sizes: list[int], latent: int) -> None:
    """Free-form, except for the keys the package itself reads back."""
    if md is None:
        return
    if not isinstance(md, dict):
        raise F.fail("metadata", "a mapping", md)
    if md.get("pixel_range") is not None:
        _check_range(F, "metadata.pixel_range", md["pixel_range"])
    shape = md.get("image_shape")
    if shape is not None:
        if not isinstance(shape, list) or len(shape) != 2:
            raise F.fail("metadata.image_shape", "[rows, columns]", shape)
        for i, s in enumerate(shape):
            F.integer(f"metadata.image_shape[{i}]", s, 1, MAX_WIDTH)
    labels = md.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(
            isinstance(x, (str, int, float)) for x in labels)):
        raise F.fail("metadata.labels", "a list of labels", labels)
    if md.get("train_inputs") is not None:
        F.matrix("metadata.train_inputs", md["train_inputs"])
    for key in ("dataset", "architecture"):
        if md.get(key) is not None:
            F.text(f"metadata.{key}", md[key])
    if md.get("denoising") is not None:
        if not isinstance(md["denoising"], dict):
            raise F.fail("metadata.denoising", "a mapping", md["denoising"])
        if "mode" in md["denoising"]:
            F.text("metadata.denoising.mode", md["denoising"]["mode"])
    stats = md.get("latent_stats")
    if stats is not None:
        if not isinstance(stats, dict):
            raise F.fail("metadata.latent_stats", "a mapping", stats)
        for key in ("mean", "min", "max"):
            if key in stats:
                F.numbers(f"metadata.latent_stats.{key}", stats[key], latent, nulls=True)
        if "cov" in stats:
            F.matrix("metadata.latent_stats.cov", stats["cov"], (latent, latent), nulls=True)
