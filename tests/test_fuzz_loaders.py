"""Property-based fuzzing of the loaders: model files, font.h, latent codes.

The property: any input either loads (and then is what it claims to be) or raises the
project's own error type -- ModelFileError, FontFormatError, InputError -- with a one-line
message; never another exception, never more than MEMORY_BUDGET of Python/NumPy memory.
Each property runs twice: a few dozen examples in the default suite (a couple of seconds),
and many more under ``-m slow``.
"""

from __future__ import annotations

import io
import json
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from modelfile_fixtures import meta_bytes, npy_bytes, read_members, valid_model, write_members

from nbae.cli.inputs import InputError, parse_codes
from nbae.data.font import FontFormatError, parse_font, read_font
from nbae.engine.model import Autoencoder
from nbae.engine.serialization import ModelFileError

# numpy parses .npy headers with ast.literal_eval: fuzzed headers raise escape-sequence warnings
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore::SyntaxWarning")
ROOT = Path(__file__).resolve().parents[1]
FONT_TEXT = (ROOT / "data" / "font.h").read_text(encoding="utf-8")
MEMORY_BUDGET = 32 << 20
_COMMON = dict(deadline=None, database=None, derandomize=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FAST = settings(max_examples=25, **_COMMON)
SLOW = settings(max_examples=300, **_COMMON)

_WORK = tempfile.TemporaryDirectory(prefix="nbae-fuzz-")
GOOD = Path(_WORK.name) / "good.npz"
valid_model().save(GOOD)
GOOD_BYTES = GOOD.read_bytes()
GOOD_META, GOOD_ARRAYS = read_members(GOOD)


def both(**strategies):
    """Turn a property into a fast test and a ``slow``-marked long one (see the docstring)."""

    def wrap(body):
        fast = FAST(given(**strategies)(body))
        slow = pytest.mark.slow(SLOW(given(**strategies)(body)))
        return fast, slow

    return wrap


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text, repr(text)


def _load_model_file(data: bytes) -> None:
    """Load ``data`` as a model file through the public API; check the property."""
    path = Path(_WORK.name) / "m.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        ae = Autoencoder.load(path)
    except ModelFileError as exc:
        _one_line(exc)
        return
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_BUDGET, peak
    # it loaded: then it is a consistent model
    assert len(ae.weights) == len(ae.sizes) - 1
    assert all(np.all(np.isfinite(w)) for w in ae.weights + ae.biases)


def _model_with(meta=None, arrays=None) -> bytes:
    meta = GOOD_META if meta is None else meta
    arrays = GOOD_ARRAYS if arrays is None else arrays
    buf = io.BytesIO()
    members = [("meta.npy", meta_bytes(meta))]
    members += [(f"{k}.npy", v if isinstance(v, bytes) else npy_bytes(v))
                for k, v in arrays.items()]
    write_members(buf, members)
    return buf.getvalue()


# ---------------------------------------------------------------- model files: bytes

flips = st.lists(st.tuples(st.integers(0, len(GOOD_BYTES) - 1), st.integers(0, 255)),
                 min_size=1, max_size=8)


@both(edits=flips, cut=st.one_of(st.none(), st.integers(0, len(GOOD_BYTES))))
def _flipped(edits, cut):
    data = bytearray(GOOD_BYTES)
    for i, value in edits:
        data[i] = value
    _load_model_file(bytes(data[:cut] if cut is not None else data))


test_model_bytes_flipped, test_model_bytes_flipped_long = _flipped

# ---------------------------------------------------------------- model files: arrays

dtypes = st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.complex_number_dtypes(),
                   hnp.boolean_dtypes(), hnp.unicode_string_dtypes(max_len=4),
                   hnp.byte_string_dtypes(max_len=4), hnp.datetime64_dtypes(),
                   st.just(np.dtype([("a", "<f8"), ("b", "<i4")])))
arrays = hnp.arrays(dtype=dtypes, shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=7))


@both(key=st.sampled_from(sorted(GOOD_ARRAYS)), array=arrays)
def _replaced_array(key, array):
    _load_model_file(_model_with(arrays={**GOOD_ARRAYS, key: array}))


test_model_array_replaced, test_model_array_replaced_long = _replaced_array

# ---------------------------------------------------------------- model files: metadata

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)


