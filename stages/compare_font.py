"""DVC stage: table and overlaid error curves of all font architectures.

Reads results/font/arch/<id>/{summary.json,history.csv} for every entry of params
``architectures`` and writes results/font/comparison.csv, results/font/comparison_curves.csv
(loss of every run every 100 epochs, for ``dvc plots``) and figures/font/comparison.png.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# DVC runs this file as a script; make the package importable without installing it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nbae import font_study as fst  # noqa: E402
from nbae.fileio import write_csv  # noqa: E402
from nbae.params import load_params, run_stage, stage_parser  # noqa: E402


def main(argv=None) -> int:
    parser = stage_parser(__doc__)
    parser.add_argument("--runs", default="results/font/arch",
                        help="folder holding one folder per architecture")
    parser.add_argument("--out", default="results/font")
    parser.add_argument("--figure", default="figures/font/comparison.png")
    args = parser.parse_args(argv)
    table = fst.architectures(load_params(args.params))
    summaries, histories = {}, {}
    for key in table:
        run = Path(args.runs) / key
        try:
            summaries[key] = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{run / 'summary.json'}: not found (run the compare_train "
                             f"stages first)") from None
        histories[key] = fst.read_history(run / "history.csv")
    df = fst.comparison_table(summaries)
    out = Path(args.out)
    write_csv(out / "comparison.csv", df)
    write_csv(out / "comparison_curves.csv", fst.curves_wide(histories))

    from nbae.plots import plot_history

    curves = {f"{k}: {summaries[k]['description']}": histories[k] for k in histories}
    plot_history(curves, args.figure, title="Font architectures: training error (MSE/BCE)")
    with_ok = df[df["all_within"]]["arch"].tolist()
    print(f"{out / 'comparison.csv'}: {len(df)} architectures; all glyphs within the pixel "
          f"limit: {', '.join(with_ok) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(run_stage(main))
