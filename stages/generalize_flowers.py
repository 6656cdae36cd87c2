"""DVC stage generalize_flowers: reconstruction error on unseen flower photos per latent size.

Usage: python stages/generalize_flowers.py CONFIG SPLIT_NPZ OUT_DIR FIGURE
Trains config ``generalize.arch`` with each latent size of ``generalize`` on the training
photos of SPLIT_NPZ (stage prepare_flower_split), keeps the weights of the epoch with the
lowest validation MSE and measures the training, validation and test MSE, once per seed of
``generalize.seeds`` (a Dask sweep); writes OUT_DIR/generalization.csv (one row per latent
size: medians over seeds), OUT_DIR/by_seed.csv, OUT_DIR/curves.csv (training and validation
MSE during training), OUT_DIR/metrics.json and FIGURE.
"""

import sys
from pathlib import Path

from nbae.figures.generalization import plot_generalization
from nbae.fileio import write_csv, write_json
from nbae.studies import generalize as gen
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "split_npz", "out_dir", "figure").parse_args(argv)
    study = gen.study_params(load_params(args.config))
    data = gen.load_split(args.split_npz)
    table, by_seed, curves = gen.generalization(data, study)
    metrics = gen.summary(table, data, study)
    out = Path(args.out_dir)
    write_csv(out / "generalization.csv", table)
    write_csv(out / "by_seed.csv", by_seed)
    write_csv(out / "curves.csv", curves)
    write_json(out / "metrics.json", metrics)
    classes = metrics["classes"]
    what = "all 102 classes" if classes == "all" else f"class {classes}" if "," not in \
        classes else f"classes {classes.replace(',', ', ')}"
    fit_on = "train+val" if study["use_val_for_training"] else "train"
    plot_generalization(
        table, args.figure, mean_mse=metrics["mean_test"],
        title=f"Flowers, {what}: {metrics['n_train']} {fit_on} vs {metrics['n_test']} test "
              f"photos\nreconstruction error against latent size (median of "
              f"{len(study['seeds'])} seeds)"
              + ("" if study["use_val_for_training"] else " (epoch picked on validation)"))
    for r in table.itertuples():
        print(f"latent {r.latent_size}: median over {r.seeds} seed(s): train {r.train_mse:.4g}, "
              f"val {r.val_mse:.4g}, test {r.test_mse:.4g} (epoch {r.best_epoch:g}), "
              f"PCA test {r.pca_test_mse:.4g}")
    print(f"{len(table)} latent sizes x {len(study['seeds'])} seeds, {metrics['n_train']} "
          f"training / {metrics['n_test']} test photos, {metrics['seconds']:.0f} s of training")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
