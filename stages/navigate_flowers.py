"""DVC stage: figures of the trained flower model (navigating its latent space).

Reads models/flowers/model.npz, data/flowers/prepared/flowers.npz and
results/flowers/train/history.csv; writes to FIGURES: error_curve.png (training error),
reconstructions.png (originals next to their reconstructions), latent_grid.png (a sweep of two
latent coordinates around one photo's code, the others fixed), transitions.png (decodings along
the latent line between pairs of photos), generated.png (flowers decoded from codes sampled
like the training codes, each next to its nearest training photo); and OUT/latent_codes.csv.
Settings: params ``flowers_navigate`` (photos are positions 0..n-1 in the prepared set).
Run from the repository root: ``python stages/navigate_flowers.py [--figures DIR]``.
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
    parser.add_argument("--model", default="models/flowers/model.npz")
    parser.add_argument("--history", default="results/flowers/train/history.csv")
    parser.add_argument("--figures", default="figures/flowers")
    parser.add_argument("--out", default="results/flowers")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    data = fls.load_flower_set(args.data)

    import pandas as pd

    from nbae import plots
    from nbae.model import Autoencoder

    ae = Autoencoder.load(args.model)
    if ae.input_dim != data["X"].shape[1]:
        raise ValueError(f"{args.model} takes {ae.input_dim} inputs but the photos in "
                         f"{args.data} have {data['X'].shape[1]} pixels (retrain the model)")
    cfg = fls.navigate_params(params, n_photos=len(data["ids"]), latent_dim=ae.latent_dim)
    try:
        history = pd.read_csv(args.history)
    except FileNotFoundError:
        raise ValueError(f"{args.history}: not found (run the train_flowers stage)") from None
    X = data["X"]
    shape, pr = (data["size"], data["size"]), fls.PIXEL_RANGE
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
    xs, ys, imgs = fls.photo_grid(ae, X, cfg["photo"], dims=(i, j), n=cfg["grid_n"],
                                  span_std=cfg["grid_span"])
    plots.plot_latent_grid(imgs, xs, ys, shape, pr, fig / "latent_grid.png",
                           title=f"Latent coordinates {i + 1} and {j + 1} swept around photo "
                                 f"{fls.photo_label(data, cfg['photo'])} (others fixed)")
    plots.plot_transitions(fls.pair_transitions(ae, data, cfg["pairs"], cfg["steps"]), shape, pr,
                           fig / "transitions.png",
                           title="Walking the latent line between two photos")
    dec, near, captions = fls.generate_with_nearest(ae, data, cfg["samples"],
                                                    seed=cfg["sample_seed"],
                                                    scale=cfg["sample_scale"])
    plots.plot_pairs(dec, near, shape, pr, fig / "generated.png", left_title="generated",
                     right_title="nearest photo", captions=captions,
                     title="New flowers from codes sampled like the training codes")
    write_csv(Path(args.out) / "latent_codes.csv", fls.latent_codes_table(ae, data))
    print(f"{fig}: 5 figures for {arch} ({len(X)} photos, mean reconstruction MSE "
          f"{mse.mean():.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
