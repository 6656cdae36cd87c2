"""DVC stage train_font_vae: a variational autoencoder with a 2-D latent space on the glyphs.

Usage: python stages/train_font_vae.py CONFIG FONT_SET MODEL OUT_DIR
Writes MODEL and OUT_DIR/{history.csv, metrics.json (ELBO, KL, reconstruction, wrong pixels),
latent_map.png (mu with sigma ellipses), prior_grid.png, transitions.png, reconstructions.png,
training.png}.
"""

import sys

from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, section, stage_parser
from nbae.studies.vae import run_font_vae_study

FIGURES = {"transitions": [["k", "h"], ["w", "u"]], "steps": 9, "grid_n": 15}


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "model", "out_dir").parse_args(argv)
    params = load_params(args.config)
    fig = section(params, "font_vae_figures", FIGURES)
    m = run_font_vae_study(load_font_set(args.font_set), params.get("font_vae"), args.out_dir,
                           model_path=args.model, transitions=fig["transitions"],
                           steps=fig["steps"], grid_n=fig["grid_n"])
    print(f"font VAE: ELBO {m['elbo']:.4g}, KL {m['kl']:.4g}, reconstruction "
          f"{m['reconstruction']:.4g}, max {m['max_wrong_pixels']} wrong pixel(s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
