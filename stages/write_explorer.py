"""DVC stage: the interactive latent explorer page (self-contained HTML) of a trained model.

Reads MODEL and, for models that store no training inputs (flowers), DATA; writes OUT, one
HTML file that decodes the latent space live in any browser, offline (see nbae/explorer.py).
Run from the repository root, e.g.
``python stages/write_explorer.py --model models/font/model.npz --out figures/font/explorer.html``
or with ``--data data/flowers/prepared/flowers.npz`` for the flower model.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae.params import run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--title", default=None)
    args = parser.parse_args(argv)

    from nbae.explorer import format_bytes, write_explorer

    info = write_explorer(args.model, args.out, data=args.data, title=args.title)
    print(f"{args.out}: {info['layout']} explorer, latent size {info['latent_dim']}, "
          f"{info['inputs']} training inputs, {format_bytes(info['bytes'])}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
