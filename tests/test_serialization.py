"""nbae.engine.serialization.load_model on valid, broken and hostile model files.

Every rejection is a one-line ModelFileError naming the file and the field or array; hostile
files (zip bombs, absurd sizes) fail before any large allocation.
"""

from __future__ import annotations

import copy
import json
import time
import tracemalloc

import numpy as np
import pytest
from modelfile_fixtures import (
    npy_bytes,
    npy_header,
    read_members,
    valid_model,
    write_bomb,
    write_members,
    write_model,
)

from nbae.engine.model import Autoencoder
from nbae.engine.serialization import MAX_PARAMS, ModelFileError, load_model


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "good.npz"
    valid_model().save(path)
    return path


def _raises(path, *parts, **kw) -> str:
    with pytest.raises(ModelFileError) as err:
        load_model(path, **kw)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and len(text) < 400, text
    for part in parts:
        assert part in text, text
    return text


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip(tmp_path, dtype):
    ae = valid_model(dtype)
    ae.save(tmp_path / "m.npz")
    meta, weights, biases = load_model(tmp_path / "m.npz")
    assert len(weights) == len(biases) == 4
    assert [w.dtype for w in weights + biases] == [np.dtype(dtype)] * 8
    for got, want in zip(weights + biases, ae.weights + ae.biases, strict=True):
        np.testing.assert_array_equal(got, want)
    back = Autoencoder.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.get_params(), ae.get_params())
    assert back.metadata == ae.metadata and back.training == ae.training


def test_save_errors_name_the_users_path(tmp_path, monkeypatch):
    def refuse(tmp, **arrays):  # as on a read-only or full disk: the error names the temp file
        raise PermissionError(13, "Permission denied", str(tmp))

    monkeypatch.setattr(np, "savez", refuse)
    with pytest.raises(PermissionError) as err:
        valid_model().save(tmp_path / "m.npz")
    assert err.value.filename == str(tmp_path / "m.npz")
    assert str(err.value) == f"[Errno 13] Permission denied: '{tmp_path / 'm.npz'}'"
    assert list(tmp_path.iterdir()) == []


def test_save_on_a_full_disk(tmp_path):
    # a real write failure: RLIMIT_FSIZE makes writes past 500 bytes fail with EFBIG
    import os
    import subprocess
    import sys
    from pathlib import Path

    child = (
        "import resource, signal, sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from modelfile_fixtures import valid_model\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))\n"
        "try:\n"
        "    valid_model().save(sys.argv[1])\n"
        "except OSError as exc:\n"
        "    print(exc.filename, exc.strerror)\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", child, str(tmp_path / "m.npz")], cwd=root,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.stdout == f"{tmp_path / 'm.npz'} File too large\n", (out.stdout, out.stderr)
    assert list(tmp_path.iterdir()) == []


def test_fortran_order_and_big_endian_arrays_load(good, tmp_path):
    meta, arrays = read_members(good)
    arrays["W0"] = np.asfortranarray(arrays["W0"]).astype(">f8")
    write_model(tmp_path / "m.npz", meta, arrays)
    _, weights, _ = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(weights[0], read_members(good)[1]["W0"])
    assert weights[0].dtype == np.float64 and weights[0].dtype.isnative


