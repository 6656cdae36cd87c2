"""The official Oxford 102 train/validation/test photos of some classes (stage
prepare_flower_split), for the generalization study (:mod:`nbae.studies.generalize`).

Settings: the ``flower_split:`` section of config/generalize.yaml (``base_url``, ``files``,
``classes``, ``size``). :func:`prepare_split` finds the three Oxford files in the raw folder
(verified by md5) or fetches them from ``base_url`` (:mod:`nbae.data.download`), picks the
photos of the classes from ``setid.mat`` and ``imagelabels.mat`` (:func:`select_split`) and
preprocesses them exactly like the flower study (:func:`nbae.data.images.preprocess`: centre
crop, ITU-R 601-2 grayscale, Lanczos resize, [-1, 1]). It writes ``split.npz``: ``X`` (n,
size*size) float32, ``ids``, ``labels``, ``split`` ("train"/"val"/"test"), ``classes`` and
``size``; rows grouped by split, ids ascending within each.

Kept apart from the training code so that the stage (which may need the network) depends on
none of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nbae.studies.flower_data import OFFICIAL_BASE_URL, OFFICIAL_FILES
from nbae.studies.params import ParamsError, integer, integer_list, section

SPLITS = ("train", "val", "test")
SETID_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}  # setid.mat variables
ARCHIVE, LABELS, SETID = "102flowers.tgz", "imagelabels.mat", "setid.mat"
N_CLASSES = 102
DATA_DEFAULTS = {"base_url": OFFICIAL_BASE_URL, "files": OFFICIAL_FILES, "classes": [49],
                 "size": 32}


def data_params(params: dict) -> dict:
    """Checked ``flower_split`` section (defaults filled in; ``classes: all`` -> 1..102)."""
    cfg = section(params, "flower_split", DATA_DEFAULTS)
    if not isinstance(cfg["base_url"], str) or not cfg["base_url"]:
        raise ParamsError("params flower_split.base_url must be a URL string")
    files = cfg["files"]
    if not isinstance(files, dict) or any(n not in files for n in (ARCHIVE, LABELS, SETID)):
        raise ParamsError(f"params flower_split.files must map {ARCHIVE}, {LABELS} and {SETID} "
                          f"to {{md5, size}}")
    cfg["classes"] = check_classes(cfg["classes"], "flower_split.classes")
    cfg["size"] = integer(cfg["size"], "flower_split.size", 2)
    if cfg["size"] > 512:
        raise ParamsError(f"params flower_split.size must be at most 512, got {cfg['size']}")
    return cfg


def check_classes(value, where: str) -> list[int]:
    """``"all"`` or a non-empty list of distinct class numbers 1..102, as a sorted list."""
    if value == "all":
        return list(range(1, N_CLASSES + 1))
    classes = integer_list(value if isinstance(value, list) else [value], where, 1)
    bad = [c for c in classes if c > N_CLASSES]
    if bad:
        raise ParamsError(f"params {where}: class {bad[0]} is outside 1..{N_CLASSES}")
    if len(set(classes)) != len(classes):
        raise ParamsError(f"params {where} lists a class twice")
    return sorted(classes)


def select_split(setid: dict, labels, classes) -> dict[str, np.ndarray]:
    """Image ids of each split (``train``/``val``/``test``) whose label is in ``classes``.

    ``setid`` maps ``trnid``/``valid``/``tstid`` to image ids (1-based, any order), ``labels``
    holds the class of image ``i`` at ``labels[i - 1]``. Ids come back sorted (int64). Raises
    ValueError if an id is out of range or in two splits, InputError (ParamsError) if a class
    has no photo in some split.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    out, seen = {}, set()
    for name in SPLITS:
        ids = np.asarray(setid[SETID_KEYS[name]], dtype=np.int64).ravel()
        if ids.size and (ids.min() < 1 or ids.max() > labels.size):
            raise ValueError(f"setid.mat {SETID_KEYS[name]}: image ids outside 1..{labels.size}")
        if seen & set(ids.tolist()):
            raise ValueError(f"setid.mat {SETID_KEYS[name]}: an image is in two splits")
        seen |= set(ids.tolist())
        out[name] = np.sort(ids[np.isin(labels[ids - 1], classes)])
        present = set(labels[out[name] - 1].tolist())
        missing = [c for c in classes if c not in present]
        if missing:
            raise ParamsError(f"params flower_split.classes: class {missing[0]} has no photo in "
                              f"the {name} split ({SETID_KEYS[name]})")
    return out


def prepare_split(cfg: dict, raw_dir, out_dir, report=print) -> dict[str, np.ndarray]:
    """Fetch the Oxford files into ``raw_dir`` (unless present), write ``out_dir``/split.npz.

    Each photo is decoded and preprocessed while the archive streams past, so memory holds
    only the small vectors. Returns ``select_split``'s ids per split.
    """
    import io

    from PIL import Image

    from nbae.data.download import fetch_all
    from nbae.data.images import iter_tgz_members, member_name, preprocess, read_labels, read_splits
    from nbae.fileio import atomic_path

    raw = Path(raw_dir)
    fetch_all(cfg["base_url"], cfg["files"], raw, label="flower_split.files",
              hint="set flower_split.base_url to a mirror", report=report)
    labels = read_labels(raw / LABELS)
    chosen = select_split(read_splits(raw / SETID), labels, cfg["classes"])
    ids = np.concatenate([chosen[s] for s in SPLITS])
    names = {member_name(i): int(i) for i in ids}
    vecs = {}
    for name, data in iter_tgz_members(raw / ARCHIVE, names):
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
        except OSError as exc:
            raise ValueError(f"{name}: not a readable image ({exc})") from None
        vecs[names[name]] = preprocess(img, cfg["size"])
    missing = [i for i in ids.tolist() if i not in vecs]
    if missing:
        raise ValueError(f"{raw / ARCHIVE}: {len(missing)} photo(s) of the split not in the "
                         f"archive (ids {missing[:5]}); is it the full archive?")
    split = np.concatenate([np.full(chosen[s].size, s) for s in SPLITS]).astype("<U5")
    with atomic_path(Path(out_dir) / "split.npz") as tmp:
        np.savez(tmp, X=np.stack([vecs[i] for i in ids.tolist()]), ids=ids,
                 labels=labels[ids - 1], split=split,
                 classes=np.asarray(cfg["classes"], dtype=np.int64),
                 size=np.int64(cfg["size"]))
    return chosen
