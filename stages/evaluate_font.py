"""DVC stage: figures of the trained font model (error curve, latent map, reconstructions,
transitions between letters, glyphs decoded from a grid over the latent plane).

Reads models/font/model.npz, results/font/train/history.csv and data/font/font.npz; writes
figures/font/*.png and results/font/latent_codes.csv. Settings: params ``evaluate_font``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from nbae import font_study as fst  # noqa: E402
from nbae.fileio import write_csv  # noqa: E402
from nbae.params import ParamsError, load_params, run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/font/font.npz")
    parser.add_argument("--model", default="models/font/model.npz")
    parser.add_argument("--history", default="results/font/train/history.csv")
    parser.add_argument("--figures", default="figures/font")
    parser.add_argument("--out", default="results/font")
    args = parser.parse_args(argv)
    cfg = fst.eval_params(load_params(args.params))
    data = fst.load_font_set(args.data)
    fst.check_transitions(cfg["transitions"], data["labels"])  # before any figure is drawn

    from nbae import plots
    from nbae.latent import latent_grid
    from nbae.metrics import pixel_errors
    from nbae.model import Autoencoder

    ae = Autoencoder.load(args.model)
    if ae.latent_dim != 2:
        raise ParamsError(f"the latent map needs a 2-D latent space; {args.model} has "
                          f"{ae.latent_dim} latent units")
    history = fst.read_history(args.history)
    X, labels, pr = data["X"], data["labels"], data["pixel_range"]
    shape = fst.IMAGE_SHAPE
    fig = Path(args.figures)
    arch = ae.metadata.get("architecture", "?")

    plots.plot_history(history, fig / "error_curve.png",
                       title=f"Font, architecture {arch}: training error", ylabel=ae.loss_name)
    Z = ae.encode(X)
    Xh = ae.reconstruct(X)
    plots.plot_latent_map(Z, labels, fig / "latent_map.png", images=X, image_shape=shape,
                          pixel_range=pr, title=f"Latent codes of the 32 glyphs (arch {arch})")
    plots.plot_reconstructions(X, Xh, labels, shape, pr, fig / "reconstructions.png")
    plots.plot_transitions(fst.transitions(ae, data, cfg["transitions"], cfg["steps"]), shape,
                           pr, fig / "transitions.png")
    xs, ys, imgs = latent_grid(ae, n=cfg["grid_n"])
    plots.plot_latent_grid(imgs, xs, ys, shape, pr, fig / "latent_grid.png",
                           title="Glyphs decoded from a grid over the latent plane")
    err = pixel_errors(X, Xh, pr)
    write_csv(Path(args.out) / "latent_codes.csv",
              pd.DataFrame({"label": labels, "z1": Z[:, 0], "z2": Z[:, 1],
                            "wrong_pixels": err}))
    print(f"{fig}: 5 figures for architecture {arch} (max {err.max()} wrong pixel(s))")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
