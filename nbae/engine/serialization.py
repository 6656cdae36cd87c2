"""Saving and loading models: one ``.npz`` with the weights and a JSON metadata record.

Layout: arrays ``W0, b0, W1, b1, ...`` and ``meta``, a 0-d unicode array holding JSON with the
format name and version, the nbae version, the architecture, dtype, training settings and the
user's free-form metadata. Loading never unpickles.

A model file may come from anywhere, so :func:`load_model` trusts nothing in it and spends
memory only on what it has checked: the zip's member list first (names, declared sizes), then
the metadata record (its .npy header and size, then every field the package uses: types,
ranges, names, and the parameter count against ``max_params``), then each array's .npy header
(float32/float64 only, the shape the layers need, the member's uncompressed size exactly that
of the header plus the data); only then is any array decompressed, never beyond its declared
size. Every problem is a one-line :class:`ModelFileError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from nbae.engine import codes as C
from nbae.fileio import atomic_path

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
_NPY_HEADER_MAX = 10_000  # numpy's own default limit for .npy headers
_CONFIG_KEYS = {"layers", "decoder", "activation", "latent_activation", "output_activation",
                "loss", "init", "leaky_slope", "seed", "dtype"}
_ARRAY = re.compile(r"([Wb])(\d{1,4})\.npy")


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, truncated, foreign or inconsistent."""


def save_model(path, meta: dict, weights, biases) -> None:
    arrays = {"meta": np.array(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                           **meta}, allow_nan=False))}
    for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
        arrays[f"W{l}"] = np.ascontiguousarray(W)
        arrays[f"b{l}"] = np.ascontiguousarray(b)
    try:
        with atomic_path(Path(path), suffix=".npz") as tmp:
            # np.savez appends .npz to names without it; the temp name already ends in .npz
            np.savez(tmp, **arrays)
    except OSError as exc:
        if exc.errno is None:
            raise
        # the failure concerns the user's file, not the hidden temporary one it mentions
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None


def _clip(text, n: int = 60) -> str:
    """``text`` on one line, at most ``n`` characters: messages quote hostile values."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _short(value) -> str:
    return _clip(repr(value))


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_model(path, *, max_params: int = MAX_PARAMS):
    """Return (meta, weights, biases) from ``path``; raise ModelFileError on any problem.

    ``max_params`` caps the parameter count a file may declare (memory is spent only after
    every check passed). The arrays keep the file's dtype (float32 or float64, native order).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({_why(exc)})") from None
    if magic != b"PK\x03\x04":
        raise ModelFileError(f"{path}: not an nbae model (.npz) file")
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # noqa: BLE001 -- zipfile raises many kinds on a hostile file
        raise ModelFileError(f"{path}: not a readable .npz model file (truncated or corrupt?): "
                             f"{_why(exc)}") from None
    with zf:
        members = _members(zf, path)
        meta = _read_meta(zf, members, path)
        sizes = _check_meta(meta, path)
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
        if n_params > max_params:
            raise ModelFileError(f"{path}: the layers {sizes} hold {n_params} parameters, more "
                                 f"than the limit of {max_params} (load_model(max_params=...))")
        wanted = {f"{c}{l}.npy" for l in range(len(sizes) - 1) for c in "Wb"}
        extra = sorted(set(members) - wanted - {"meta.npy"})
        if extra:
            raise ModelFileError(f"{path}: unexpected arrays {extra} for a "
                                 f"{len(sizes) - 1}-layer model")
        dtype = meta["config"].get("dtype", "float64")  # checked: float32 or float64
        headers = {}
        for l in range(len(sizes) - 1):  # every header before any data
            for key, shape in ((f"W{l}", (sizes[l], sizes[l + 1])), (f"b{l}", (sizes[l + 1],))):
                if f"{key}.npy" not in members:
                    raise ModelFileError(f"{path}: array {key} is missing")
                headers[key] = _float_header(zf, members[f"{key}.npy"], key, shape, path)
                if headers[key][0].itemsize != np.dtype(dtype).itemsize:
                    raise ModelFileError(f"{path}: array {key} is {headers[key][0].name} but "
                                         f"the model's dtype is {dtype}")
        arrays = {key: _read_data(zf, members[f"{key}.npy"], key, head, path)
                  for key, head in headers.items()}
    weights = [arrays[f"W{l}"] for l in range(len(sizes) - 1)]
    biases = [arrays[f"b{l}"] for l in range(len(sizes) - 1)]
    return meta, weights, biases


# ------------------------------------------------------------------------- zip and npy


