"""DVC stage train_font@KEY: train one architecture of config/font.yaml on the font set.

Usage: python stages/train_font.py CONFIG KEY FONT_SET MODEL OUT_DIR
Writes MODEL (.npz) and OUT_DIR/{curve.csv, per_glyph.csv, summary.json}: the loss every 100th
epoch (plus the worst glyph's wrong pixels every ``train_font.metric_every`` epochs and the
lowest-loss epoch), wrong pixels per glyph, and the run's summary.
"""

import sys

from nbae.studies import font as fst
from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "key", "font_set", "model", "out_dir").parse_args(argv)
    params = load_params(args.config)
    key, cfg = fst.arch_config(params, args.key)
    tp = fst.train_params(params)
    data = load_font_set(args.font_set)
    ae, history = fst.train_architecture(cfg, data, metric_every=tp["metric_every"],
                                         max_wrong=tp["max_wrong"], arch=key)
    s = fst.run_summary(ae, history, data, max_wrong=tp["max_wrong"], arch=key, cfg=cfg)
    fst.save_run(args.out_dir, ae, history, s, data, model_path=args.model)
    print(f"arch {key} ({s['description']}): {s['epochs']} epochs in "
          f"{s['training_seconds']:.1f} s ({s['steps_per_second']:.0f} steps/s), lowest loss "
          f"{s['lowest_loss']:.3g} @ {s['lowest_loss_epoch']}, max {s['max_pixel_error']} "
          f"wrong pixel(s), {s['glyphs_over']} glyph(s) over {tp['max_wrong']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
