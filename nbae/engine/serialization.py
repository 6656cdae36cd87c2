"""Saving and loading models: one ``.npz`` with the weights and a JSON metadata record.

Layout: arrays ``W0, b0, W1, b1, ...`` and ``meta``, a 0-d unicode array holding JSON with the
format name and version, the nbae version, the architecture, dtype, training settings and the
user's free-form metadata. Loading never unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from nbae.fileio import atomic_path

FORMAT = "nbae-autoencoder"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be read: missing, truncated, foreign or inconsistent."""


def save_model(path, meta: dict, weights, biases) -> None:
    arrays = {"meta": np.array(json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                                           **meta}, allow_nan=False))}
    for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
        arrays[f"W{l}"] = np.ascontiguousarray(W)
        arrays[f"b{l}"] = np.ascontiguousarray(b)
    with atomic_path(Path(path), suffix=".npz") as tmp:
        # np.savez appends .npz to names without it; the temp name already ends in .npz
        np.savez(tmp, **arrays)


def load_model(path):
    """Return (meta, weights, biases) from ``path``; raise ModelFileError on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        raise ModelFileError(f"{path}: not an nbae model (.npz) file")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz model file (truncated or corrupt?): "
                             f"{exc}") from None
    if "meta" not in data:
        raise ModelFileError(f"{path}: not an nbae model (no metadata record)")
    try:
        meta = json.loads(str(data["meta"]))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: metadata record is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an nbae model (format is "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version!r} is newer than this nbae "
                             f"understands ({FORMAT_VERSION}); upgrade nbae")
    sizes = meta.get("sizes")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(isinstance(s, int) and s > 0
                                                               for s in sizes)):
        raise ModelFileError(f"{path}: metadata has no valid 'sizes' list")
    weights, biases = [], []
    for l in range(len(sizes) - 1):
        for key, shape in ((f"W{l}", (sizes[l], sizes[l + 1])), (f"b{l}", (sizes[l + 1],))):
            if key not in data:
                raise ModelFileError(f"{path}: array {key} is missing")
            if data[key].shape != shape:
                raise ModelFileError(f"{path}: array {key} has shape {data[key].shape} but the "
                                     f"architecture needs {shape}")
            if not np.all(np.isfinite(data[key])):
                raise ModelFileError(f"{path}: array {key} holds non-finite values")
        weights.append(data[f"W{l}"])
        biases.append(data[f"b{l}"])
    extra = set(data) - {"meta"} - {f"{c}{l}" for l in range(len(sizes) - 1) for c in "Wb"}
    if extra:
        raise ModelFileError(f"{path}: unexpected arrays {sorted(extra)} for a "
                             f"{len(sizes) - 1}-layer model")
    return meta, weights, biases
