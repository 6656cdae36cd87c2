"""DVC stage prepare_flower_split: the official train/val/test photos of some flower classes.

Usage: python stages/prepare_flower_split.py CONFIG RAW_DIR OUT_DIR
Finds 102flowers.tgz, imagelabels.mat and setid.mat in RAW_DIR (md5-checked; copy them there
by hand without network) or fetches them from config ``flower_split.base_url``; writes
OUT_DIR/split.npz: ``X`` float32 (n, size*size) in [-1, 1] (preprocessed like the flower
study), ``ids``, ``labels``, ``split`` (train/val/test, from setid.mat), ``classes``, ``size``.
The repository ships the result for the default settings, so this stage only runs (and needs
the files) when the ``flower_split:`` settings or its code change.
"""

import sys

from nbae.studies import flower_split as fsp
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "raw_dir", "out_dir").parse_args(argv)
    cfg = fsp.data_params(load_params(args.config))
    chosen = fsp.prepare_split(cfg, args.raw_dir, args.out_dir)
    classes = cfg["classes"]
    what = "all 102 classes" if len(classes) == fsp.N_CLASSES else f"classes {classes}"
    counts = ", ".join(f"{len(chosen[s])} {s}" for s in fsp.SPLITS)
    print(f"{args.out_dir}/split.npz: {counts} photos ({what}), {cfg['size']}x{cfg['size']} "
          f"grayscale")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
