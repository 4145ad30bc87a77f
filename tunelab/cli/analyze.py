"""`tunelab analyze` (and scripts/analyze.py): a ranked table, CSV/Parquet export, plots, an HTML report,
TensorBoard, or the best model as a .keras file. Reads a results folder only; never starts Ray."""
from __future__ import annotations

import argparse
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

DESCRIPTION = "Inspect tuning results: a ranked table, CSV/Parquet export, plots, an HTML report, TensorBoard, " \
              "or the best model."
EXAMPLES = """examples:
  {prog} summary ~/tunelab_results/quickstart-20261126-120000
  {prog} summary RESULTS --top 5
  {prog} export RESULTS -o trials.csv --history history.csv
  {prog} plot RESULTS -o plots/ --x learning_rate --y dropout
  {prog} report RESULTS_A RESULTS_B -o report.html
  {prog} tensorboard RESULTS --port 6006
  {prog} export-model RESULTS -o best.keras
  {prog} logs RESULTS 3f2a9c1e           # one trial's own output and the traceback that ended it
"""


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
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

    logs = commands.add_parser("logs", help="print one trial's own output (trial.log: its prints, warnings, traceback)")
    logs.add_argument("results", help="one experiment results directory")
    logs.add_argument("trial", help="the trial's id (or its first characters)")

    model = commands.add_parser("export-model", help="copy the best trial's best-epoch model to a .keras file")
    model.add_argument("results", nargs="+", help="experiment results directories (several: the best of all)")
    model.add_argument("-o", "--output", default="best.keras", help=".keras file (default: ./best.keras)")
    model.add_argument("--trial", help="this trial's best epoch instead of the best trial's")


def make_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EXAMPLES.format(prog=prog),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_commands(parser)
    return parser