# (dotted field, bad value, text expected in the message)
BAD_FIELDS = [
    ("format_version", "1", "'format_version'"),
    ("format_version", 0, "'format_version'"),
    ("nbae_version", 3, "'nbae_version'"),
    ("sizes", [6, 4, 2, 4], "'activations'"),
    ("sizes", [6, 4, 2, 4, 7], "'config.layers'"),
    ("sizes", [6, 4, 2, 4, 1.5], "'sizes[4]'"),
    ("sizes", "6-4-2", "'sizes'"),
    ("sizes", [6, 0, 2, 4, 6], "'sizes[1]'"),
    ("sizes", [6, 4, 2, 4, 10**9], "'sizes[4]'"),
    ("activations", ["tanh"], "'activations'"),
    ("activations", ["tanh", 3, "tanh", "sigmoid"], "'activations[1]'"),
    ("activations", ["tanh", "swish", "tanh", "sigmoid"], "'activations[1]'"),
    ("config", None, "'config'"),
    ("config.layers", [6, 4, 3], "'config.layers'"),
    ("config.layers", [6, True], "'config.layers[1]'"),
    ("config.decoder", [3, 6], "'config.layers'"),
    ("config.activation", 7, "'config.activation'"),
    ("config.activation", ["tanh", None], "'config.activation[1]'"),
    ("config.output_activation", "cosh", "'config.output_activation'"),
    ("config.loss", "l1", "'config.loss'"),
    ("config.init", ["he"], "'config.init'"),
    ("config.leaky_slope", -1, "'config.leaky_slope'"),
    ("config.seed", -1, "'config.seed'"),
    ("config.seed", 2**200, "'config.seed'"),
    ("config.dtype", "complex128", "'config.dtype'"),
    ("config.extra", 1, "'config'"),
    ("training", [1], "'training'"),
    ("training.lr", None, "'training.lr'"),
    ("training.lr", 0, "'training.lr'"),
    ("training.lr", "0.1", "'training.lr'"),
    ("training.betas", 0.9, "'training.betas'"),
    ("training.betas", [0.9, 1.0], "'training.betas[1]'"),
    ("training.momentum", 1, "'training.momentum'"),
    ("training.optimizer", "lbfgs", "'training.optimizer'"),
    ("training.epochs", 10**30, "'training.epochs'"),
    ("training.shuffle", "yes", "'training.shuffle'"),
    ("training.input_noise", {"kind": "salt"}, "'training.input_noise.kind'"),
    ("training.input_noise", {"range": [1, 0]}, "'training.input_noise.range'"),
    ("training.epoch_loss", "mean", "'training.epoch_loss'"),
    ("metadata", "text", "'metadata'"),
    ("metadata.pixel_range", [1, 1], "'metadata.pixel_range'"),
    ("metadata.pixel_range", 5, "'metadata.pixel_range'"),
    ("metadata.image_shape", ["2", 3], "'metadata.image_shape[0]'"),
    ("metadata.image_shape", {"r": 2}, "'metadata.image_shape'"),
    ("metadata.labels", "abc", "'metadata.labels'"),
    ("metadata.labels", [{"a": 1}], "'metadata.labels'"),
    ("metadata.train_inputs", [[1, 2], [3]], "'metadata.train_inputs'"),
    ("metadata.train_inputs", [["a"]], "'metadata.train_inputs'"),
    ("metadata.latent_stats", {"mean": [0.0]}, "'metadata.latent_stats.mean'"),
    ("metadata.latent_stats", {"cov": [[1.0]]}, "'metadata.latent_stats.cov'"),
    ("metadata.dataset", 1, "'metadata.dataset'"),
    ("metadata.denoising", {"mode": 3}, "'metadata.denoising.mode'"),
    ("fit_calls", 10**9, "'fit_calls'"),
    ("fit_calls", 1.0, "'fit_calls'"),
]


def _set(meta: dict, dotted: str, value) -> dict:
    meta = copy.deepcopy(meta)
    *parents, last = dotted.split(".")
    node = meta
    for key in parents:
        node = node[key]
    node[last] = value
    return meta


@pytest.mark.parametrize("field,value,expected", BAD_FIELDS)
def test_bad_metadata_field(good, tmp_path, field, value, expected):
    meta, arrays = read_members(good)
    path = tmp_path / "m.npz"
    write_model(path, _set(meta, field, value), arrays)
    _raises(path, f"metadata field {expected}")


def test_huge_layers_are_refused_before_allocation(good, tmp_path):
    meta, arrays = read_members(good)
    meta = _set(meta, "sizes", [100_000, 50_000, 100_000])
    meta = _set(_set(meta, "config.layers", [100_000, 50_000]), "config.decoder", None)
    meta["activations"] = ["identity", "sigmoid"]
    meta["metadata"] = None
    write_model(tmp_path / "m.npz", meta, {})
    _raises(tmp_path / "m.npz", "10000150000 parameters", f"limit of {MAX_PARAMS}")
    # a raised limit reaches the arrays, which are missing here
    _raises(tmp_path / "m.npz", "array W0 is missing", max_params=10**11)


