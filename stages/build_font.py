"""DVC stage build_font: parse the course's font.h into the font set and a glyph sheet.

Usage: python stages/build_font.py CONFIG FONT_H OUT_DIR
Writes OUT_DIR/font.npz (32x35 glyph matrix, labels, codes) and OUT_DIR/glyphs.png.
"""

import sys
from pathlib import Path

from nbae import figures as plots
from nbae.data.datasets import save_font_set
from nbae.studies import font_data as fd
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_h", "out_dir").parse_args(argv)
    cfg = fd.font_params(load_params(args.config))
    data = fd.build_font_set(args.font_h, cfg["name"], cfg["encoding"])
    out = Path(args.out_dir)
    save_font_set(out / "font.npz", data)
    plots.plot_image_grid(data.X, data.image_shape, data.pixel_range, out / "glyphs.png",
                          titles=data.labels, ncols=8,
                          suptitle=f"{cfg['name']} ({len(data.labels)} glyphs, "
                                   f"{cfg['encoding']})")
    print(f"{out / 'font.npz'}: {len(data.labels)} glyphs of {cfg['name']}, "
          f"{cfg['encoding']} pixels")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
