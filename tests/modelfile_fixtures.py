"""Builders of valid, broken and hostile model files for the serialization and fuzz tests."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
import zlib

import numpy as np

from nbae.engine.model import Autoencoder

TRAINING = {  # the keys fit() writes, with typical values
    "optimizer": "adam", "lr": 0.001, "batch_size": 5, "epochs": 20, "shuffle": True,
    "momentum": 0.0, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0,
    "restore_best": True, "patience": None, "min_delta": 0.0, "seed": 0,
    "input_noise": {"kind": "flip", "level": 0.1, "range": [0, 1]}, "n_samples": 10,
    "epoch_loss": "full", "epochs_run": 20, "stop_reason": "completed", "steps": 40,
    "seconds": 0.01, "steps_per_second": 4000.0, "final_loss": 0.1, "best_loss": 0.09,
    "best_epoch": 19, "restored_best": True,
}


def valid_model(dtype: str = "float64", layers=(6, 4, 2)) -> Autoencoder:
    """A small model with every metadata key the package reads back, without training."""
    ae = Autoencoder(list(layers), dtype=dtype, seed=3, metadata={
        "labels": list("abc"), "pixel_range": [0, 1], "image_shape": [2, 3],
        "train_inputs": [[0.0] * layers[0], [1.0] * layers[0], [0.5] * layers[0]],
        "latent_stats": {"mean": [0.0] * layers[-1], "min": [-1.0] * layers[-1],
                         "max": [1.0] * layers[-1],
                         "cov": np.eye(layers[-1]).tolist()},
        "dataset": "toy", "architecture": "a", "denoising": {"mode": "flip"},
    })
    ae.training = dict(TRAINING)
    ae._fits = 1
    return ae


def read_members(path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata dict, {name: array}) of a trusted model file."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop("meta"))), arrays


def npy_bytes(array, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=allow_pickle)
    return buf.getvalue()


def meta_bytes(meta) -> bytes:
    return npy_bytes(np.array(meta if isinstance(meta, str) else json.dumps(meta)))


def write_members(path, members, compression=zipfile.ZIP_STORED) -> None:
    """Write ``[(name, bytes), ...]`` as a zip (duplicates allowed, as a hostile file may)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name"
        with zipfile.ZipFile(path, "w", compression) as zf:
            for name, data in members:
                zf.writestr(name, data)


def write_model(path, meta, arrays: dict, extra=()) -> None:
    members = [("meta.npy", meta_bytes(meta))]
    members += [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()]
    write_members(path, members + list(extra))


def npy_header(dtype, shape) -> bytes:
    """The .npy magic and header of an array, without its data."""
    buf = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def _deflated_zeros(prefix: bytes, n_zeros: int) -> bytes:
    """Raw deflate of ``prefix + n_zeros zero bytes`` in ~n_zeros/1000 bytes, built fast: after
    a full flush the compressor forgets its history, so every 1 MiB of zeros compresses to the
    same bytes and the stream is one chunk repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    mib = 1 << 20
    block = c.compress(bytes(mib)) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(bytes(n_zeros % mib)) + c.flush()
    return head + block * (n_zeros // mib) + tail


def write_bomb(path, members) -> None:
    """A zip whose members ``(name, prefix, n_zeros)`` decompress to ``prefix`` and zeros.

    Written by hand (local headers, central directory) because zipfile would have to compress
    the gigabytes itself. The CRCs are left 0: computing them costs a second per GiB and a
    careful loader never reads that far; a careless one has spent the memory before it could
    find out.
    """
    out = io.BytesIO()
    central = []
    for name, prefix, n_zeros in members:
        data = prefix if n_zeros == 0 else _deflated_zeros(prefix, n_zeros)
        method = zipfile.ZIP_STORED if n_zeros == 0 else zipfile.ZIP_DEFLATED
        crc = zlib.crc32(prefix) if n_zeros == 0 else 0
        size = len(prefix) + n_zeros
        fname = name.encode()
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                              len(data), size, len(fname), 0) + fname + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0,
                                   0x21, crc, len(data), size, len(fname), 0, 0, 0, 0, 0,
                                   offset) + fname)
    start = out.tell()
    cd = b"".join(central)
    out.write(cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                               len(cd), start, 0))
    with open(path, "wb") as f:
        f.write(out.getvalue())
