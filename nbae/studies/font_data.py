"""The font set of the font study: params ``font`` and the glyph matrix built from font.h.

Kept apart from :mod:`nbae.studies.font` so that building the data needs no training engine.
"""

from __future__ import annotations

from pathlib import Path

from nbae.data.datasets import ENCODINGS, Dataset, font_dataset, load_dataset
from nbae.errors import InputError
from nbae.studies.params import ParamsError, section

FONT_DEFAULTS = {"name": "Font3", "encoding": "binary"}


def font_params(params: dict) -> dict:
    cfg = section(params, "font", FONT_DEFAULTS)
    if not isinstance(cfg["name"], str) or not cfg["name"]:
        raise ParamsError(f"params font.name must be a non-empty string, got {cfg['name']!r}")
    if cfg["encoding"] not in ENCODINGS:
        raise ParamsError(f"params font.encoding must be one of {sorted(ENCODINGS)}, "
                          f"got {cfg['encoding']!r}")
    return cfg




def build_font_set(font_file, name="Font3", encoding="binary") -> Dataset:
    """The font set of params ``font`` (a :class:`~nbae.data.datasets.Dataset`).

    A missing ``font_file`` is an :class:`InputError`, an array ``name`` the file does not
    define a :class:`ParamsError` (params ``font.name``); a file that is there but
    malformed raises :class:`~nbae.data.font.FontFormatError` (a ValueError).
    """
    from nbae.data.font import FontFormatError

    path = Path(font_file)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a font file")
    if not path.is_file():
        raise InputError(f"{path}: no such font file")
    try:
        return font_dataset(path, name, encoding)
    except FontFormatError as exc:
        if "no font array named" in str(exc):
            raise ParamsError(f"params font.name: {exc}") from None
        raise


def load_font_set(path) -> Dataset:
    """The font set written by the build_font stage."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: not found (run the build_font stage first)")
    ds = load_dataset(path)
    if ds.kind != "font":
        raise ValueError(f"{path}: not a font set written by build_font")
    return ds
