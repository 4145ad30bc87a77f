"""Inspect tuning results: a ranked table, CSV/Parquet export, plots, an HTML report, or TensorBoard."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import ResultsError, load
from analysis.summary import format_table, headline, ranked_trials

EXAMPLES = """examples:
  python scripts/analyze.py summary ~/tunelab_results/quickstart-20261126-120000
  python scripts/analyze.py summary RESULTS --top 5
  python scripts/analyze.py export RESULTS -o trials.csv --history history.csv
  python scripts/analyze.py plot RESULTS -o plots/ --x learning_rate --y dropout
  python scripts/analyze.py report RESULTS_A RESULTS_B -o report.html
  python scripts/analyze.py tensorboard RESULTS --port 6006
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

    plot = commands.add_parser("plot", help="write every plot as a PNG into a folder")
    plot.add_argument("results", nargs="+", help="experiment results directories (several: one comparison)")
    plot.add_argument("-o", "--output", default="plots", help="folder for the PNGs (default: ./plots)")
    _plot_options(plot)

    report = commands.add_parser("report", help="write one self-contained HTML report")
    report.add_argument("results", nargs="+", help="experiment results directories (several: one comparison)")
    report.add_argument("-o", "--output", default="report.html", help="HTML file (default: ./report.html)")
    report.add_argument("--top", type=int, help="list only the best N trials in the table")
    _plot_options(report)

    board = commands.add_parser("tensorboard", help="write TensorBoard logs (scalars + HParams) and serve them")
    board.add_argument("results", help="one experiment results directory")
    board.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    board.add_argument("--logdir", help="write the logs here instead of RESULTS/tensorboard (read-only results)")
    board.add_argument("--write-only", action="store_true", help="write the logs and exit without serving")
    return parser.parse_args(argv)


def _plot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", help="metric to plot (default: the experiment's objective)")
    parser.add_argument("--x", help="hyperparameter on the x axis of the configurations plot")
    parser.add_argument("--y", help="hyperparameter on its y axis (default: the most important ones)")


def _write(frame, path: str) -> None:
    if path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _error(message: object) -> int:
    print(f"analyze.py: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "export":
        for output in (args.output, args.history):
            if output and not output.endswith((".csv", ".parquet")):
                return _error(f"{output}: output must end in .csv or .parquet")
    if args.command == "report" and not args.output.endswith((".html", ".htm")):
        return _error(f"{args.output}: the report must end in .html")
    try:
        results = load(args.results)
        return COMMANDS[args.command](results, args)
    except ResultsError as error:
        return _error(error)


def _summary(results, args: argparse.Namespace) -> int:
    print(headline(results))
    print(format_table(ranked_trials(results, args.top)))
    return 0


def _export(results, args: argparse.Namespace) -> int:
    _write(results.trials, args.output)
    print(f"wrote {len(results.trials)} trials to {Path(args.output).resolve()}")
    if args.history:
        _write(results.history, args.history)
        print(f"wrote {len(results.history)} epochs to {Path(args.history).resolve()}")
    return 0


def _plot(results, args: argparse.Namespace) -> int:
    from analysis.plots import check_request, write_plots

    check_request(results, args.metric, args.x, args.y)
    written = write_plots(results, args.output, args.metric, args.x, args.y)
    for name, path in written.items():
        print(f"{name}: {path.resolve()}")
    return 0


def _report(results, args: argparse.Namespace) -> int:
    from analysis.plots import check_request
    from analysis.report import write_report

    check_request(results, args.metric, args.x, args.y)
    path = write_report(results, args.output, args.metric, args.x, args.y, args.top)
    print(f"wrote {path.resolve()} ({path.stat().st_size // 1024} KB, {len(results.trials)} trials)")
    return 0


def _tensorboard(results, args: argparse.Namespace) -> int:
    from analysis.tensorboard import TensorBoardError, start_tensorboard, write_logs

    logdir = write_logs(results, args.logdir)[results.experiments[0].name]
    print(f"wrote TensorBoard logs for {len(results.trials)} trials to {logdir.resolve()}")
    if args.write_only:
        return 0
    print("starting TensorBoard (bound to 127.0.0.1 only) ...", flush=True)
    try:
        server = start_tensorboard(logdir, port=args.port)
    except TensorBoardError as error:
        return _error(error)
    print(f"TensorBoard at {server.url}  (HParams: {server.url}#hparams); Ctrl-C to stop", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


COMMANDS = {"summary": _summary, "export": _export, "plot": _plot, "report": _report, "tensorboard": _tensorboard}

if __name__ == "__main__":
    sys.exit(main())
