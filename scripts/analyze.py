"""Inspect tuning results: a ranked summary table, or CSV/Parquet export of the frames."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import ResultsError, load
from analysis.summary import format_table, ranked_trials

EXAMPLES = """examples:
  python scripts/analyze.py summary ~/tunelab_results/quickstart-20261126-120000
  python scripts/analyze.py summary RESULTS --top 5
  python scripts/analyze.py export RESULTS -o trials.csv --history history.csv
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="analyze.py", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="print the trials ranked by the experiment's metric")
    summary.add_argument("results", nargs="+", help="experiment results directories")
    summary.add_argument("--top", type=int, help="show only the best N trials")
    export = commands.add_parser("export", help="write the trials (and history) frames as CSV or Parquet")
    export.add_argument("results", nargs="+", help="experiment results directories")
    export.add_argument("-o", "--output", required=True, help="trials file: .csv or .parquet")
    export.add_argument("--history", help="also write the per-epoch frame here (.csv or .parquet)")
    return parser.parse_args(argv)


def _write(frame, path: str) -> None:
    if path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for output in (getattr(args, "output", None), getattr(args, "history", None)):
        if output and not output.endswith((".csv", ".parquet")):
            print(f"analyze.py: error: {output}: output must end in .csv or .parquet", file=sys.stderr)
            return 2
    try:
        results = load(args.results)
    except ResultsError as error:
        print(f"analyze.py: error: {error}", file=sys.stderr)
        return 2
    if args.command == "summary":
        done = (results.trials["status"] == "TERMINATED").sum()
        print(f"{len(results.trials)} trials ({done} finished), metric {results.metric} ({results.mode})")
        print(format_table(ranked_trials(results, args.top)))
    else:
        _write(results.trials, args.output)
        print(f"wrote {len(results.trials)} trials to {Path(args.output).resolve()}")
        if args.history:
            _write(results.history, args.history)
            print(f"wrote {len(results.history)} epochs to {Path(args.history).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