def _plot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", help="metric to plot (default: the experiment's objective)")
    parser.add_argument("--x", help="hyperparameter on the x axis of the configurations plot")
    parser.add_argument("--y", help="hyperparameter on its y axis (default: the most important ones)")


def _write(frame: Any, path: str) -> None:
    if path.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _check_outputs(args: argparse.Namespace) -> str | None:
    """A mistake in the output names, found before any results are read."""
    if args.command == "export":
        for output in (args.output, args.history):
            if output and not output.endswith((".csv", ".parquet")):
                return f"{output}: output must end in .csv or .parquet"
    if args.command == "report" and not args.output.endswith((".html", ".htm")):
        return f"{args.output}: the report must end in .html"
    if args.command == "export-model" and not args.output.endswith(".keras"):
        return f"{args.output}: the model file must end in .keras"
    return None


def analyze_command(args: argparse.Namespace, prog: str) -> int:
    """Exit status: 0 done, 2 a user mistake (a path, a name, an output file)."""
    mistake = _check_outputs(args)
    if mistake:
        print(f"{prog}: error: {mistake}", file=sys.stderr)
        return 2
    from tunelab.analysis import load
    from tunelab.analysis.results import DamagedResultsWarning
    from tunelab.core.errors import InputError

    try:
        with warnings.catch_warnings(record=True) as damage:
            warnings.simplefilter("always", DamagedResultsWarning)
            results = load(args.results)
        for warning in damage:  # one line per damaged trial, not Python's warning format
            print(f"{prog}: warning: {warning.message}", file=sys.stderr)
        return COMMANDS[args.command](results, args, prog)
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2


def _summary(results: Any, args: argparse.Namespace, prog: str) -> int:
    from tunelab.analysis.summary import (
        errored_lines, format_table, headline, held_out_score_lines, pareto_table, pareto_title, ranked_trials,
    )

    print(headline(results))
    print(format_table(ranked_trials(results, args.top)))
    title = pareto_title(results)
    if title:
        print(f"\n{title}")
        print(format_table(pareto_table(results)))
    for line in [*errored_lines(results), *held_out_score_lines(results)]:
        print(line)
    return 0


def _logs(results: Any, args: argparse.Namespace, prog: str) -> int:
    from tunelab.analysis.summary import trial_log_text

    print(trial_log_text(results, args.trial), end="")
    return 0


def _export(results: Any, args: argparse.Namespace, prog: str) -> int:
    _write(results.trials, args.output)
    print(f"wrote {len(results.trials)} trials to {Path(args.output).resolve()}")
    if args.history:
        _write(results.history, args.history)
        print(f"wrote {len(results.history)} epochs to {Path(args.history).resolve()}")
    return 0


def _plot(results: Any, args: argparse.Namespace, prog: str) -> int:
    from tunelab.analysis.plots import check_request, write_plots

    check_request(results, args.metric, args.x, args.y)
    written = write_plots(results, args.output, args.metric, args.x, args.y)
    for name, path in written.items():
        print(f"{name}: {path.resolve()}")
    return 0


def _report(results: Any, args: argparse.Namespace, prog: str) -> int:
    from tunelab.analysis.plots import check_request
    from tunelab.analysis.report import write_report

    check_request(results, args.metric, args.x, args.y)
    path = write_report(results, args.output, args.metric, args.x, args.y, args.top)
    print(f"wrote {path.resolve()} ({path.stat().st_size // 1024} KB, {len(results.trials)} trials)")
    return 0


def _tensorboard(results: Any, args: argparse.Namespace, prog: str) -> int:
    """Writes the logs, serves them, and while the run is still going follows it in the background."""
    import signal
    import threading

    from tunelab.analysis.tensorboard import RELOAD_S, TensorBoardError, start_tensorboard
    from tunelab.analysis.tensorboard_logs import TensorBoardLogs, follow

    logs = TensorBoardLogs(args.logdir)
    logdir = logs.update(results)[results.experiments[0].name]
    print(f"wrote TensorBoard logs for {len(results.trials)} trials to {logdir.resolve()}")
    if args.write_only:
        return 0
    print("starting TensorBoard (bound to 127.0.0.1 only) ...", flush=True)
    try:
        server = start_tensorboard(logdir, port=args.port)
    except TensorBoardError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"TensorBoard at {server.url}  (HParams: {server.url}#hparams); Ctrl-C to stop", flush=True)
    stop = threading.Event()
    following = threading.Thread(target=follow, args=(args.results, logs, stop, RELOAD_S), daemon=True,
                                 name="tunelab-tensorboard-follow")
    if results.experiments[0].live:
        print(f"the run is still going: following it, its new trials and epochs added every {RELOAD_S} s",
              flush=True)
        following.start()
    signal.signal(signal.SIGTERM, _interrupted)  # `kill` stops TensorBoard too, as Ctrl-C does
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if following.is_alive():
            following.join()
        server.stop()
    return 0


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _export_model(results: Any, args: argparse.Namespace, prog: str) -> int:
    """A copy of the checkpoint's own file: exact, and no TensorFlow needed to write it."""
    checkpoint = results.best_checkpoint(args.trial)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint.model_file, output)
    print(f"wrote {output.resolve()}: trial {checkpoint.trial_id}, epoch {checkpoint.epoch}, "
          f"{results.metric} {checkpoint.score:.4f}")
    print(f"load it with: keras.models.load_model({str(output)!r})")
    live = [str(experiment.path) for experiment in results.experiments if experiment.live]
    if live:  # its driver still trains trials: a later trial may beat this one
        print(f"note: the run is still going ({', '.join(live)}): this is the best model so far; "
              "export again once it ends")
    return 0


COMMANDS: dict[str, Callable[[Any, argparse.Namespace, str], int]] = {
    "summary": _summary, "export": _export, "plot": _plot, "report": _report, "tensorboard": _tensorboard,
    "export-model": _export_model, "logs": _logs,
}


def main(argv: list[str] | None = None, prog: str = "tunelab analyze") -> int:
    args = make_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    return analyze_command(args, prog)
