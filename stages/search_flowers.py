"""DVC stage: the latent-size search; train the flower architecture with each latent size.

Every size in ``flowers_search.latent_sizes`` (and seed in ``seeds``) trains params
``flowers_arch`` with its last encoder width replaced, for ``flowers_search.epochs`` epochs.
Writes OUT/latent_search.csv (one row per run: final and best loss...), OUT/curves.csv (loss
of every run, every 10th epoch, for ``dvc plots``), OUT/summary.json (DVC metrics: the smallest
size whose ``criterion`` loss is at most ``threshold``) and FIGURE (loss against latent size).
Run from the repository root: ``python stages/search_flowers.py [--out DIR] [--figure F]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae import flower_study as fls  # noqa: E402
from nbae.fileio import write_csv, write_json  # noqa: E402
from nbae.params import load_params, run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--data", default="data/flowers/prepared/flowers.npz")
    parser.add_argument("--out", default="results/flowers/search")
    parser.add_argument("--figure", default="figures/flowers/latent_search.png")
    args = parser.parse_args(argv)
    params = load_params(args.params)
    base = fls.arch_config(params)
    sp = fls.search_params(params)
    data = fls.load_flower_set(args.data)

    def report(row):  # one line per run: the search takes minutes
        flag = " (diverged)" if row["diverged"] else ""
        print(f"latent {row['latent_dim']} seed {row['seed']}: best {row['best_loss']:.3g} "
              f"@ {row['best_epoch']}, final {row['final_loss']:.3g}, "
              f"{row['seconds']:.1f} s{flag}", flush=True)

    table, histories = fls.latent_search(base, data, sp["latent_sizes"], sp["epochs"],
                                         sp["seeds"], report=report)
    summary = fls.search_summary(table, sp["threshold"], sp["criterion"], base, sp["epochs"])
    out = Path(args.out)
    write_csv(out / "latent_search.csv", table)
    write_csv(out / "curves.csv", fls.search_curves(histories))
    write_json(out / "summary.json", summary)

    from nbae import plots

    plots.plot_latent_search(
        table, args.figure, threshold=sp["threshold"], chosen=summary["smallest_latent_dim"],
        title=f"Flowers: {sp['criterion'].replace('_', ' ')} after {sp['epochs']} epochs "
              f"against latent size", ylabel="MSE")
    k = summary["smallest_latent_dim"]
    verdict = (f"smallest latent size with {sp['criterion']} <= {sp['threshold']:g}: {k}"
               if k is not None else f"no latent size reached {sp['criterion']} <= "
               f"{sp['threshold']:g}")
    print(f"{verdict} ({len(table)} runs, {summary['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
