"""DVC stage: train the denoising autoencoder on noisy glyphs with clean targets.

Settings: params ``denoise`` (noise kind, levels, copies, mode fixed|fresh, model config).
Writes models/denoise/model.npz, results/denoise/history.csv (every epoch; the worst clean
glyph's wrong pixels every ``metric_every`` epochs), results/denoise/curve.csv (for
``dvc plots``) and results/denoise/train_summary.json (DVC metrics).
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae import denoising as dn  # noqa: E402
from nbae import font_study as fst  # noqa: E402
from nbae.fileio import write_csv, write_json  # noqa: E402
from nbae.params import load_params, run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/font/font.npz")
    parser.add_argument("--model", default="models/denoise/model.npz")
    parser.add_argument("--out", default="results/denoise")
    args = parser.parse_args(argv)
    cfg = dn.train_params(load_params(args.params))
    data = fst.load_font_set(args.data)

    ae, history = dn.train_denoiser(data, cfg)
    n = ae.training["n_samples"]
    summary = dn.train_summary(ae, history, data, n)
    out = Path(args.out)
    ae.save(args.model)
    write_csv(out / "history.csv", history)
    write_csv(out / "curve.csv", fst.thin_history(history, every=max(1, len(history) // 1000)))
    write_json(out / "train_summary.json", summary)
    print(f"denoiser ({cfg['mode']} noise, {n} samples): {summary['epochs']} epochs, "
          f"{summary['steps']} steps in {summary['training_seconds']:.1f} s "
          f"({summary['steps_per_second']:.0f} steps/s), lowest loss "
          f"{summary['lowest_loss']:.3g}, clean glyphs: max {summary['clean_max_pixel_error']} "
          f"wrong pixel(s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