@pytest.mark.parametrize("array,message", [
    (np.zeros((6, 4), np.complex128), "dtype complex128"),
    (np.zeros((6, 4), "U3"), "dtype <U3"),
    (np.zeros((6, 4), np.int64), "dtype int64"),
    (np.zeros((6, 4), np.float16), "dtype float16"),
    (np.zeros((6, 4), np.longdouble), "dtype float128"),
    (np.zeros((6, 4), [("a", "f8")]), "dtype [('a', '<f8')]"),
    (np.zeros((6, 4, 1)), "shape (6, 4, 1)"),
    (np.zeros((4, 6)), "shape (4, 6)"),
    (np.full((6, 4), np.nan), "non-finite values"),
    (np.zeros((6, 4), np.float32), "W0 is float32 but the model's dtype is float64"),
])
def test_bad_arrays(good, tmp_path, array, message):
    meta, arrays = read_members(good)
    arrays["W0"] = array
    write_model(tmp_path / "m.npz", meta, arrays)
    _raises(tmp_path / "m.npz", "array W0", message)


def test_object_array_is_refused_unread(good, tmp_path):
    meta, arrays = read_members(good)
    members = [("meta.npy", npy_bytes(np.array(json.dumps(meta))))]
    members += [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items() if k != "W0"]
    members.append(("W0.npy", npy_bytes(np.array([[object()] * 4] * 6), allow_pickle=True)))
    write_members(tmp_path / "m.npz", members)
    _raises(tmp_path / "m.npz", "array W0 has dtype object")


def test_member_structure(good, tmp_path):
    meta, arrays = read_members(good)
    path = tmp_path / "m.npz"
    write_model(path, meta, arrays, extra=[("W9.npy", npy_bytes(np.zeros(2)))])
    _raises(path, "unexpected arrays ['W9.npy']")
    write_model(path, meta, arrays, extra=[("../evil", b"x")])
    _raises(path, "unexpected member '../evil'")
    write_model(path, meta, arrays, extra=[("W0.npy", npy_bytes(np.zeros((6, 4))))])
    _raises(path, "member W0.npy appears twice")
    del arrays["b1"]
    write_model(path, meta, arrays)
    _raises(path, "array b1 is missing")


def test_declared_size_must_match_the_header(good, tmp_path):
    meta, arrays = read_members(good)
    path = tmp_path / "m.npz"
    members = [("meta.npy", npy_bytes(np.array(json.dumps(meta))))]
    members += [(f"{k}.npy", npy_bytes(v) + (b"\0" * 8 if k == "b0" else b""))
                for k, v in arrays.items()]
    write_members(path, members)
    _raises(path, "array b0 holds 40 data bytes, expected 32")


def test_damaged_data_fails_the_crc(good, tmp_path):
    data = bytearray(good.read_bytes())
    i = data.index(b"W1.npy") + 6 + 128 + 3  # inside W1's data (stored, not compressed)
    data[i] ^= 0x55
    (tmp_path / "m.npz").write_bytes(bytes(data))
    _raises(tmp_path / "m.npz", "array W1 is damaged", "Bad CRC-32")


def _bounded(path, *parts, seconds=1.0, peak_mb=20.0):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        _raises(path, *parts)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    took = time.perf_counter() - t0
    assert took < seconds and peak < peak_mb * 2**20, (took, peak / 2**20)


GIB2 = 2 << 30


