"""DVC stage train_denoiser: the denoising autoencoder, once per seed, on Dask.

Usage: python stages/train_denoiser.py CONFIG FONT_SET MODELS_DIR OUT_DIR
Writes MODELS_DIR/seed-<s>.npz for every seed of ``denoise.seeds`` (plus
representative.npz: the seed with the median lowest loss), OUT_DIR/runs.csv (one row per
seed), OUT_DIR/curves.csv (the thinned history per seed) and OUT_DIR/train_summary.json.
"""

import sys
import time
from pathlib import Path

import pandas as pd

from nbae.fileio import write_csv, write_json
from nbae.studies import denoise_sweep as dsw
from nbae.studies import denoising as dn
from nbae.studies import font_sweep as fsw
from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, stage_parser
from nbae.studies.sweep import run_sweep


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "models_dir", "out_dir").parse_args(argv)
    cfg = dn.train_params(load_params(args.config))
    data = load_font_set(args.font_set)
    t0 = time.perf_counter()
    results = run_sweep(dsw.denoise_tasks(cfg, data, cfg["seeds"]))
    seconds = time.perf_counter() - t0
    models = {int(k.split("-")[1]): ae for r in results for k, ae in r.models.items()}
    runs = pd.concat([r.tables["runs"] for r in results], ignore_index=True).sort_values(
        "seed", kind="stable").reset_index(drop=True)
    curves = pd.concat([r.tables["curves"] for r in results], ignore_index=True).sort_values(
        "seed", kind="stable").reset_index(drop=True)
    rep = fsw.representative_seed(runs)
    out, mdir = Path(args.out_dir), Path(args.models_dir)
    for seed, ae in sorted(models.items()):
        ae.save(mdir / f"seed-{seed}.npz")
    models[rep].save(mdir / "representative.npz")
    q1, med, q3 = (float(v) for v in runs["best_loss"].quantile([0.25, 0.5, 0.75]))
    s = {"mode": cfg["mode"], "samples": results[0].info["n_samples"],
         "seeds": int(len(runs)), "representative_seed": rep, "loss_median": med,
         "loss_q1": q1, "loss_q3": q3, "clean_max_px_median": float(runs["clean_max_px"].median()),
         "diverged": int((runs["stop_reason"] == "diverged").sum())}
    write_csv(out / "runs.csv", runs)
    write_csv(out / "curves.csv", curves)
    write_json(out / "train_summary.json", s)
    print(f"denoiser ({cfg['mode']} noise, {s['samples']} samples): {len(runs)} seeds in "
          f"{seconds:.0f} s, median lowest loss {med:.3g}; clean glyphs: median worst "
          f"{s['clean_max_px_median']:g} wrong pixel(s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