def _paths(node, prefix=()):
    """Every key path of the nested metadata dicts, e.g. ("config", "layers")."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


META_PATHS = sorted(_paths(GOOD_META))


@both(where=st.sampled_from(META_PATHS), value=json_values, delete=st.booleans())
def _metadata_field(where, value, delete):
    meta = json.loads(json.dumps(GOOD_META))
    node = meta
    for key in where[:-1]:
        node = node[key]
    if delete:
        del node[where[-1]]
    else:
        node[where[-1]] = value
    _load_model_file(_model_with(meta=json.dumps(meta)))


test_model_metadata_field, test_model_metadata_field_long = _metadata_field


@both(text=st.one_of(st.text(max_size=40), json_values.map(json.dumps)))
def _metadata_record(text):
    _load_model_file(_model_with(meta=text))


test_model_metadata_record, test_model_metadata_record_long = _metadata_record

# ---------------------------------------------------------------- font.h

FONT_TOKENS = ["0x1f", "0x20", "0x", "0b101", "017", "99999999999999999999", "-1", "{", "}",
               ",", ";", "[32]", "[7]", "int const Font3", "Font1", "Font9", "/*", "*/", "//",
               "\\", "\n", " ", "=", "0xFFFFFFFFFFFFFFFFFFFF", "\x00", "é"]


@st.composite
def font_texts(draw):
    text = FONT_TEXT
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 20)))
        text = text[:i] + draw(st.sampled_from(FONT_TOKENS) | st.text(max_size=6)) + text[j:]
    return text


@both(text=st.one_of(font_texts(), st.text(max_size=200)),
      name=st.sampled_from(["Font1", "Font2", "Font3", "Font4"]))
def _font(text, name):
    try:
        fonts = parse_font(text, "font.h")
    except FontFormatError as exc:
        _one_line(exc)
    else:
        for fs in fonts.values():
            assert fs.bitmaps.shape[1:] == (7, 5)
    path = Path(_WORK.name) / "font.h"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        fs = read_font(path, name)
    except FontFormatError as exc:
        _one_line(exc)
    else:
        assert fs.bitmaps.shape == (32, 7, 5) and set(np.unique(fs.bitmaps)) <= {0, 1}


test_font_text, test_font_text_long = _font


@both(data=st.binary(max_size=300))
def _font_bytes(data):
    path = Path(_WORK.name) / "font.h"
    path.write_bytes(data)
    try:
        read_font(path)
    except FontFormatError as exc:
        _one_line(exc)


test_font_bytes, test_font_bytes_long = _font_bytes

# ---------------------------------------------------------------- latent codes

CODE_TOKENS = list("0123456789.,;-+eE x\t") + ["nan", "inf", "1e999", "-0", ".5"]
code_text = st.lists(st.sampled_from(CODE_TOKENS), max_size=12).map("".join)


def _codes(args, dim, stdin=None):
    try:
        Z, labels = parse_codes(args, dim, stdin=stdin)
    except InputError as exc:
        _one_line(exc)
        return
    assert Z.ndim == 2 and Z.shape[1] == dim and np.all(np.isfinite(Z))
    assert labels is None or len(labels) == Z.shape[0]


# parse_codes echoes a bad argument as it is: one with a line break makes a two-line message
# (fix in NOTES-robust.md); line breaks are left out here and pinned by the strict xfail below
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
one_line_text = st.text(alphabet=st.characters(blacklist_characters=_LINE_BREAKS), max_size=10)


@both(args=st.lists(code_text | one_line_text, max_size=4), dim=st.integers(1, 4))
def _inline_codes(args, dim):
    _codes(args, dim, stdin=io.StringIO(""))  # as the CLI calls it: "-" reads its stdin


test_codes_inline, test_codes_inline_long = _inline_codes


def test_codes_inline_with_a_line_break():
    _codes([":\n"], 1)


@both(rows=st.lists(st.lists(code_text, min_size=1, max_size=4), max_size=5),
      header=st.booleans(), dim=st.integers(1, 3))
def _csv_codes(rows, header, dim):
    lines = ([",".join(f"z{j}" for j in range(dim))] if header else [])
    lines += [",".join(r) for r in rows]
    _codes(["-"], dim, stdin=io.StringIO("\n".join(lines)))


test_codes_csv, test_codes_csv_long = _csv_codes


@both(array=arrays, dim=st.integers(1, 4), edits=st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3))
def _npy_codes(array, dim, edits):
    try:
        data = bytearray(npy_bytes(array))
    except ValueError:  # dtypes np.save refuses without pickling
        return
    for i, value in edits:
        if i < len(data):
            data[i] = value
    path = Path(_WORK.name) / "codes.npy"
    path.write_bytes(bytes(data))
    _codes([str(path)], dim)


test_codes_npy, test_codes_npy_long = _npy_codes


def test_codes_npy_with_a_broken_header():
    """NumPy's header parser raises tokenize.TokenError here; the loader names the file."""
    data = bytearray(npy_bytes(np.array(0.0, dtype=np.float16)))
    data[42] = ord("[")  # "'fortran_order'[ False": an unclosed bracket in the header dict
    path = Path(_WORK.name) / "broken.npy"
    path.write_bytes(bytes(data))
    _codes([str(path)], 1)


def _npy_with_header(header: str) -> bytes:
    """A version-1.0 .npy file whose header dict is ``header`` (padded as NumPy pads it)."""
    import struct

    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    return (b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")
            + np.zeros(4).tobytes())


# a header dict whose keys do not sort (bytes beside str): NumPy raises TypeError, which the
# long fuzz run found escaping the .npy reader as "unexpected TypeError"
UNSORTABLE = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), b'a': 1, }"


def test_npy_header_with_unsortable_keys_is_a_clean_error(tmp_path):
    import zipfile

    from nbae.data.datasets import load_dataset
    from nbae.data.matrices import load_matrix
    from nbae.engine.vae import VAE

    bad = _npy_with_header(UNSORTABLE)
    (tmp_path / "codes.npy").write_bytes(bad)
    with pytest.raises(InputError, match="codes.npy: not a readable .npy file"):
        load_matrix(tmp_path / "codes.npy")
    with zipfile.ZipFile(tmp_path / "set.npz", "w") as zf:
        zf.writestr("X.npy", bad)
    with pytest.raises(InputError, match="set.npz: not a readable .npz file"):
        load_dataset(tmp_path / "set.npz")
    VAE([35, 4, 2]).save(tmp_path / "v.npz")
    with zipfile.ZipFile(tmp_path / "v.npz") as zf:
        members = [(n, bad if n != "meta.npy" else zf.read(n)) for n in zf.namelist()]
    write_members(tmp_path / "v.npz", members)
    with pytest.raises(ModelFileError, match="not a readable nbae model file"):
        VAE.load(tmp_path / "v.npz")