def test_zip_bomb_extra_member(good, tmp_path):
    meta, arrays = read_members(good)
    members = [("meta.npy", npy_bytes(np.array(json.dumps(meta))), 0)]
    members += [(f"{k}.npy", npy_bytes(v), 0) for k, v in arrays.items()]
    members.append(("W7.npy", npy_header("f8", (GIB2 // 8,)), GIB2))
    path = tmp_path / "bomb.npz"
    write_bomb(path, members)
    assert path.stat().st_size < 3 << 20  # ~2 MB on disk, 2 GiB inflated
    _bounded(path, "unexpected arrays ['W7.npy']")


def test_zip_bomb_matching_a_declared_huge_layer(good, tmp_path):
    meta, _ = read_members(good)
    n = 16384  # W0 of 16384 x 16384 float64: 2 GiB
    meta = _set(_set(meta, "sizes", [n, n, 1]), "config.layers", [n, n])
    meta = _set(_set(meta, "config.decoder", [n, 1]), "activations", ["identity", "sigmoid"])
    meta = _set(meta, "config.activation", [])
    meta["metadata"] = None
    members = [("meta.npy", npy_bytes(np.array(json.dumps(meta))), 0),
               ("W0.npy", npy_header("f8", (n, n)), n * n * 8),
               ("b0.npy", npy_bytes(np.zeros(n)), 0),
               ("W1.npy", npy_bytes(np.zeros((n, 1))), 0), ("b1.npy", npy_bytes(np.zeros(1)), 0)]
    path = tmp_path / "bomb.npz"
    write_bomb(path, members)
    _bounded(path, f"{n * n + 2 * n + 1} parameters, more than the limit")


def test_zip_bomb_behind_a_small_header(good, tmp_path):
    meta, arrays = read_members(good)
    members = [("meta.npy", npy_bytes(np.array(json.dumps(meta))), 0)]
    for k, v in arrays.items():
        if k == "W0":  # the right header, then 2 GiB of "data"
            members.append(("W0.npy", npy_header("f8", v.shape), GIB2))
        else:
            members.append((f"{k}.npy", npy_bytes(v), 0))
    path = tmp_path / "bomb.npz"
    write_bomb(path, members)
    _bounded(path, f"array W0 holds {GIB2} data bytes, expected 192")


def test_zip_bomb_in_the_metadata_record(good, tmp_path):
    _, arrays = read_members(good)
    members = [("meta.npy", npy_header("<U500000000", ()), 2_000_000_000)]
    members += [(f"{k}.npy", npy_bytes(v), 0) for k, v in arrays.items()]
    path = tmp_path / "bomb.npz"
    write_bomb(path, members)
    _bounded(path, "metadata record of", "limit")


def test_cli_reports_a_hostile_file_in_one_line(good, tmp_path):
    from click.testing import CliRunner

    from nbae.cli import main

    meta, arrays = read_members(good)
    members = [("meta.npy", npy_bytes(np.array(json.dumps(meta))), 0)]
    members += [(f"{k}.npy", npy_bytes(v), 0) for k, v in arrays.items()]
    members.append(("W7.npy", npy_header("f8", (GIB2 // 8,)), GIB2))
    write_bomb(tmp_path / "bomb.npz", members)
    result = CliRunner().invoke(main, ["info", str(tmp_path / "bomb.npz")])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.output == (f"Error: {tmp_path / 'bomb.npz'}: unexpected arrays ['W7.npy'] "
                             f"for a 4-layer model\n")


def test_deeply_nested_metadata(good, tmp_path):
    _, arrays = read_members(good)
    write_model(tmp_path / "m.npz", "[" * 100_000 + "]" * 100_000, arrays)
    _raises(tmp_path / "m.npz", "metadata record")


def test_repeated_metadata_key(good, tmp_path):
    meta, arrays = read_members(good)
    text = json.dumps(meta)
    write_model(tmp_path / "m.npz", text[:-1] + ', "fit_calls": 5}', arrays)
    _raises(tmp_path / "m.npz", "not valid JSON", "key 'fit_calls' appears twice")


def test_metadata_record_of_the_wrong_kind(good, tmp_path):
    _, arrays = read_members(good)
    members = [("meta.npy", npy_bytes(np.zeros(3)))]
    members += [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()]
    write_members(tmp_path / "m.npz", members)
    _raises(tmp_path / "m.npz", "metadata record is not a text record")
