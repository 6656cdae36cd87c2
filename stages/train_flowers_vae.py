"""DVC stage train_flowers_vae: a flower VAE, its prior samples against the plain autoencoder's.

Usage: python stages/train_flowers_vae.py CONFIG FLOWER_SET PLAIN_MODEL MODEL OUT_DIR
PLAIN_MODEL is train_flowers' model (its "sample near the training codes" method is the
comparison). Writes MODEL and OUT_DIR/{history.csv, metrics.json, samples_vae.png,
samples_ae.png, training.png}.
"""

import sys

from nbae.studies.flowers import load_flower_set
from nbae.studies.params import load_params, run_stage, section, stage_parser
from nbae.studies.vae import run_flower_vae_study

SAMPLES = {"samples": 12, "seed": 0, "scale": 1.0}


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "flower_set", "plain_model", "model",
                        "out_dir").parse_args(argv)
    params = load_params(args.config)
    s = section(params, "flowers_vae_samples", SAMPLES)
    m = run_flower_vae_study(load_flower_set(args.flower_set), params.get("flowers_vae"),
                             args.plain_model, args.out_dir, model_path=args.model,
                             n_samples=s["samples"], seed=s["seed"], scale=s["scale"])
    print("flower VAE: " + ", ".join(f"{k} {v:.4g}" for k, v in m.items()
                                     if isinstance(v, float)))
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
