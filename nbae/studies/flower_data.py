"""The ``flowers:`` section of config/flowers.yaml: which photos, from where, how prepared.

Used by the ``prepare_flowers`` stage (:func:`prepare`): it finds the three Oxford 102 Flowers
files in the raw folder (verified by md5) or fetches them from ``base_url``, then selects and
preprocesses the photos (:mod:`nbae.data.images`).
"""

from __future__ import annotations

from pathlib import Path

from nbae.data.images import DEFAULT_CLASSES, DEFAULT_N_IMAGES, DEFAULT_SIZE, SELECTIONS
from nbae.studies.params import ParamsError

# --- the ``flowers:`` section of params.yaml, shared by the two DVC stages -------------------

ARCHIVE_NAME = "102flowers.tgz"
LABELS_NAME = "imagelabels.mat"
OFFICIAL_BASE_URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/"
OFFICIAL_FILES = {
    "102flowers.tgz": {"md5": "52808999861908f626f3c1f4e79d11fa", "size": 344862509},
    "imagelabels.mat": {"md5": "e0620be6f572b9609742df49c70aed4d", "size": 502},
    "setid.mat": {"md5": "a5357ecc9cb78c4bef273ce3793fc85c", "size": 14989},
}
FLOWERS_DEFAULTS = {
    "base_url": OFFICIAL_BASE_URL,
    "files": OFFICIAL_FILES,
    "classes": list(DEFAULT_CLASSES),
    "ids": None,
    "n_images": DEFAULT_N_IMAGES,
    "size": DEFAULT_SIZE,
    "selection": "medoid",
}


def _int_list(key: str, value, low: int, high: int | None) -> list[int]:
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ParamsError(f"params flowers.{key}: expected integers, got {v!r}")
        if v < low or (high is not None and v > high):
            where = f"{low}..{high}" if high is not None else f">= {low}"
            raise ParamsError(f"params flowers.{key}: {v} is outside {where}")
        out.append(v)
    return out


def _one_int(key: str, value, low: int, high: int | None, null: str | None = None) -> int | None:
    """One integer in ``low..high`` (``>= low`` without ``high``); None if ``null`` says why."""
    if value is None and null is not None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        what = f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"
        if null is not None:
            what += f" or null ({null})"
        raise ParamsError(f"params flowers.{key} must be {what}, got {value!r}")
    return value


def flowers_params(section) -> dict:
    """Check a ``flowers:`` params section and fill in defaults.

    Every problem raises :class:`~nbae.studies.params.ParamsError` (a ValueError) naming the key.
    """
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ParamsError("flowers: expected a mapping of settings")
    unknown = sorted(set(section) - set(FLOWERS_DEFAULTS))
    if unknown:
        raise ParamsError(f"flowers: unknown key(s) {unknown} "
                          f"(known: {sorted(FLOWERS_DEFAULTS)})")
    cfg = {**FLOWERS_DEFAULTS, **section}
    if not isinstance(cfg["base_url"], str) or not cfg["base_url"]:
        raise ParamsError("params flowers.base_url: expected a URL string")
    if not isinstance(cfg["files"], dict) or not cfg["files"]:
        raise ParamsError("params flowers.files: expected a mapping {file name: {md5, size}}")
    for name in (ARCHIVE_NAME, LABELS_NAME):
        if name not in cfg["files"]:
            raise ParamsError(f"params flowers.files: {name} is required")
    cfg["classes"] = _int_list("classes", cfg["classes"], 1, 102)
    if cfg["ids"] is not None:
        cfg["ids"] = _int_list("ids", cfg["ids"], 1, None)
        if not cfg["ids"]:
            raise ParamsError("params flowers.ids is empty: give image ids or null")
        if len(set(cfg["ids"])) != len(cfg["ids"]):
            raise ParamsError("params flowers.ids lists an image more than once")
    cfg["n_images"] = _one_int("n_images", cfg["n_images"], 1, None,
                               null="all photos of the classes")
    cfg["size"] = _one_int("size", cfg["size"], 2, 512)
    if cfg["selection"] not in SELECTIONS:
        raise ParamsError(f"params flowers.selection must be one of {list(SELECTIONS)}, "
                          f"got {cfg['selection']!r}")
    return cfg


def prepare(cfg: dict, raw_dir, out_dir):
    """Fetch what is missing, then write ``out_dir``/flowers.npz and contact_sheet.png.

    Returns the :class:`~nbae.data.images.FlowerSet`.
    """
    import numpy as np

    from nbae.data.download import fetch_all
    from nbae.data.images import contact_sheet, select_images
    from nbae.fileio import atomic_path

    raw, out = Path(raw_dir), Path(out_dir)
    fetch_all(cfg["base_url"], cfg["files"], raw, label="flowers.files",
              hint="set flowers.base_url to a mirror", report=print)
    fs = select_images(raw / ARCHIVE_NAME, raw / LABELS_NAME, ids=cfg["ids"],
                       classes=cfg["classes"], n_images=cfg["n_images"], size=cfg["size"],
                       selection=cfg["selection"])
    with atomic_path(out / "flowers.npz") as tmp:
        np.savez(tmp, X=fs.X, ids=fs.ids, labels=fs.labels)
    contact_sheet(fs.X, fs.size, fs.ids, out / "contact_sheet.png")
    return fs
