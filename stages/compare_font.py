"""DVC stage compare_font: every architecture's seeds side by side, and the chosen one.

Usage: python stages/compare_font.py CONFIG RUNS_DIR OUT_DIR FIGURE
Reads RUNS_DIR/<key>/{summary.json, curves.csv} for every key of config ``architectures``;
writes OUT_DIR/comparison.csv (success share, median and IQR of the lowest loss and of the
goal epoch per architecture, and which is chosen by the rule of nbae.studies.font_sweep),
OUT_DIR/curves.csv (epoch, series, loss: the median over seeds) and OUT_DIR/wrong_pixels.csv
(epoch, series, max_wrong_pixels: median over seeds, checked epochs only) for ``dvc plots``,
and FIGURE (median loss curve with its IQR band per architecture).
"""

import json
import sys
from pathlib import Path

import pandas as pd

from nbae import figures as plots
from nbae.fileio import write_csv
from nbae.studies import font as fst
from nbae.studies import font_sweep as fsw
from nbae.studies.params import load_params, run_stage, stage_parser


def main(argv=None) -> int:
    args = stage_parser(__doc__, "config", "runs_dir", "out_dir", "figure").parse_args(argv)
    table = fst.architectures(load_params(args.config))
    rows, bands, loss_rows, px_rows = [], {}, [], []
    for key in sorted(table, key=fst.arch_order):
        run = Path(args.runs_dir) / key
        try:
            s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{run / 'summary.json'}: not found (run the train_font stage "
                             f"first)") from None
        curves = fst.read_history(run / "curves.csv")
        rows.append({k: s[k] for k in ("arch", "description", "n_params", "seeds", "success",
                                       "loss_median", "loss_q1", "loss_q3", "goal_reached",
                                       "goal_epoch_median", "goal_epoch_q1", "goal_epoch_q3",
                                       "max_px_median", "diverged", "representative_seed")})
        b = fsw.band(curves, "loss")
        bands[f"{key}: {s['description']} ({s['successes']}/{s['seeds']} met the goal)"] = b
        loss_rows.append(pd.DataFrame({"epoch": b["epoch"], "series": f"arch {key}",
                                       "loss": b["median"]}))
        if "max_wrong_pixels" in curves:
            p = fsw.band(curves, "max_wrong_pixels")
            px_rows.append(pd.DataFrame({"epoch": p["epoch"], "series": f"arch {key}",
                                         "max_wrong_pixels": p["median"]}))
    df = pd.DataFrame(rows)
    chosen = fsw.choose(df)
    df["chosen"] = df["arch"] == chosen
    out = Path(args.out_dir)
    write_csv(out / "comparison.csv", df)
    write_csv(out / "curves.csv", pd.concat(loss_rows, ignore_index=True))
    write_csv(out / "wrong_pixels.csv", pd.concat(px_rows, ignore_index=True) if px_rows
              else pd.DataFrame(columns=["epoch", "series", "max_wrong_pixels"]))
    n = int(df["seeds"].max())
    plots.plot_bands(bands, args.figure,
                     title=f"Font architectures: median training error over {n} seeds "
                           f"(MSE or BCE)")
    for r in df.itertuples():
        print(f"arch {r.arch}: success {r.success:.0%}, median lowest loss {r.loss_median:.3g}")
    print(f"{out / 'comparison.csv'}: chosen architecture {chosen} (highest success share, "
          f"then earliest median goal epoch, then fewest parameters)")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
