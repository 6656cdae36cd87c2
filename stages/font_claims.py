"""DVC stage font_claims: test the original study's claims about the 2-D latent space.

Usage: python stages/font_claims.py CONFIG FONT_SET AE_DIR DAE_DIR OUT_DIR FIGURES
AE_DIR (plain autoencoders) and DAE_DIR (denoisers) hold one model per seed, seed-<n>.npz.
Writes OUT_DIR/summary.json (attractors, ranking stability, Spearman and partial Spearman
correlations of confusion with latent distance and their Mantel p-values, per group),
OUT_DIR/metrics.json (their headline numbers, flat, for ``dvc metrics show``),
OUT_DIR/territories.csv (glyph, seed, group, share_nearest, share_within), OUT_DIR/pairs.csv
(group, seed, a, b, latent_distance, pixel_distance, confusion) and
FIGURES/{territory, confusion_vs_distance}.png.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nbae.engine.model import Autoencoder
from nbae.figures import claims as plots
from nbae.fileio import write_csv, write_json
from nbae.studies import claims as cl
from nbae.studies.font_data import load_font_set
from nbae.studies.params import ParamsError, load_params, run_stage, stage_parser

GROUPS = {"ae": "plain autoencoder", "dae": "denoiser"}


def model_files(folder) -> dict:
    """``{seed: path}`` of the files ``seed-<n>.npz`` in ``folder``, in numeric seed order;
    ``ValueError`` naming the folder when it is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder (expected seed-<n>.npz files)")
    found = {}
    for p in sorted(folder.glob("seed-*.npz")):
        if p.name[5:-4].isdigit():
            if int(p.name[5:-4]) in found:
                raise ValueError(f"{folder}: {found[int(p.name[5:-4])].name} and {p.name} are "
                                 f"the same seed")
            found[int(p.name[5:-4])] = p
    if not found:
        raise ValueError(f"{folder}: no model files named seed-<n>.npz")
    return dict(sorted(found.items()))


def _load(folder, data) -> dict:
    models = {}
    for seed, path in model_files(folder).items():
        ae = Autoencoder.load(path)
        if ae.input_dim != data.X.shape[1] or ae.latent_dim != 2:
            raise ValueError(f"{path}: a {ae.input_dim}-input model with {ae.latent_dim} latent "
                             f"units; the claims need {data.X.shape[1]} inputs and 2 latent units")
        models[seed] = ae
    return models


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "ae_dir", "dae_dir", "out_dir",
                        "figures").parse_args(argv)
    cfg = cl.claims_params(load_params(args.config))
    data = load_font_set(args.font_set)
    models = {"ae": _load(args.ae_dir, data), "dae": _load(args.dae_dir, data)}
    rep = cfg["representative"]
    if rep != "typical" and rep not in models["ae"]:
        raise ParamsError(f"params font_claims.representative: no seed-{rep}.npz in "
                          f"{args.ae_dir} (seeds {sorted(models['ae'])})")
    X, labels, pr = data.X, data.labels, data.pixel_range
    out = {g: cl.study_group(m, X, labels, cfg, pr, group=g) for g, m in models.items()}

    ae0 = next(iter(models["ae"].values()))
    names = {"ae": f"plain autoencoder (arch {ae0.metadata.get('architecture', '?')})",
             "dae": "denoiser"}
    seeds = list(models["ae"])
    T = np.array([out["ae"]["results"][s]["terr"]["nearest"] for s in seeds])
    W = np.array([out["ae"]["results"][s]["terr"]["within"] for s in seeds])
    rep = cl.typical_seed(T, seeds) if rep == "typical" else rep
    metrics = {g: out[g]["summary"] for g in out}
    metrics["representative"] = rep
    dest = Path(args.out_dir)
    write_json(dest / "summary.json", metrics)
    write_json(dest / "metrics.json", cl.headline(metrics))
    write_csv(dest / "territories.csv", pd.concat([o["territories"] for o in out.values()]))
    write_csv(dest / "pairs.csv", pd.concat([o["pairs"] for o in out.values()]))

    fig = Path(args.figures)
    r = out["ae"]["results"][rep]
    plots.plot_territory(r["terr"]["owner"], r["terr"]["close"], r["terr"]["box"], r["Z"],
                         labels, fig / "territory.png", T, W, cfg["attractor_factor"],
                         title=f"Nearest glyph over the latent plane, {names['ae']}, seed {rep}",
                         bar_title=f"Territory share per glyph, {names['ae']}, "
                                   f"{len(seeds)} seed(s)")
    n = len(labels)
    a, b = np.divmod(np.flatnonzero(~np.eye(n, dtype=bool)), n)
    pairs = [f"{labels[i]}\u2192{labels[j]}" for i, j in zip(a, b, strict=True)]
    panels = []
    for g, o in out.items():
        C, L, P = o["pooled"]
        k = len(models[g])
        panels.append({"name": f"{names[g]}, {k} seed(s)", "latent": cl.offdiag(L),
                       "confusion": cl.offdiag(C), "pixel": cl.offdiag(P), "pairs": pairs,
                       "stats": o["summary"]["confusion"]["pooled"],
                       "xlabel": "latent distance (scaled to mean 1"
                                 + (f", mean of {k} seeds)" if k > 1 else ")")})
    levels = ", ".join(f"{v:g}" for v in cfg["levels"])
    plots.plot_confusion_vs_distance(
        panels, fig / "confusion_vs_distance.png",
        title=f"Confusion of noisy glyphs ({cfg['kind']} noise {levels}; {cfg['trials']} "
              f"trials per glyph and level) against latent distance, ordered pairs a \u2192 b")
    for g, m in metrics.items():
        if g in GROUPS:
            t, c = m["territory"], m["confusion"]["pooled"]
            print(f"{GROUPS[g]}: attractors {' '.join(t['attractors']) or 'none'}; "
                  f"rho {c['rho']} (p {c['p']}), partial {c['prho']} (p {c['pp']})")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
