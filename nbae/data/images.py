"""Oxford 102 Flowers: reading the archive, preprocessing photos, choosing a training set.

The official archive ``102flowers.tgz`` holds ``jpg/image_NNNNN.jpg`` (ids 1..8189) and
``imagelabels.mat`` holds one class label (1..102) per id. Photos are read straight from the
compressed archive in one streaming pass (never extracted to disk) and reduced to small
grayscale vectors in [-1, 1] for the autoencoder.

Preprocessing (:func:`preprocess`), in this order:

1. centre crop to a square whose side is the shorter image side (flowers are centred in
   these photos, so the crop keeps the flower and drops background);
2. grayscale with Pillow's mode ``"L"`` conversion, the ITU-R 601-2 luma transform
   ``L = R * 299/1000 + G * 587/1000 + B * 114/1000``;
3. resize to ``size x size`` with Pillow's Lanczos filter: when shrinking, Pillow widens the
   kernel by the scale factor, so it averages over each output pixel's whole footprint
   (no aliasing, like an area/box average) while keeping edges sharper than a plain box;
   the 8-bit result is clipped to 0..255, so the filter's ringing cannot leave the range;
4. scale 0..255 to [-1, 1] as ``v / 127.5 - 1`` (black -> -1.0, white -> +1.0 exactly),
   float32, flattened row by row into a vector of ``size * size`` values.

Selection (:func:`select_images`) is either an explicit list of ids or the rule "medoid": among
all photos of the chosen classes, the ``n_images`` whose preprocessed vectors lie closest to the
set's medoid (the photo with the smallest summed distance to all others), distances taken after
standardizing each vector (see :func:`medoid_nearest`). That keeps a visually homogeneous group
and drops odd framings, which is what a small autoencoder can learn from two dozen examples.
"""

from __future__ import annotations

import io
import math
import re
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbae.errors import InputError
from nbae.fileio import atomic_path

# Oxeye daisy: white rays around a disc on dark foliage, nearly all head-on and centred; the
# most homogeneous class in the shared five-class subset (see select_images).
DEFAULT_CLASSES = (49,)
DEFAULT_N_IMAGES = 24
DEFAULT_SIZE = 32
SELECTIONS = ("medoid", "first")

_MEMBER_RE = re.compile(r"(?:^|/)image_(\d+)\.jpg$")


def image_id(name: str) -> int | None:
    """Id of an archive member name (``"jpg/image_00042.jpg"`` -> 42), None for other names."""
    m = _MEMBER_RE.search(name)
    return int(m.group(1)) if m else None


def member_name(image_id_: int) -> str:
    """Archive member name of an image id (42 -> ``"jpg/image_00042.jpg"``)."""
    return f"jpg/image_{int(image_id_):05d}.jpg"


def read_labels(path) -> np.ndarray:
    """Labels from ``imagelabels.mat``: int64 array where ``labels[id - 1]`` is the id's class."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (run the download stage first)")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for damaged files
        raise ValueError(f"{path}: not a readable .mat file ({exc})") from None
    if "labels" not in mat:
        raise ValueError(f"{path}: no 'labels' variable (is this imagelabels.mat?)")
    return np.asarray(mat["labels"]).ravel().astype(np.int64)


def read_splits(path) -> dict[str, np.ndarray]:
    """Official train/validation/test ids from ``setid.mat``: ``{"trnid", "valid", "tstid"}``."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (run the download stage first)")
    mat = scipy.io.loadmat(path)
    missing = [k for k in ("trnid", "valid", "tstid") if k not in mat]
    if missing:
        raise ValueError(f"{path}: missing variables {missing} (is this setid.mat?)")
    return {k: np.asarray(mat[k]).ravel().astype(np.int64) for k in ("trnid", "valid", "tstid")}


def iter_tgz_members(tgz, names: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, data)`` for the wanted members of a tar.gz, in archive order.

    ``tgz`` is a path or a binary file object. The archive is read as a stream (one forward
    pass, nothing written to disk) and reading stops once every wanted member was seen; names
    not in the archive are simply not yielded (callers decide whether that is an error).
    """
    wanted = set(names)
    if not wanted:
        return
    label = str(tgz) if isinstance(tgz, str | Path) else getattr(tgz, "name", "<archive>")
    try:
        if isinstance(tgz, str | Path):
            tar = tarfile.open(tgz, mode="r|gz")
        else:
            tar = tarfile.open(fileobj=tgz, mode="r|gz")
        with tar:
            for member in tar:
                if member.name not in wanted or not member.isfile():
                    continue
                f = tar.extractfile(member)
                yield member.name, f.read()
                wanted.discard(member.name)
                if not wanted:
                    break
    except FileNotFoundError:
        raise ValueError(f"{label}: no such file (run the download stage first)") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise ValueError(
            f"{label}: damaged or not a .tgz archive ({exc}); delete it and download it again"
        ) from None


def _decode(name: str, data: bytes):
    """Decode one archive member into a loaded PIL image (ValueError naming the member)."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{name}: not a readable image ({exc})") from None
    return img


