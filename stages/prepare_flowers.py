"""DVC stage prepare_flowers: select and preprocess the flower photos for the autoencoder.

Usage: python stages/prepare_flowers.py CONFIG RAW_DIR OUT_DIR
Finds 102flowers.tgz, imagelabels.mat and setid.mat in RAW_DIR (md5-checked; copy them there
by hand without network) or fetches them from config ``flowers.base_url``; writes
OUT_DIR/flowers.npz (``X`` float32 (n, size*size) in [-1, 1], ``ids``, ``labels``) and
OUT_DIR/contact_sheet.png. The repository ships the result for the default settings, so this
stage only runs (and needs the files) when the ``flowers:`` settings or its code change.
"""

import sys

from nbae.studies import flower_data
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "raw_dir", "out_dir").parse_args(argv)
    cfg = flower_data.flowers_params(load_params(args.config).get("flowers"))
    fs = flower_data.prepare(cfg, args.raw_dir, args.out_dir)
    how = "explicit ids" if cfg["ids"] is not None else f"classes {cfg['classes']}"
    if fs.medoid_id is not None:
        how += f", nearest to medoid {fs.medoid_id}"
    print(f"{args.out_dir}/flowers.npz: {len(fs.ids)} photos ({how}), {fs.size}x{fs.size} "
          f"grayscale")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
