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
size. Every problem is a one-line :class:`ModelFileError` naming the file and the field; the
metadata field checks and the format's limits are in :mod:`nbae.engine.model_meta`.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from nbae.engine.model_meta import (
    FORMAT,
    FORMAT_VERSION,
    MAX_META_BYTES,
    MAX_PARAMS,
    ModelFileError,
    _check_meta,
    _clip,
    _short,
)
from nbae.fileio import atomic_path

_NPY_HEADER_MAX = 10_000  # numpy's own default limit for .npy headers
_ARRAY = re.compile(r"([Wb])(\d{1,4})\.npy")


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


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_model_path(path) -> Path:
    """``path`` as a Path if it names a regular file, else a ModelFileError saying why."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file")
    if not path.is_file():  # a directory, a device, a pipe
        raise ModelFileError(f"{path}: not a regular file (a model is an .npz file)")
    return path


def load_model(path, *, max_params: int = MAX_PARAMS):
    """Return (meta, weights, biases) from ``path``; raise ModelFileError on any problem.

    ``max_params`` caps the parameter count a file may declare (memory is spent only after
    every check passed). The arrays keep the file's dtype (float32 or float64, native order).
    """
    path = check_model_path(path)
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