def _members(zf: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """Member name -> ZipInfo; foreign names and duplicates are refused before any read."""
    members: dict[str, zipfile.ZipInfo] = {}
    if "meta.npy" not in zf.namelist():
        raise ModelFileError(f"{path}: not an nbae model (no metadata record)")
    for info in zf.infolist():
        name = info.filename
        if name != "meta.npy" and not _ARRAY.fullmatch(name):
            raise ModelFileError(f"{path}: unexpected member {_short(name)} (an nbae model holds "
                                 f"meta, W0, b0, W1, b1, ...)")
        if name in members:
            raise ModelFileError(f"{path}: member {name} appears twice")
        members[name] = info
    return members


def _header(zf, info: zipfile.ZipInfo, key: str, path: Path):
    """(dtype, shape, fortran_order, header bytes) of a member's .npy header, data unread."""
    try:
        with zf.open(info) as f:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(f, _NPY_HEADER_MAX)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(f, _NPY_HEADER_MAX)
            else:
                raise ValueError(f".npy format version {version} is not supported")
            offset = f.tell()
    except Exception as exc:  # noqa: BLE001 -- a hostile header may fail in many ways
        raise ModelFileError(f"{path}: array {key} is damaged or not a .npy array "
                             f"({_why(exc)})") from None
    return dtype, shape, bool(fortran), offset


def _float_header(zf, info, key: str, shape: tuple, path: Path):
    """Check a weight/bias header: float32/float64, ``shape``, and the member's exact size."""
    dtype, got, fortran, offset = _header(zf, info, key, path)
    if dtype.fields is not None or dtype.subdtype is not None or dtype.kind != "f" \
            or dtype.itemsize not in (4, 8):
        raise ModelFileError(f"{path}: array {key} has dtype {_clip(dtype)}; "
                             f"weights must be float32 or float64")
    if tuple(got) != shape:
        raise ModelFileError(f"{path}: array {key} has shape {_short(tuple(got))} but the "
                             f"architecture needs {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if info.file_size != offset + nbytes:
        raise ModelFileError(f"{path}: array {key} holds {info.file_size - offset} data bytes, "
                             f"expected {nbytes} for shape {shape}")
    return dtype, shape, fortran, offset


def _member_bytes(zf, info, key: str, offset: int, path: Path) -> bytes:
    """The member's bytes after ``offset``: exactly its declared size, CRC verified at the end."""
    nbytes = info.file_size - offset
    try:
        with zf.open(info) as f:
            f.seek(offset)
            data = f.read(nbytes)
            if len(data) != nbytes or f.read(1):
                raise ValueError(f"{len(data)} bytes instead of {nbytes}")
    except Exception as exc:  # noqa: BLE001 -- BadZipFile (CRC), zlib.error, EOFError...
        raise ModelFileError(f"{path}: array {key} is damaged ({_why(exc)})") from None
    return data


def _read_data(zf, info, key: str, head, path: Path) -> np.ndarray:
    """A checked weight/bias array in native byte order; non-finite values are refused."""
    dtype, shape, fortran, offset = head
    data = _member_bytes(zf, info, key, offset, path)
    a = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    a = np.ascontiguousarray(a, dtype=dtype.newbyteorder("="))
    if not np.all(np.isfinite(a)):
        raise ModelFileError(f"{path}: array {key} holds non-finite values")
    return a


def _unique_keys(pairs) -> dict:
    """JSON objects without repeated keys (json.loads would silently keep the last one)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = [k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i])]
        raise ValueError(f"key {_short(seen[0])} appears twice")
    return out


def _read_meta(zf, members, path: Path) -> dict:
    """The metadata record: a 0-d unicode array of at most MAX_META_BYTES, parsed as JSON."""
    info = members["meta.npy"]
    dtype, shape, _, offset = _header(zf, info, "meta", path)
    if dtype.kind != "U" or shape != () or dtype.fields is not None:
        raise ModelFileError(f"{path}: metadata record is not a text record (dtype "
                             f"{_clip(dtype)}, shape {_clip(shape)})")
    if dtype.itemsize > MAX_META_BYTES or info.file_size != offset + dtype.itemsize:
        raise ModelFileError(f"{path}: metadata record of {info.file_size} bytes (declared "
                             f"{dtype.itemsize}; limit {MAX_META_BYTES})")
    raw = _member_bytes(zf, info, "meta", offset, path)
    try:
        text = str(np.frombuffer(raw, dtype=dtype)[0])
        meta = json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise ModelFileError(f"{path}: metadata record nests too deeply") from None
    except Exception as exc:  # noqa: BLE001 -- JSONDecodeError, bad code points, huge ints
        raise ModelFileError(f"{path}: metadata record is not valid JSON ({_why(exc)})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFileError(f"{path}: not an nbae model (format is {_short(found)})")
    return meta


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
