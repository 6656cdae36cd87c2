"""DVC stage evaluate_denoising: the denoiser against a plain autoencoder on fresh noise.

Usage: python stages/evaluate_denoising.py CONFIG FONT_SET DENOISER PLAIN OUT_DIR FIGURES
Writes OUT_DIR/evaluation.csv (per model and level), OUT_DIR/curves.csv (level, series,
restored, mean_wrong: for ``dvc plots``), OUT_DIR/metrics.json (restored shares at 10 % and
20 % noise) and FIGURES/{wrong_pixels, restored, examples_denoiser, examples_plain}.png.
"""

import sys
from pathlib import Path

from nbae import figures as plots
from nbae.engine.model import Autoencoder
from nbae.fileio import write_csv, write_json
from nbae.studies import denoising as dn
from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, stage_parser


def _load(path, data):
    ae = Autoencoder.load(path)
    if ae.input_dim != data.X.shape[1]:
        raise ValueError(f"{path}: takes {ae.input_dim} inputs, the glyphs have "
                         f"{data.X.shape[1]} pixels")
    return ae


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "denoiser", "plain", "out_dir",
                        "figures").parse_args(argv)
    params = load_params(args.config)
    kind = dn.train_params(params)["kind"]
    cfg = dn.eval_params(params)
    data = load_font_set(args.font_set)
    denoiser, plain = _load(args.denoiser, data), _load(args.plain, data)
    X, pr = data.X, data.pixel_range
    plain_name = f"plain (arch {plain.metadata.get('architecture', '?')})"
    predictors = {"denoiser": denoiser.reconstruct, plain_name: plain.reconstruct,
                  dn.NOISY_INPUT: lambda Xn: Xn}  # what the noise alone does
    trials = dn.evaluate(predictors, X, cfg["levels"], cfg["trials"], kind=kind,
                         seed=cfg["seed"], pixel_range=pr, max_wrong=cfg["max_wrong"])
    summary = dn.summarize(trials)
    out = Path(args.out_dir)
    write_csv(out / "evaluation.csv", summary)
    write_csv(out / "curves.csv", dn.long_curves(summary, {plain_name: "plain autoencoder"}))
    write_json(out / "metrics.json", dn.headline(summary, {"dae": "denoiser", "ae": plain_name}))

    fig = Path(args.figures)
    unit = "probability" if kind in ("flip", "mask") else "standard deviation"
    band = f"min\u2013max over {cfg['trials']} trials"
    px = "pixel" if cfg["max_wrong"] == 1 else "pixels"
    plots.plot_noise_curves(summary, fig / "wrong_pixels.png", mean="mean_wrong",
                            low="mean_wrong_min", high="mean_wrong_max", band_label=band,
                            title="Wrong pixels per glyph after denoising",
                            xlabel=f"{kind} noise ({unit})",
                            ylabel="wrong pixels per glyph (mean of the 32)")
    plots.plot_noise_curves(summary, fig / "restored.png", mean="restored",
                            low="restored_min", high="restored_max", band_label=band,
                            title=f"Glyphs restored (\u2264 {cfg['max_wrong']} wrong {px})",
                            xlabel=f"{kind} noise ({unit})", ylabel="glyphs restored",
                            y_percent=True)
    for name, ae in (("denoiser", denoiser), ("plain", plain)):
        grid = dn.example_grid(ae.reconstruct, X, cfg["figure_levels"], kind, cfg["seed"], pr)
        plots.plot_denoising(X, grid, data.image_shape, pr, fig / f"examples_{name}.png",
                             labels=data.labels, title=f"Denoising, {name} model")
    for level in (0.1, 0.2):
        rows = summary[summary["level"].round(6) == level]
        text = "; ".join(f"{r.model}: {r.restored:.1%} restored, {r.mean_wrong:.2f} wrong px"
                         for r in rows.itertuples())
        if text:
            print(f"{level:.0%} noise - {text}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
