"""What users hand to ``nbae``: training data, config sections, models, inputs, codes.

Used by the command line (the stages read their data through :mod:`nbae.data.datasets`, as
:func:`load_dataset` does here). Problems with what the user passed (an unknown glyph, a
missing file, the wrong width) raise :class:`InputError` with a one-line message naming the
file or value; the command line reports those as usage errors.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np

from nbae.data.matrices import MATRIX_SUFFIXES, is_number, load_matrix, read_table
from nbae.engine import metadata
from nbae.engine.metadata import (  # noqa: F401  (the CLI's vocabulary)
    image_shape,
    is_glyph_model,
    pixel_range,
    stored_inputs,
)
from nbae.errors import InputError

DEFAULT_FONT_FILE = Path("data/font.h")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# Config keys that describe the data rather than the model (read by ``nbae train``).
DATA_KEYS = ("data", "encoding")




# ------------------------------------------------------------------------------ config


def load_section(path, section: str | None = None) -> dict:
    """The mapping at dotted ``section`` (``"architectures.7"``) of the YAML file ``path``.

    Path parts match mapping keys as written or as integers (``7`` and ``"7"`` both work) and
    list indices. Without ``section`` the whole file is the section.
    """
    from nbae.studies.params import load_params  # the project's one YAML loader

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such params file")
    with naming_the_file(path):
        data = load_params(path)
    node, walked = data, []
    for part in section.split(".") if section else []:
        here = ".".join(walked) or "the top level"
        if isinstance(node, dict):
            key = part if part in node else int(part) if part.isdigit() else part
            if key not in node:
                keys = ", ".join(map(str, node)) or "nothing"
                raise InputError(f"{path}: no section {section!r} ({here} has {keys})")
            node = node[key]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise InputError(f"{path}: no section {section!r} ({here} is not a mapping)")
        walked.append(part)
    if not isinstance(node, dict):
        name = f"section {section!r}" if section else "the file"
        raise InputError(f"{path}: {name} is not a mapping of settings "
                         f"(got {type(node).__name__})")
    return dict(node)


# ------------------------------------------------------------------------------ datasets


def load_dataset(data="font", font_file=DEFAULT_FONT_FILE, font_name: str = "Font3",
                 encoding: str = "binary"):
    """``"font"`` (a font.h array), a prepared ``.npz`` set, or a ``.npy``/``.csv`` matrix."""
    from nbae.data import datasets

    if str(data) == "font":
        if not Path(font_file).is_file() and not Path(font_file).is_dir():
            raise InputError(f"{font_file}: no such font file (pass --font-file)")
        with naming_the_file(font_file):
            return datasets.font_dataset(font_file, font_name, encoding)
    with naming_the_file(data):
        return datasets.load_dataset(data)


@contextlib.contextmanager
def naming_the_file(path):
    """Re-raise a failure while reading ``path`` as an InputError naming it.

    The readers name the file in their own errors; this catches what slips past them (a text
    file that is not UTF-8, NumPy's complaint about an empty array) so that the message still
    says which file is at fault.
    """
    try:
        yield
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (ValueError, TypeError, IndexError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        if str(path) in msg:  # the reader named the file already (e.g. a FontFormatError)
            raise InputError(msg) from None
        raise InputError(f"{path}: not a usable data file ({msg})") from None


# ------------------------------------------------------------------------------ models


def load_model(path):
    """The model in ``path``; whatever is wrong with the file is one error naming it.

    The loader reports bad files as ``ModelFileError``; a file it lets through with values of
    the wrong type (a TypeError, OverflowError, ... when the metadata the commands use is
    read) is reported the same way, naming the file.
    """
    from nbae.engine.serialization import ModelFileError

    try:
        ae = metadata.load_model(path)
        # what the commands read from the metadata, read once here where the file is known
        pixel_range(ae), image_shape(ae), stored_inputs(ae)
        return ae
    except (InputError, ModelFileError, OSError):
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"{path}: not a usable nbae model file ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())})") from None


# ------------------------------------------------------------------------------ inputs


def load_image(path, shape, pixel_range=(-1.0, 1.0)) -> np.ndarray:
    """One image file as a model input row: centre crop, grayscale, resize, scale to range.

    The crop keeps the target's aspect ratio; grayscale is Pillow's ITU-R 601-2 luma; the
    resize is Lanczos; black maps to ``low`` and white to ``high``. For square images in
    [-1, 1] this is :func:`nbae.data.images.preprocess`, the flower training preprocessing.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    rows, cols = (int(s) for s in shape)
    low, high = (float(v) for v in pixel_range)
    try:
        with Image.open(path) as im:
            im.load()
            img = im.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    if rows == cols and (low, high) == (-1.0, 1.0):
        try:
            from nbae.data.images import preprocess
        except ImportError:
            pass
        else:
            return np.asarray(preprocess(img, rows), dtype=np.float64)
    w, h = img.size
    aspect = cols / rows
    cw, ch = (round(h * aspect), h) if w / h > aspect else (w, round(w / aspect))
    cw, ch = max(cw, 1), max(ch, 1)
    left, top = (w - cw) // 2, (h - ch) // 2
    img = img.crop((left, top, left + cw, top + ch))
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")
    if img.mode != "L":
        img = img.convert("L")
    if img.size != (cols, rows):
        img = img.resize((cols, rows), Image.Resampling.LANCZOS)
    v = np.asarray(img, dtype=np.float64) / 255.0
    return (low + (high - low) * v).reshape(-1)


def resolve_inputs(ae, items) -> tuple[np.ndarray, list[str]]:
    """Turn command-line inputs into model input rows ``(X, labels)``.

    Each item is a ``.npy``/``.csv`` matrix (every row is an input), an image file, or a
    training label of the model (a glyph character such as ``k``, or ``DEL``); a string of
    several glyph characters (``kh``) stands for each of them. An exact label of the model is
    always that glyph; otherwise an existing directory, an existing file of another type, or a
    missing path that looks like a file (it contains a path separator or ends in a data/image
    suffix) is an InputError rather than a string of glyphs.
    """
    labels_known, train = stored_inputs(ae)
    rows, labels = [], []
    for item in items:
        item = str(item)
        if item == "":
            raise InputError("empty input argument: give glyphs, or .npy, .csv or image files")
        suffix = Path(item).suffix.lower()
        if train is not None and item in labels_known:
            rows.extend(_glyph_inputs(ae, item, labels_known, train, labels))
            continue
        path = Path(item)
        if path.is_dir():
            raise InputError(f"{item} is a directory (give glyphs, or .npy, .csv or image files)")
        if not path.exists() and suffix not in MATRIX_SUFFIXES + IMAGE_SUFFIXES and (
                _has_separator(item)):
            raise InputError(f"{item}: no such file")
        if suffix in MATRIX_SUFFIXES:
            with naming_the_file(item):
                X, names = load_matrix(item, ae.input_dim)
            stem = Path(item).stem
            rows.extend(X)
            labels.extend(names or [f"{stem}[{i}]" for i in range(len(X))])
        elif suffix in IMAGE_SUFFIXES:
            shape = image_shape(ae)
            if shape is None or shape[0] * shape[1] != ae.input_dim:
                raise InputError(f"{item}: the model records no image shape matching its "
                                 f"{ae.input_dim} inputs; pass a .npy or .csv matrix")
            rows.append(load_image(item, shape, pixel_range(ae)))
            labels.append(Path(item).stem)
        else:
            rows.extend(_glyph_inputs(ae, item, labels_known, train, labels))
    return np.vstack(rows), labels


def _has_separator(item: str) -> bool:
    import os

    return any(sep and sep in item for sep in (os.sep, os.altsep, "/"))


def _glyph_inputs(ae, item, known, train, labels_out):
    if train is None:
        if Path(item).exists():
            raise InputError(f"{item}: unsupported input file type (use .npy, .csv or an "
                             f"image: {', '.join(IMAGE_SUFFIXES)})")
        raise InputError(f"{item!r}: not a file, and the model stores no training inputs to "
                         f"look labels up in (pass .npy, .csv or image files)")
    chars = [item] if item in known else list(item) if all(c in known for c in item) else None
    if chars is None or (item not in known and Path(item).exists()):
        if Path(item).exists():
            raise InputError(f"{item}: unsupported input file type (use .npy, .csv or an "
                             f"image, or a glyph of the model)")
        shown = " ".join(known)
        raise InputError(f"unknown glyph {item!r}; the model knows: {shown}")
    labels_out.extend(chars)
    return [train[known.index(c)] for c in chars]


def parse_codes(args, latent_dim: int, stdin=None) -> tuple[np.ndarray, list[str] | None]:
    """Latent codes from the command line: ``(Z (n, latent_dim), labels or None)``.

    ``args`` are inline codes (``"0.1,0.2"``; rows separated by ``;`` or given as separate
    arguments; ``latent_dim`` bare numbers make one code), or one ``.csv``/``.npy`` file, or
    ``-`` for CSV on ``stdin`` (e.g. piped from ``nbae encode``).
    """
    args = [str(a) for a in args]
    if not args:
        raise InputError("no codes given")
    if any(not a.strip() for a in args):
        raise InputError("no codes given: an argument is empty (give codes like 0.1,0.2, a "
                         ".csv/.npy file or '-')")
    if len(args) == 1 and (args[0] == "-" or Path(args[0]).suffix.lower() in MATRIX_SUFFIXES):
        src = args[0]
        if src == "-":
            with naming_the_file("<stdin>"):
                Z, _, labels = read_table(stdin, name="<stdin>", prefer="z")
        elif src.lower().endswith(".csv"):
            if not Path(src).is_file():
                raise InputError(f"{src}: no such file")
            with naming_the_file(src):
                Z, _, labels = read_table(src, prefer="z")
        else:
            Z, labels = load_matrix(src)
        if Z.shape[1] != latent_dim:
            raise InputError(f"{'<stdin>' if src == '-' else src}: codes have {Z.shape[1]} "
                             f"values but the model's latent space has {latent_dim}")
        return Z, labels
    rows = [r for a in args for r in a.split(";") if r.strip()]
    if not rows:
        raise InputError(f"no codes given in {' '.join(args)!r}")
    try:
        values = [[float(v) for v in r.replace(" ", "").split(",") if v != ""] for r in rows]
    except ValueError:
        bad = next(a for a in args if not _all_numbers(a))
        shown = bad if bad.isprintable() else repr(bad)  # a line break must not split the line
        if not re.search(r"[\d.,;]", bad) or Path(bad).suffix:
            raise InputError(f"{shown}: no such codes file (use .csv or .npy) and not a code "
                             f"like 0.1,0.2") from None
        raise InputError(f"cannot read codes {bad!r}: expected numbers like 0.1,0.2 "
                         f"(rows separated by ';')") from None
    if latent_dim > 1 and len(values) == latent_dim and all(len(v) == 1 for v in values):
        values = [[v[0] for v in values]]  # "0.1 0.2" as separate words: one code
        rows = [",".join(rows)]
    for r, v in zip(rows, values, strict=True):
        if len(v) != latent_dim:
            raise InputError(f"code {r.strip()!r} has {len(v)} values but the model's latent "
                             f"space has {latent_dim}")
    Z = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(Z)):
        raise InputError("codes must be finite numbers")
    return Z, None


def _all_numbers(arg: str) -> bool:
    return all(is_number(v) for r in arg.split(";") for v in r.replace(" ", "").split(",")
               if v != "")
