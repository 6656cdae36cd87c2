"""DVC stage navigate_flowers: figures of the trained flower model and its latent space.

Usage: python stages/navigate_flowers.py CONFIG FLOWER_SET MODEL CURVE OUT_DIR FIGURES
CURVE is train_flowers' curve.csv. Writes FIGURES/{error_curve, reconstructions, latent_grid,
transitions, generated}.png and OUT_DIR/latent_codes.csv.
"""

import sys
from pathlib import Path

import pandas as pd

from nbae import figures as plots
from nbae.engine.latent_pca import principal_grid
from nbae.engine.model import Autoencoder
from nbae.fileio import write_csv
from nbae.studies import flowers as fls
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "flower_set", "model", "curve", "out_dir",
                        "figures").parse_args(argv)
    data = fls.load_flower_set(args.flower_set)
    params = load_params(args.config)

    ae = Autoencoder.load(args.model)
    if ae.input_dim != data.X.shape[1]:
        raise ValueError(f"{args.model} takes {ae.input_dim} inputs but the photos in "
                         f"{args.flower_set} have {data['X'].shape[1]} pixels (retrain the model)")
    cfg = fls.navigate_params(params, n_photos=len(data.info["ids"]), latent_dim=ae.latent_dim)
    try:
        history = pd.read_csv(args.curve)
    except FileNotFoundError:
        raise ValueError(f"{args.curve}: not found (run the train_flowers stage)") from None
    X = data.X
    shape, pr = data.image_shape, fls.PIXEL_RANGE
    fig = Path(args.figures)
    arch = "-".join(str(s) for s in ae.sizes[:ae.n_encoder_layers + 1])

    plots.plot_history(history, fig / "error_curve.png",
                       title=f"Flowers, {arch}: training error", ylabel="MSE")
    mse = fls.per_image_mse(ae, X)
    plots.plot_pairs(X, ae.reconstruct(X), shape, pr, fig / "reconstructions.png",
                     left_title="photo", right_title="decoded",
                     captions=[f"{fls.photo_label(data, i)} mse {m:.2g}"
                               for i, m in enumerate(mse)],
                     title=f"The {len(X)} photos and their reconstructions ({arch})")
    i, j = cfg["grid_dims"]
    n = cfg["grid_n"]
    if cfg["grid_axes"] == "principal":  # where the training codes actually vary
        Z = ae.encode(X)
        g = principal_grid(Z, Z[cfg["photo"]], n=n, span=cfg["grid_span"], dims=(i, j))
        xs, ys = g.xs, g.ys
        imgs = ae.decode(g.codes.reshape(n * n, -1)).reshape(n, n, -1)
    else:  # the original study: two raw latent units, the others fixed
        xs, ys, imgs = fls.photo_grid(ae, X, cfg["photo"], dims=(i, j), n=n,
                                      span_std=cfg["grid_span"])
    plots.plot_latent_grid(imgs, xs, ys, shape, pr, fig / "latent_grid.png",
                           title=f"Flowers decoded around photo "
                                 f"{fls.photo_label(data, cfg['photo'])}",
                           axes=cfg["grid_axes"], dims=(i, j))
    plots.plot_transitions(fls.pair_transitions(ae, data, cfg["pairs"], cfg["steps"]), shape, pr,
                           fig / "transitions.png",
                           title="Walking the latent line between two photos")
    dec, near, captions = fls.generate_with_nearest(ae, data, cfg["samples"],
                                                    seed=cfg["sample_seed"],
                                                    scale=cfg["sample_scale"])
    plots.plot_pairs(dec, near, shape, pr, fig / "generated.png", left_title="generated",
                     right_title="nearest photo", captions=captions,
                     title="New flowers from codes sampled like the training codes")
    write_csv(Path(args.out_dir) / "latent_codes.csv", fls.latent_codes_table(ae, data))
    print(f"{fig}: 5 figures for {arch} ({len(X)} photos, mean reconstruction MSE "
          f"{mse.mean():.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
