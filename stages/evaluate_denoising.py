"""DVC stage: the denoiser against the plain font autoencoder on fresh noisy glyphs.

Both models (and, for reference, the noisy input itself) see the same ``trials`` noisy copies
of the 32 glyphs at each level of params ``evaluate_denoising.levels``. Writes
results/denoise/trials.csv (one row per model, level, trial), results/denoise/evaluation.csv
(mean and spread per model and level), results/denoise/curves.csv (a DVC plot),
results/denoise/metrics.json (DVC metrics) and figures/denoise/*.png.
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


def _load(path, data):
    from nbae.model import Autoencoder

    ae = Autoencoder.load(path)
    pr = ae.metadata.get("pixel_range")
    if pr is not None and [float(v) for v in pr] != list(data["pixel_range"]):
        raise ValueError(f"{path} was trained on pixels in {pr}, the font set has "
                         f"{data['pixel_range']} (rebuild both with the same font.encoding)")
    return ae


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/font/font.npz")
    parser.add_argument("--denoiser", default="models/denoise/model.npz")
    parser.add_argument("--plain", default=None,
                        help="plain autoencoder (default: models/font/arch/<baseline_arch>.npz)")
    parser.add_argument("--out", default="results/denoise")
    parser.add_argument("--figures", default="figures/denoise")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    tcfg = dn.train_params(params)
    cfg = dn.eval_params(params)
    data = fst.load_font_set(args.data)
    plain_path = args.plain or f"models/font/arch/{tcfg['baseline_arch']}.npz"
    denoiser = _load(args.denoiser, data)
    plain = _load(plain_path, data)
    X, pr, kind = data["X"], data["pixel_range"], tcfg["kind"]
    names = {"denoiser": denoiser, f"plain (arch {tcfg['baseline_arch']})": plain}
    predictors = {name: ae.reconstruct for name, ae in names.items()}
    predictors[dn.NOISY_INPUT] = lambda Xn: Xn  # what the noise alone does

    trials = dn.evaluate(predictors, X, cfg["levels"], cfg["trials"], kind=kind,
                         seed=cfg["seed"], pixel_range=pr, max_wrong=cfg["max_wrong"])
    summary = dn.summarize(trials)
    out = Path(args.out)
    write_csv(out / "trials.csv", trials)
    write_csv(out / "evaluation.csv", summary)
    write_json(out / "metrics.json", dn.metrics(summary))
    write_csv(out / "curves.csv", dn.wide_curves(summary, short={
        "denoiser": "denoiser", f"plain (arch {tcfg['baseline_arch']})": "plain",
        dn.NOISY_INPUT: "noisy_input"}))

    from nbae import plots

    fig = Path(args.figures)
    unit = "probability" if kind in ("flip", "mask") else "standard deviation"
    plots.plot_noise_curves(summary, fig / "wrong_pixels.png", mean="mean_wrong",
                            low="mean_wrong_min", high="mean_wrong_max",
                            title=f"Wrong pixels per glyph ({cfg['trials']} trials per level)",
                            xlabel=f"{kind} noise ({unit})")
    plots.plot_noise_curves(summary, fig / "restored.png", mean="restored",
                            low="restored_min", high="restored_max",
                            title=f"Glyphs restored with <= {cfg['max_wrong']} wrong pixel(s)",
                            xlabel=f"{kind} noise ({unit})", ylabel="share of glyphs")
    for name, ae in (("denoiser", denoiser), ("plain", plain)):
        grid = dn.example_grid(ae.reconstruct, X, cfg["figure_levels"], kind, cfg["seed"], pr)
        plots.plot_denoising(X, grid, fst.IMAGE_SHAPE, pr, fig / f"examples_{name}.png",
                             labels=data["labels"], title=f"Denoising, {name} model")

    for level in (0.1, 0.2):
        rows = summary[summary["level"].round(6) == level]
        text = "; ".join(f"{r.model}: {r.restored:.1%} restored, {r.mean_wrong:.2f} wrong px"
                         for r in rows.itertuples())
        if text:
            print(f"{level:.0%} noise - {text}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
