"""DVC stage: font.h -> data/font/font.npz (X, labels, codes, encoding) + a sheet of the glyphs.

Settings: the ``font:`` section of params.yaml (``file``, ``name``, ``encoding`` binary|bipolar).
Run from the repository root: ``python stages/build_font.py [--params params.yaml]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae import font_study as fst  # noqa: E402
from nbae.params import load_params, run_stage, stage_parser  # noqa: E402

OUT_DIR = Path("data/font")


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", default=str(OUT_DIR))
    args = parser.parse_args(argv)
    cfg = fst.font_params(load_params(args.params))
    data = fst.build_font_set(cfg["file"], cfg["name"], cfg["encoding"])
    out = Path(args.out)
    fst.save_font_set(out / "font.npz", data)

    from nbae.plots import plot_image_grid

    plot_image_grid(data["X"], fst.IMAGE_SHAPE, data["pixel_range"], out / "glyphs.png",
                    titles=data["labels"], ncols=8,
                    suptitle=f"{cfg['name']} ({len(data['labels'])} glyphs, {cfg['encoding']})")
    print(f"{out / 'font.npz'}: {len(data['labels'])} glyphs of {cfg['name']}, "
          f"{cfg['encoding']} pixels")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
