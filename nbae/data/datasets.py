"""One dataset layer for the command line and the study stages.

A :class:`Dataset` is a training matrix with what the rest of the project needs to know about
it: one label per row, the image shape, the pixel range and the model metadata that a model
trained on it carries (``dataset``, ``labels``, ``pixel_range``, ``image_shape`` and, per kind,
``train_inputs``/``font``/``encoding`` or ``ids``/``classes``/``preprocess``). Models written by
``nbae train`` and by the DVC stages describe their data the same way because both build that
metadata here, in :meth:`Dataset.model_metadata`.

Files:

- ``data/font.h`` (the course's C array) -> :func:`font_dataset`;
- a font set ``.npz`` written by :func:`save_font_set` (arrays ``X, labels, codes, encoding,
  pixel_range, font``) and a prepared flower set ``.npz`` (``X, ids, labels``; written by the
  ``prepare_flowers`` stage) -> :func:`load_dataset`;
- any ``.npy``/``.csv`` matrix -> :func:`load_dataset`.

Problems raise :class:`~nbae.errors.InputError` naming the file or setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nbae.errors import InputError
from nbae.fileio import NPY_LOAD_ERRORS, atomic_path

ENCODINGS = {"binary": (0.0, 1.0), "bipolar": (-1.0, 1.0)}
FLOWER_PIXEL_RANGE = (-1.0, 1.0)


@dataclass
class Dataset:
    """Training rows ``X`` (n, d), one label per row, and what describes them.

    ``kind`` is ``"font"``, ``"flowers"`` or ``"matrix"``; ``info`` holds the kind's extras
    (font: ``font``, ``encoding``, ``codes``; flowers: ``ids``, ``classes``; matrix: ``file``).
    """

    X: np.ndarray
    labels: list[str]
    kind: str
    pixel_range: tuple[float, float]
    image_shape: tuple[int, int] | None = None
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.get("file", self.kind)

    @property
    def size(self) -> int:
        """Side of square images (flowers), else 0."""
        shape = self.image_shape
        return shape[0] if shape and shape[0] == shape[1] else 0

    def model_metadata(self) -> dict:
        """The metadata a model trained on this set carries (read by the CLI and figures)."""
        meta = {"dataset": self.kind if self.kind != "matrix" else self.name,
                "labels": list(self.labels), "pixel_range": list(self.pixel_range)}
        if self.image_shape is not None:
            meta["image_shape"] = list(self.image_shape)
        if self.kind == "font":
            meta.update(font=self.info["font"], train_inputs=self.X.tolist(),
                         encoding=self.info["encoding"])
            if "file" in self.info:
                meta["font_file"] = self.info["file"]
        elif self.kind == "flowers":
            from nbae.data.images import preprocess_info

            meta["ids"] = list(self.info["ids"])
            if self.info.get("classes"):
                meta["classes"] = list(self.info["classes"])
            meta["preprocess"] = preprocess_info(self.size)
        return meta


# ---------------------------------------------------------------------------------- font


def font_dataset(font_file, name: str = "Font3", encoding: str = "binary") -> Dataset:
    """The 32 glyphs of array ``name`` in ``font_file`` (a ``font.h``) as a Dataset."""
    from nbae.data.font import read_font

    path = Path(font_file)
    if encoding not in ENCODINGS:
        raise InputError(f"encoding must be 'binary' or 'bipolar', got {encoding!r}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a font file")
    if not path.is_file():
        raise InputError(f"{path}: no such font file")
    fs = read_font(path, name=name)
    rows, cols = fs.bitmaps.shape[1:]
    return Dataset(fs.matrix(encoding), list(fs.labels), "font", ENCODINGS[encoding],
                   (int(rows), int(cols)),
                   {"font": name, "encoding": encoding, "codes": list(fs.codes),
                    "file": str(path)})


def save_font_set(path, ds: Dataset) -> None:
    """Write a font Dataset as the ``.npz`` the font study's stages read (atomically)."""
    with atomic_path(path) as tmp:
        np.savez(tmp, X=ds.X, labels=np.array(ds.labels), codes=np.array(ds.info["codes"]),
                 encoding=np.array(ds.info["encoding"]), pixel_range=np.array(ds.pixel_range),
                 font=np.array(ds.info["font"]))


# ---------------------------------------------------------------------------------- files


def load_dataset(data) -> Dataset:
    """A font set or flower set ``.npz``, or any ``.npy``/``.csv`` matrix, as a Dataset."""
    from nbae.data.matrices import MATRIX_SUFFIXES

    path = Path(data)
    if not path.is_file():
        raise InputError(f"{path}: no such data file (use 'font', a .npz, .npy or .csv file)")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz_dataset(path)
    if suffix in MATRIX_SUFFIXES:
        return _matrix_dataset(path)
    raise InputError(f"{path}: unsupported data file type {path.suffix!r} "
                     f"(use 'font', .npz, .npy or .csv)")


def _npz_dataset(path: Path) -> Dataset:
    from nbae.data.matrices import numeric_matrix

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except NPY_LOAD_ERRORS as exc:
        raise InputError(f"{path}: not a readable .npz file "
                         f"({' '.join(str(exc).split())})") from None
    if "X" not in arrays:
        raise InputError(f"{path}: no array 'X' (expected a font set or a prepared flower set)")
    try:
        if "codes" in arrays:  # a font set
            enc = str(arrays["encoding"])
            X = numeric_matrix(arrays["X"], path)
            labels = [str(s) for s in arrays["labels"]]
            codes = [int(c) for c in arrays["codes"]]
            if len(labels) != len(X) or len(codes) != len(X) or enc not in ENCODINGS:
                raise ValueError("labels, codes or encoding do not match X")
            return Dataset(X, labels, "font", tuple(float(v) for v in arrays["pixel_range"]),
                           (7, 5), {"font": str(arrays["font"]), "encoding": enc,
                                    "codes": codes})
        X = numeric_matrix(arrays["X"], path).astype(np.float32)
        n, width = X.shape
        ids = arrays.get("ids")
        ids = [int(i) for i in ids] if ids is not None and len(ids) == n else list(range(n))
        classes = [int(c) for c in arrays["labels"]] if (
            "labels" in arrays and len(arrays["labels"]) == n) else []
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path}: not a data set written by nbae "
                         f"({' '.join(str(exc).split())})") from None
    side = math.isqrt(width)
    if side * side != width:
        raise InputError(f"{path}: rows of {width} values are not square images")
    return Dataset(X, [str(i) for i in ids], "flowers", FLOWER_PIXEL_RANGE, (side, side),
                   {"ids": ids, "classes": classes})


def _matrix_dataset(path: Path) -> Dataset:
    from nbae.data.matrices import load_matrix

    X, labels = load_matrix(path)
    labels = labels or [str(i) for i in range(len(X))]
    low, high = float(X.min()), float(X.max())
    if 0 <= low and high <= 1:
        low, high = 0.0, 1.0
    elif -1 <= low and high <= 1:
        low, high = -1.0, 1.0
    side = math.isqrt(X.shape[1])
    shape = (side, side) if side * side == X.shape[1] and side > 1 else None
    return Dataset(X, labels, "matrix", (low, high), shape, {"file": path.name})