def _iter_images(tgz_path, image_ids: Iterable[int]):
    """Yield ``(id, PIL image)`` for the given ids; ValueError naming the ids not in the archive."""
    ids = sorted({int(i) for i in image_ids})
    names = {member_name(i): i for i in ids}
    seen = set()
    for name, data in iter_tgz_members(tgz_path, names):
        seen.add(names[name])
        yield names[name], _decode(name, data)
    missing = [i for i in ids if i not in seen]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"{tgz_path}: {len(missing)} requested image(s) not in the archive (ids {shown})"
        )


def read_images_from_tgz(tgz_path, image_ids: Iterable[int]) -> dict:
    """Read the photos with the given ids: ``{id: PIL.Image}`` (ids ascending, images loaded)."""
    images = dict(_iter_images(tgz_path, image_ids))
    return dict(sorted(images.items()))


def preprocess(img, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Centre-crop, grayscale (ITU-R 601-2 luma), Lanczos-resize, scale to [-1, 1].

    Returns a float32 vector of ``size * size`` values, row by row (see the module docstring).
    """
    from PIL import Image

    if int(size) < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    size = int(size)
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")  # palette/CMYK/alpha: go through RGB so "L" means 601-2 luma
    if img.mode != "L":
        img = img.convert("L")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS)
    x = np.asarray(img, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
    return x.reshape(-1)


def preprocess_info(size: int = DEFAULT_SIZE) -> dict:
    """Description of :func:`preprocess` for model metadata (``ae.metadata["preprocess"]``)."""
    return {
        "size": int(size),
        "crop": "center",
        "grayscale": "ITU-R 601-2 luma",
        "resample": "lanczos",
        "pixel_range": [-1, 1],
    }


def standardize(X) -> np.ndarray:
    """Each row shifted to mean 0 and scaled to standard deviation 1 (constant rows -> 0)."""
    X = np.asarray(X, dtype=np.float64)
    Z = X - X.mean(axis=1, keepdims=True)
    std = Z.std(axis=1, keepdims=True)
    return Z / np.where(std > 1e-12, std, 1.0)


def medoid_nearest(X, n: int, ids=None, standardized: bool = True) -> tuple[np.ndarray, int]:
    """Indices of the ``n`` rows of ``X`` closest to the medoid, and the medoid's index.

    The medoid is the row with the smallest summed Euclidean distance to all rows. With
    ``standardized`` (default) distances are taken between rows standardized to mean 0 and
    std 1 (a correlation distance): on raw pixels, overall brightness (sky vs foliage behind
    the flower) dominates and the "typical" photos are dull, low-contrast side views; after
    standardizing, shape and layout decide. Ties go to the smaller id (``ids`` defaults to
    the row index), so the result does not depend on row order. Indices sorted by distance.
    """
    X = standardize(X) if standardized else np.asarray(X, dtype=np.float64)
    m = X.shape[0]
    if not 1 <= n <= m:
        raise ValueError(f"cannot select {n} images from {m} candidates")
    ids = np.arange(m) if ids is None else np.asarray(ids)
    sq = np.einsum("ij,ij->i", X, X)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (X @ X.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    dist = np.sqrt(d2)
    # Round away float noise so that near-equal values tie and fall back to the id order.
    total = np.round(dist.sum(axis=1), 9)
    medoid = int(np.lexsort((ids, total))[0])
    order = np.lexsort((ids, np.round(dist[medoid], 9)))
    return order[:n], medoid


@dataclass
class FlowerSet:
    """Selected photos: ``X`` (n, size*size) float32 in [-1, 1], ``ids``/``labels`` int64."""

    X: np.ndarray
    ids: np.ndarray
    labels: np.ndarray
    size: int
    medoid_id: int | None = None


def select_images(
    tgz_path,
    labels_path,
    *,
    ids=None,
    classes=DEFAULT_CLASSES,
    n_images: int | None = DEFAULT_N_IMAGES,
    size: int = DEFAULT_SIZE,
    selection: str = "medoid",
) -> FlowerSet:
    """Reproducible choice of training photos, preprocessed; rows sorted by image id.

    - ``ids`` given: exactly those photos (``classes``/``n_images``/``selection`` ignored).
    - otherwise the candidates are all photos whose label is in ``classes``, and
      ``selection="medoid"`` keeps the ``n_images`` closest to the candidates' medoid after
      preprocessing (:func:`medoid_nearest`), ``selection="first"`` the ``n_images`` smallest
      ids. ``n_images=None`` keeps all candidates.

    The default, oxeye daisy (class 49, 49 photos), was chosen from contact sheets of the five
    classes of the shared subset (10, 49, 50, 54, 100): a single white flower head seen from
    the front, centred, on dark foliage, with a clear structure (rays around a darker disc).
    Its 24 medoid-nearest photos have a mean pairwise correlation of 0.65 (sunflowers 0.37,
    whose backgrounds vary from sky to leaves; dandelions 0.69 but are near-featureless bright
    blobs). The medoid rule drops the photos with two flowers or seen from the side.
    """
    labels_all = read_labels(labels_path)
    n_labels = labels_all.size
    if ids is not None:
        sel = [int(i) for i in ids]
        if not sel:
            raise InputError("params flowers.ids is empty: give image ids or remove the key")
        if len(set(sel)) != len(sel):
            raise InputError("params flowers.ids lists an image more than once")
        bad = [i for i in sel if not 1 <= i <= n_labels]
        if bad:
            raise InputError(f"params flowers.ids: image ids out of range 1..{n_labels}: "
                              f"{bad[:10]}")
        images = dict(_iter_images(tgz_path, sel))
        sel = sorted(sel)
        X = np.stack([preprocess(images[i], size) for i in sel])
        sel = np.asarray(sel, dtype=np.int64)
        return FlowerSet(X, sel, labels_all[sel - 1], int(size))

    if selection not in SELECTIONS:
        raise InputError(f"params flowers.selection must be one of {list(SELECTIONS)}, "
                          f"got {selection!r}")
    classes = [int(c) for c in np.atleast_1d(classes)]
    if not classes:
        raise InputError("params flowers.classes is empty: give at least one class (1..102)")
    cand = np.flatnonzero(np.isin(labels_all, classes)) + 1  # ids ascending
    if cand.size == 0:
        raise InputError(f"params flowers.classes: no photos with labels {classes} in "
                          f"{labels_path} (classes are 1..102)")
    n = cand.size if n_images is None else int(n_images)
    if not 1 <= n <= cand.size:
        raise InputError(f"params flowers.n_images = {n_images} but classes {classes} have "
                          f"{cand.size} photos")
    if selection == "first":
        cand = cand[:n]
    # Preprocess while streaming so full-size photos are never all held in memory.
    vecs = dict((i, preprocess(img, size)) for i, img in _iter_images(tgz_path, cand))
    Xc = np.stack([vecs[int(i)] for i in cand])
    medoid_id = None
    if selection == "medoid":
        idx, med = medoid_nearest(Xc, n, ids=cand)
        medoid_id = int(cand[med])
        idx = np.sort(idx)
        cand, Xc = cand[idx], Xc[idx]
    cand = cand.astype(np.int64)
    return FlowerSet(Xc, cand, labels_all[cand - 1], int(size), medoid_id)


def contact_sheet(X, size: int, ids, path, scale: int = 3, columns: int | None = None) -> None:
    """Write a PNG grid of preprocessed photos (rows of ``X`` in [-1, 1]) captioned by id."""
    from PIL import Image, ImageDraw, ImageFont

    X = np.asarray(X, dtype=np.float64).reshape(len(X), size, size)
    ids = [int(i) for i in ids]
    if len(ids) != len(X):
        raise ValueError(f"{len(X)} images but {len(ids)} ids")
    n = len(X)
    cols = columns or max(1, math.ceil(math.sqrt(n * 1.5)))
    rows = max(1, math.ceil(n / cols))
    tile, caption, pad = size * scale, 12, 4
    sheet = Image.new("L", (cols * (tile + pad) + pad, rows * (tile + caption + pad) + pad), 255)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, (x, i) in enumerate(zip(X, ids, strict=True)):
        pixels = np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels, mode="L").resize((tile, tile), Image.Resampling.NEAREST)
        r, c = divmod(k, cols)
        x0, y0 = pad + c * (tile + pad), pad + r * (tile + caption + pad)
        sheet.paste(img, (x0, y0))
        draw.text((x0, y0 + tile), str(i), fill=0, font=font)
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
