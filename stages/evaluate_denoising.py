"""DVC stage evaluate_denoising: denoisers against plain autoencoders on fresh noise, by seed.

Usage: python stages/evaluate_denoising.py CONFIG FONT_SET DENOISERS PLAIN OUT_DIR FIGURES
DENOISERS and PLAIN are folders of seed-<s>.npz models (train_denoiser's, and architecture
7's from train_font); seeds found in both are paired. Every model sees the same fresh noisy
glyphs per level (``evaluate_denoising``); outputs come from nbae.engine.exact (the same on
every machine). Writes OUT_DIR/by_seed.csv (model, seed, level: restored share, wrong pixels),
OUT_DIR/evaluation.csv (per level: medians, IQRs, paired Wilcoxon test), OUT_DIR/curves.csv
(level, series, restored, mean_wrong: medians, for ``dvc plots``), OUT_DIR/metrics.json
(median restored shares at 10 % and 20 % noise) and FIGURES/{restored, wrong_pixels,
examples_denoiser, examples_plain}.png (the examples: each folder's representative.npz).
"""

import re
import sys
from pathlib import Path

import pandas as pd

from nbae import figures as plots
from nbae.engine import exact
from nbae.engine.model import Autoencoder
from nbae.fileio import write_csv, write_json
from nbae.studies import denoise_sweep as dsw
from nbae.studies import denoising as dn
from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, stage_parser

DAE, AE = "denoiser", "plain"


def _load(path, data):
    ae = Autoencoder.load(path)
    if ae.input_dim != data.X.shape[1]:
        raise ValueError(f"{path}: takes {ae.input_dim} inputs, the glyphs have "
                         f"{data.X.shape[1]} pixels")
    return ae


def _seeds(folder, data) -> dict:
    folder = Path(folder)
    found = {int(m.group(1)): p for p in folder.glob("seed-*.npz")
             if (m := re.fullmatch(r"seed-(\d+)\.npz", p.name))}
    if not found:
        raise ValueError(f"{folder}: no seed-<n>.npz models (run the training stage first)")
    return {s: _load(p, data) for s, p in sorted(found.items())}


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "denoisers", "plain", "out_dir",
                        "figures").parse_args(argv)
    params = load_params(args.config)
    kind = dn.train_params(params)["kind"]
    cfg = dn.eval_params(params)
    data = load_font_set(args.font_set)
    X, pr = data.X, data.pixel_range
    dae, ae = _seeds(args.denoisers, data), _seeds(args.plain, data)
    seeds = sorted(set(dae) & set(ae))
    if not seeds:
        raise ValueError(f"{args.denoisers} and {args.plain} have no seed in common")
    predictors = {f"{name}|{s}": (lambda Xn, m=models[s]: exact.reconstruct(m, Xn))
                  for name, models in ((DAE, dae), (AE, ae)) for s in seeds}
    predictors[f"{dn.NOISY_INPUT}|0"] = lambda Xn: Xn  # what the noise alone does
    trials = dn.evaluate(predictors, X, cfg["levels"], cfg["trials"], kind=kind,
                         seed=cfg["seed"], pixel_range=pr, max_wrong=cfg["max_wrong"])
    scores = dsw.per_seed(trials)
    table = dsw.compare(scores, DAE, AE, "restored")
    wrong = dsw.compare(scores, DAE, AE, "mean_wrong")
    out = Path(args.out_dir)
    write_csv(out / "by_seed.csv", scores)
    write_csv(out / "evaluation.csv", table)
    noisy = scores[scores["model"] == dn.NOISY_INPUT].set_index("level")
    arch = next(iter(ae.values())).metadata.get("architecture", "?")
    names = {DAE: f"denoiser ({len(seeds)} seeds)", AE: f"plain, arch {arch} ({len(seeds)} "
             f"seeds)", dn.NOISY_INPUT: dn.NOISY_INPUT}
    rows = []
    for col, t in (("restored", table), ("mean_wrong", wrong)):
        for m in (DAE, AE):
            rows.append(pd.DataFrame({"level": t["level"], "model": names[m], "metric": col,
                                      "median": t[f"{m}_median"], "q1": t[f"{m}_q1"],
                                      "q3": t[f"{m}_q3"]}))
        v = noisy[col].reindex(t["level"]).to_numpy()
        rows.append(pd.DataFrame({"level": t["level"], "model": names[dn.NOISY_INPUT],
                                  "metric": col, "median": v, "q1": v, "q3": v}))
    long = pd.concat(rows, ignore_index=True)
    wide = long.pivot_table(index=["level", "model"], columns="metric", values="median",
                            sort=False).reset_index()
    write_csv(out / "curves.csv", wide.rename(columns={"model": "series"})[
        ["level", "series", "restored", "mean_wrong"]])
    head = {}
    for level in (0.1, 0.2):
        r = table[table["level"].round(6) == level]
        if len(r):
            pct = round(level * 100)
            head[f"dae{pct}"] = round(float(r[f"{DAE}_median"].iloc[0]), 4)
            head[f"ae{pct}"] = round(float(r[f"{AE}_median"].iloc[0]), 4)
    write_json(out / "metrics.json", head)
    fig = Path(args.figures)
    unit = "probability" if kind in ("flip", "mask") else "standard deviation"
    band = f"interquartile range over {len(seeds)} seeds"
    px = "pixel" if cfg["max_wrong"] == 1 else "pixels"
    for col, name, title, ylabel, pcts in (
            ("mean_wrong", "wrong_pixels.png", "Wrong pixels per glyph after denoising",
             "wrong pixels per glyph (mean of the 32)", False),
            ("restored", "restored.png", f"Glyphs restored (\u2264 {cfg['max_wrong']} wrong "
             f"{px}), median over seeds", "glyphs restored", True)):
        plots.plot_noise_curves(long[long["metric"] == col], fig / name, mean="median",
                                low="q1", high="q3", band_label=band, title=title,
                                xlabel=f"{kind} noise ({unit})", ylabel=ylabel, y_percent=pcts)
    for name, folder in (("denoiser", args.denoisers), ("plain", args.plain)):
        model = _load(Path(folder) / "representative.npz", data)
        grid = dn.example_grid(lambda Xn, m=model: exact.reconstruct(m, Xn), X,
                               cfg["figure_levels"], kind, cfg["seed"], pr)
        plots.plot_denoising(X, grid, data.image_shape, pr, fig / f"examples_{name}.png",
                             labels=data.labels, title=f"Denoising, {name} model (seed "
                             f"{model.seed}, the median of its seeds)")
    for r in table.itertuples():
        print(f"{r.level:.0%} noise: denoiser {r.denoiser_median:.1%} "
              f"[{r.denoiser_q1:.1%}, {r.denoiser_q3:.1%}] vs plain {r.plain_median:.1%} "
              f"[{r.plain_q1:.1%}, {r.plain_q3:.1%}] restored; denoiser ahead on {r.wins} of "
              f"{r.seeds} seeds, Wilcoxon p = {r.p_wilcoxon:.2g}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
