"""DVC stage: select and preprocess the flower photos for the autoencoder.

Reads ``flowers.raw_dir``/102flowers.tgz and imagelabels.mat (never extracting the archive) and
writes data/flowers/prepared/flowers.npz (``X`` float32 (n, size*size) in [-1, 1], ``ids``,
``labels``) and data/flowers/prepared/contact_sheet.png. Settings: the ``flowers:`` section of
params.yaml (``ids`` or ``classes``/``n_images``/``selection``, and ``size``).
Run from the repository root: ``python stages/prepare_flowers.py [--params params.yaml]``.
Exits 2 with one ``error:`` line for a bad setting, 1 when the files are missing or damaged.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from nbae.fileio import atomic_path  # noqa: E402
from nbae.images import (  # noqa: E402
    ARCHIVE_NAME,
    LABELS_NAME,
    contact_sheet,
    load_flowers_params,
    select_images,
)
from nbae.params import run_stage, stage_parser  # noqa: E402

OUT_DIR = Path("data/flowers/prepared")


def main(argv=None) -> int:
    """Write flowers.npz and contact_sheet.png (run it through :func:`run_stage`)."""
    parser = stage_parser(__doc__)
    parser.add_argument("--out", default=str(OUT_DIR), help=f"output folder ({OUT_DIR})")
    args = parser.parse_args(argv)
    out = Path(args.out)
    cfg = load_flowers_params(args.params)
    raw = Path(cfg["raw_dir"])
    fs = select_images(
        raw / ARCHIVE_NAME, raw / LABELS_NAME, ids=cfg["ids"], classes=cfg["classes"],
        n_images=cfg["n_images"], size=cfg["size"], selection=cfg["selection"],
    )
    with atomic_path(out / "flowers.npz") as tmp:
        np.savez(tmp, X=fs.X, ids=fs.ids, labels=fs.labels)
    contact_sheet(fs.X, fs.size, fs.ids, out / "contact_sheet.png")
    how = "explicit ids" if cfg["ids"] is not None else f"classes {cfg['classes']}"
    if fs.medoid_id is not None:
        how += f", nearest to medoid {fs.medoid_id}"
    print(f"{out / 'flowers.npz'}: {len(fs.ids)} photos ({how}), {fs.size}x{fs.size} grayscale")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
