"""DVC stage: train one font architecture; write the model, its history and a summary.

``--arch`` picks an entry of params ``architectures`` (default: params ``arch``). Writes
MODEL (.npz), OUT/history.csv (every epoch; ``max_wrong_pixels`` and ``glyphs_over`` every
``train_font.metric_every`` epochs), OUT/curve.csv (a light copy for ``dvc plots``),
OUT/per_glyph.csv and OUT/summary.json (DVC metrics).
Run from the repository root: ``python stages/train_font.py [--arch 7] [--out DIR] [--model F]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae import font_study as fst  # noqa: E402
from nbae.fileio import write_csv  # noqa: E402
from nbae.params import load_params, run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--arch", default=None, help="architecture id (default: params arch)")
    parser.add_argument("--data", default="data/font/font.npz")
    parser.add_argument("--out", default="results/font/train")
    parser.add_argument("--model", default="models/font/model.npz")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    key, cfg = fst.arch_config(params, args.arch)
    tp = fst.train_params(params)
    data = fst.load_font_set(args.data)

    ae, history = fst.train_architecture(cfg, data, metric_every=tp["metric_every"],
                                         max_wrong=tp["max_wrong"], arch=key)
    summary = fst.run_summary(ae, history, data, max_wrong=tp["max_wrong"], arch=key, cfg=cfg)
    fst.save_run(args.out, ae, history, summary, data, model_path=args.model)
    write_csv(Path(args.out) / "curve.csv", fst.thin_history(history))
    print(f"arch {key} ({summary['description']}): {summary['epochs']} epochs in "
          f"{summary['training_seconds']:.1f} s ({summary['steps_per_second']:.0f} steps/s), "
          f"lowest loss {summary['lowest_loss']:.3g} @ {summary['lowest_loss_epoch']}, "
          f"max {summary['max_pixel_error']} wrong pixel(s), "
          f"{summary['glyphs_over']} glyph(s) over {tp['max_wrong']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
