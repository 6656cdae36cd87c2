"""DVC stage explore_*: the interactive latent explorer page (self-contained HTML) of a model.

Usage: python stages/write_explorer.py MODEL OUT DATA
DATA is the training set for models that store no training inputs (flowers), or ``-``; OUT is
one HTML file that decodes the latent space live in any browser, offline (nbae/explorer/).
"""

from __future__ import annotations

import sys

from nbae.explorer import format_bytes, write_explorer
from nbae.studies.params import run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "model", "out", "data").parse_args(argv)
    info = write_explorer(args.model, args.out, data=None if args.data == "-" else args.data,
                          title=None)
    print(f"{args.out}: {info['layout']} explorer, latent size {info['latent_dim']}, "
          f"{info['inputs']} training inputs, {format_bytes(info['bytes'])}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
