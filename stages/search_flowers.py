"""DVC stage search_flowers: the smallest latent size that learns the photos.

Usage: python stages/search_flowers.py CONFIG FLOWER_SET OUT_DIR FIGURE
Trains config ``flowers_arch`` with each latent size and seed of ``flowers_search`` (a Dask
sweep, see nbae.studies.sweep; the smallest size whose median loss over seeds reaches the
threshold is chosen); writes
OUT_DIR/search/{latent_search.csv, curves.csv, summary.json}, OUT_DIR/metrics.json (the chosen
size, for ``dvc exp show``) and FIGURE.
"""

import sys
from pathlib import Path

from nbae import figures as plots
from nbae.fileio import write_csv, write_json
from nbae.studies import flower_search as fsr
from nbae.studies import flowers as fls
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "flower_set", "out_dir", "figure").parse_args(argv)
    params = load_params(args.config)
    base, sp = fls.arch_config(params), fsr.search_params(params)
    data = fls.load_flower_set(args.flower_set)
    table, histories = fsr.latent_search(base, data, sp["latent_sizes"], sp["epochs"],
                                         sp["seeds"])
    summary = fsr.search_summary(table, sp["threshold"], sp["criterion"], base, sp["epochs"])
    out = Path(args.out_dir)
    write_csv(out / "search" / "latent_search.csv", table)
    write_csv(out / "search" / "curves.csv", fsr.search_curves(histories))
    write_json(out / "search" / "summary.json", summary)
    write_json(out / "metrics.json", fsr.headline(summary))
    k = summary["smallest_latent_dim"]
    plots.plot_latent_search(
        table, args.figure, threshold=sp["threshold"], chosen=k,
        title=f"Flowers: loss after {sp['epochs']} epochs against latent size "
              f"({len(sp['seeds'])} seeds each)", ylabel="MSE")
    for size, med in summary["median"].items():
        shown = "diverged" if med is None else f"{med:.3g}"
        print(f"latent {size}: median {sp['criterion']} {shown}, threshold reached by "
              f"{summary['share_reached'][size]:.0%} of seeds")
    verdict = (f"smallest latent size with median {sp['criterion']} <= {sp['threshold']:g}: {k}"
               if k is not None else f"no latent size's median reached {sp['criterion']} <= "
               f"{sp['threshold']:g}")
    print(f"{verdict} ({len(table)} runs, {summary['total_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
