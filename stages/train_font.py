"""DVC stage train_font: every architecture of config/font.yaml, once per seed, on Dask.

Usage: python stages/train_font.py CONFIG FONT_SET MODELS_DIR RUNS_DIR
For each architecture key K and seed s of ``train_font.seeds``: MODELS_DIR/K/seed-<s>.npz
(and MODELS_DIR/K/representative.npz, a copy of the representative seed's model);
RUNS_DIR/K/runs.csv (one row per seed), curves.csv (the thinned loss history per seed, with
the worst glyph's wrong pixels every ``metric_every`` epochs), per_glyph.csv and
summary.json (success share, median and IQR over seeds). Tasks run where NBAE_SCHEDULER
says (default: a local Dask cluster); finished tasks are kept in NBAE_SWEEP_STORE
(default .nbae-sweeps), so an interrupted run resumes.
"""

import sys
import time
from pathlib import Path

from nbae.fileio import write_csv, write_json
from nbae.studies import font as fst
from nbae.studies import font_sweep as fsw
from nbae.studies.font_data import load_font_set
from nbae.studies.params import load_params, run_stage, stage_parser
from nbae.studies.sweep import run_sweep


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "font_set", "models_dir", "runs_dir").parse_args(argv)
    params = load_params(args.config)
    tp = fst.train_params(params)
    table = dict(fst.arch_config(params, key) for key in fst.architectures(params))
    data = load_font_set(args.font_set)
    t0 = time.perf_counter()
    tasks = fsw.font_tasks(table, data, tp["seeds"], tp["metric_every"], tp["max_wrong"])
    archs = fsw.merge(run_sweep(tasks))
    seconds = time.perf_counter() - t0
    for key, a in archs.items():
        models, runs = Path(args.models_dir) / key, Path(args.runs_dir) / key
        for seed, ae in sorted(a["models"].items()):
            ae.save(models / f"seed-{seed}.npz")
        s = {"arch": key, "description": a["description"],
             "n_params": int(next(iter(a["models"].values())).n_params),
             **fsw.arch_summary(a["runs"])}
        a["models"][s["representative_seed"]].save(models / "representative.npz")
        write_csv(runs / "runs.csv", a["runs"])
        write_csv(runs / "curves.csv", a["curves"])
        write_csv(runs / "per_glyph.csv", a["per_glyph"])
        write_json(runs / "summary.json", s)
        print(f"arch {key} ({a['description']}): goal met by {s['successes']}/{s['seeds']} "
              f"seeds, median lowest loss {s['loss_median']:.3g}")
    print(f"{len(archs)} architectures x {len(tp['seeds'])} seeds in {seconds:.0f} s "
          f"({len(tasks)} tasks)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
