"""DVC stage train_denoiser: train the denoising autoencoder on noisy copies of the glyphs.

Usage: python stages/train_denoiser.py CONFIG FONT_SET MODEL OUT_DIR
Writes MODEL, OUT_DIR/curve.csv (the per-epoch history) and OUT_DIR/train_summary.json.
"""

import sys
from pathlib import Path

from nbae.fileio import write_csv, write_json
from nbae.studies import denoising as dn
from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "model", "out_dir").parse_args(argv)
    cfg = dn.train_params(load_params(args.config))
    data = load_font_set(args.font_set)
    ae, history = dn.train_denoiser(data, cfg)
    n = ae.training["n_samples"]
    s = dn.train_summary(ae, history, data, n)
    out = Path(args.out_dir)
    ae.save(args.model)
    write_csv(out / "curve.csv", history)
    write_json(out / "train_summary.json", s)
    print(f"denoiser ({cfg['mode']} noise, {n} samples): {s['epochs']} epochs, {s['steps']} "
          f"steps in {s['training_seconds']:.1f} s ({s['steps_per_second']:.0f} steps/s), lowest "
          f"loss {s['lowest_loss']:.3g}, clean glyphs: max {s['clean_max_pixel_error']} wrong "
          f"pixel(s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
