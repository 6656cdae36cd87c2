"""DVC stage: train the chosen flower architecture; write the model, its history and a summary.

Reads data/flowers/prepared/flowers.npz; the architecture is params ``flowers_arch`` and the
training length ``flowers_train.epochs``. Writes MODEL (.npz, with the photo ids, image shape,
preprocessing and latent statistics in its metadata), OUT/history.csv (every epoch),
OUT/curve.csv (every 10th epoch, for ``dvc plots``), OUT/reconstruction.csv (MSE per photo)
and OUT/summary.json (DVC metrics).
Run from the repository root: ``python stages/train_flowers.py [--out DIR] [--model F]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae import flower_study as fls  # noqa: E402
from nbae.fileio import write_csv  # noqa: E402
from nbae.params import load_params, run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/flowers/prepared/flowers.npz")
    parser.add_argument("--out", default="results/flowers/train")
    parser.add_argument("--model", default="models/flowers/model.npz")
    args = parser.parse_args(argv)
    cfg = fls.train_config(load_params(args.params))
    data = fls.load_flower_set(args.data)

    ae, history = fls.train_model(cfg, data)
    summary = fls.run_summary(ae, history, data, cfg)
    fls.save_run(args.out, args.model, ae, history, summary, fls.reconstruction_table(ae, data))
    write_csv(Path(args.out) / "curve.csv", fls.thin_history(history))
    rec = summary["reconstruction"]
    print(f"{summary['description']}: {summary['epochs']} epochs in "
          f"{summary['training_seconds']:.1f} s ({summary['steps_per_second']:.0f} steps/s), "
          f"lowest loss {summary['lowest_loss']:.3g} @ {summary['lowest_loss_epoch']}, "
          f"reconstruction MSE mean {rec['mse_mean']:.3g} (worst #{rec['worst_id']} "
          f"{rec['mse_max']:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
