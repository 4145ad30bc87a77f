"""The `tunelab` command: `tunelab run X.yaml` and `tunelab analyze COMMAND RESULTS`.

Same flags and exit codes as scripts/launch.py and scripts/analyze.py, which call the same code:
0 done, 1 a stopped experiment, 2 a user mistake.
"""
from __future__ import annotations

import argparse
import sys

from tunelab.cli import analyze, run

EXAMPLES = """examples:
  tunelab run experiments/quickstart.yaml
  tunelab run experiments/quickstart.yaml --dry-run --set epochs=3
  tunelab analyze summary ~/tunelab_results/quickstart-20261201-120000
  tunelab analyze export-model RESULTS -o best.keras
run `tunelab run --help` or `tunelab analyze --help` for each command's options.
"""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunelab", description="Hyperparameter tuning experiments for Keras models, on Ray Tune.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="tool", required=True, metavar="{run,analyze}")
    run.add_arguments(commands.add_parser(
        "run", help="run (or resume) an experiment YAML", description=run.DESCRIPTION,
        epilog=run.EXAMPLES.format(prog="tunelab run"), formatter_class=argparse.RawDescriptionHelpFormatter,
    ))
    analyze.add_commands(commands.add_parser(
        "analyze", help="look at a results folder: summary, export, plot, report, tensorboard, export-model",
        description=analyze.DESCRIPTION, epilog=analyze.EXAMPLES.format(prog="tunelab analyze"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.tool == "run":
        return run.run_command(args, "tunelab run")
    return analyze.analyze_command(args, "tunelab analyze")
