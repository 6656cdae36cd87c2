"""DVC stage compare_font: tabulate and draw every architecture's run side by side.

Usage: python stages/compare_font.py CONFIG RUNS_DIR OUT_DIR FIGURE
Reads RUNS_DIR/<key>/{summary.json, curve.csv} for every key of config ``architectures``;
writes OUT_DIR/comparison.csv, OUT_DIR/curves.csv (epoch, series, loss) and
OUT_DIR/wrong_pixels.csv (epoch, series, max_wrong_pixels: sampled epochs only) for
``dvc plots``, and FIGURE.
"""

import json
import sys
from pathlib import Path

from nbae import figures as plots
from nbae.fileio import write_csv
from nbae.studies import font as fst
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "runs_dir", "out_dir", "figure").parse_args(argv)
    table = fst.architectures(load_params(args.config))
    summaries, histories = {}, {}
    for key in table:
        run = Path(args.runs_dir) / key
        try:
            summaries[key] = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{run / 'summary.json'}: not found (run the train_font@{key} "
                             f"stage first)") from None
        histories[key] = fst.read_history(run / "curve.csv")
    df = fst.comparison_table(summaries)
    out = Path(args.out_dir)
    write_csv(out / "comparison.csv", df)
    write_csv(out / "curves.csv", fst.curves_long(histories, "loss"))
    write_csv(out / "wrong_pixels.csv", fst.curves_long(histories, "max_wrong_pixels"))
    curves = {f"{k}: {summaries[k]['description']}": histories[k] for k in histories}
    plots.plot_history(curves, args.figure, title="Font architectures: training error (MSE/BCE)")
    ok = df[df["all_within"]]["arch"].tolist()
    print(f"{out / 'comparison.csv'}: {len(df)} architectures; all glyphs within the pixel "
          f"limit: {', '.join(ok) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
