"""DVC stage train_flowers: train the chosen flower architecture on the prepared photos.

Usage: python stages/train_flowers.py CONFIG FLOWER_SET MODEL OUT_DIR
Writes MODEL and OUT_DIR/{curve.csv (every 10th epoch), reconstruction.csv, summary.json}.
"""

import sys

from nbae.studies import flowers as fls
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "flower_set", "model", "out_dir").parse_args(argv)
    cfg = fls.train_config(load_params(args.config))
    data = fls.load_flower_set(args.flower_set)
    ae, history = fls.train_model(cfg, data)
    s = fls.run_summary(ae, history, data, cfg)
    seconds, rate = ae.training["seconds"], ae.training["steps_per_second"] or 0.0
    fls.save_run(args.out_dir, args.model, ae, history, s, fls.reconstruction_table(ae, data))
    rec = s["reconstruction"]
    print(f"{s['description']}: {s['epochs']} epochs in {seconds:.1f} s "
          f"({rate:.0f} steps/s), lowest loss {s['lowest_loss']:.3g} @ "
          f"{s['lowest_loss_epoch']}, reconstruction MSE mean {rec['mse_mean']:.3g} (worst "
          f"#{rec['worst_id']} {rec['mse_max']:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
