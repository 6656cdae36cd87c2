"""DVC stage evaluate_font: figures and headline metrics of the architecture params ``arch``.

Usage: python stages/evaluate_font.py CONFIG FONT_SET MODEL RUN_DIR OUT_DIR FIGURES
MODEL and RUN_DIR are that architecture's (models/font/arch/<arch>/representative.npz: the
seed with the median lowest loss; results/font/arch/<arch>). Writes FIGURES/{error_curve,
latent_map, reconstructions, transitions, latent_grid}.png of that seed, OUT_DIR/latent_codes.csv
and OUT_DIR/metrics.json (what ``dvc exp show`` displays: success share over seeds, median
lowest loss). Codes and wrong pixels come from nbae.engine.exact (the same on every machine).
"""

import json
import sys
from pathlib import Path

import pandas as pd

from nbae import figures as plots
from nbae.data.metrics import pixel_errors
from nbae.engine import exact
from nbae.engine.latent import latent_grid
from nbae.engine.model import Autoencoder
from nbae.fileio import write_csv, write_json
from nbae.studies import font as fst
from nbae.studies.font_data import load_font_set
from nbae.studies.params import ParamsError, load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "model", "run_dir", "out_dir",
                        "figures").parse_args(argv)
    cfg = fst.eval_params(load_params(args.config))
    data = load_font_set(args.font_set)
    fst.check_transitions(cfg["transitions"], data.labels)  # before any figure is drawn
    ae = Autoencoder.load(args.model)
    if ae.latent_dim != 2:
        raise ParamsError(f"the latent map needs a 2-D latent space; {args.model} has "
                          f"{ae.latent_dim} latent units")
    run = Path(args.run_dir)
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    seed = summary["representative_seed"]
    curves = fst.read_history(run / "curves.csv")
    history = curves[curves["seed"] == seed]
    X, labels, pr, shape = data.X, data.labels, data.pixel_range, data.image_shape
    fig = Path(args.figures)
    arch = ae.metadata.get("architecture", "?")

    plots.plot_history(history, fig / "error_curve.png",
                       title=f"Font, architecture {arch}, seed {seed} (median of "
                             f"{summary['seeds']}): training error", ylabel=ae.loss_name)
    Z = exact.encode(ae, X)
    Xh = exact.reconstruct(ae, X)
    plots.plot_latent_map(Z, labels, fig / "latent_map.png", images=X, image_shape=shape,
                          pixel_range=pr,
                          title=f"Latent codes of the 32 glyphs (arch {arch}, seed {seed})")
    plots.plot_reconstructions(X, Xh, labels, shape, pr, fig / "reconstructions.png")
    plots.plot_transitions(fst.transitions(ae, data, cfg["transitions"], cfg["steps"]), shape,
                           pr, fig / "transitions.png")
    xs, ys, imgs = latent_grid(ae, n=cfg["grid_n"])
    plots.plot_latent_grid(imgs, xs, ys, shape, pr, fig / "latent_grid.png",
                           title="Glyphs decoded from a grid over the latent plane")
    err = pixel_errors(X, Xh, pr)
    out = Path(args.out_dir)
    write_csv(out / "latent_codes.csv", pd.DataFrame(
        {"label": labels, "z1": Z[:, 0], "z2": Z[:, 1], "wrong_pixels": err}))
    write_json(out / "metrics.json", fst.headline(summary))
    print(f"{fig}: 5 figures for architecture {arch}, seed {seed} (max {err.max()} wrong "
          f"pixel(s)); goal met by {summary['successes']}/{summary['seeds']} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
