"""Run a tunelab experiment: on an embedded local Ray by default, on a cluster with --address."""
from __future__ import annotations

import argparse
import json
import sys

from experiments.cluster import check_address
from experiments.errors import SpecError
from experiments.progress import Progress
from experiments.runner import Outcome, Prepared, prepare, run
from experiments.spec import load_spec
from searchspaces import SpaceError
from trainables import DataError

EXAMPLES = """examples:
  python scripts/launch.py experiments/quickstart.yaml
  python scripts/launch.py experiments/quickstart.yaml --set strategy.num_samples=20 --set epochs=5
  python scripts/launch.py experiments/quickstart.yaml --dry-run
  python scripts/launch.py experiments/quickstart.yaml --resume          # continue the latest run
  python scripts/launch.py experiments/quickstart.yaml --address auto --storage /shared/results
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="launch.py", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment", help="experiment YAML file, e.g. experiments/quickstart.yaml")
    parser.add_argument("--address", help="Ray cluster to join (e.g. auto or ray://host:10001); default: local Ray")
    parser.add_argument("--storage", help="results root, absolute path or URI (overrides the YAML's storage)")
    parser.add_argument("--name", help="results folder under storage (default: NAME-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run (--name, or the latest run of this experiment)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one YAML key, e.g. --set strategy.num_samples=20 (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and print the number of trials and epochs, then exit without running")
    return parser.parse_args(argv)


def print_progress(progress: Progress) -> None:
    best = "-" if progress.best is None else f"{progress.best:.4f}"
    errored = f", {progress.errored} errored" if progress.errored else ""
    print(
        f"[{progress.elapsed:6.0f}s] {progress.done}/{progress.total} trials done, {progress.running} running"
        f"{errored}; best so far {best} ({progress.event})",
        flush=True,
    )


def print_plan(prepared: Prepared) -> None:
    spec, plan = prepared.spec, prepared.plan
    print(f"experiment {spec.name}: strategy {spec.strategy.name} over {len(spec.space)} hyperparameters")
    print(f"  trials: at most {plan.num_samples}, epochs: at most {plan.max_epochs} ({spec.epochs} per trial)")
    for note in plan.notes:
        print(f"  {note}")
    print(f"  results: {prepared.path}")


def print_outcome(outcome: Outcome, metric: str) -> None:
    print(f"\n{outcome.trials} trials in {outcome.wall_seconds:.0f}s ({outcome.errored} errored)")
    if outcome.best_config is None:
        print(f"no trial reported {metric}")
    else:
        print(f"best {metric}: {outcome.best_value:.4f} ({outcome.best_trial})")
        print("best configuration:")
        print(json.dumps(outcome.best_config, indent=2, sort_keys=True))
    print(f"results: {outcome.path}")
    print("inspect with:")
    print(f"  python scripts/analyze.py summary {outcome.path}")
    print(f"  python scripts/analyze.py tensorboard {outcome.path}    # scalars and the HParams dashboard")
    print(f"  python scripts/analyze.py report {outcome.path} -o report.html")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        spec = load_spec(args.experiment, args.overrides)
        check_address(args.address)
        prepared = prepare(spec, storage=args.storage, name=args.name, resume=args.resume)
    except (SpecError, SpaceError, DataError) as error:
        print(f"launch.py: error: {error}", file=sys.stderr)
        return 2
    print_plan(prepared)
    if args.dry_run:
        return 0
    try:
        outcome = run(prepared, address=args.address, on_progress=print_progress)
    except SpecError as error:
        print(f"launch.py: error: {error}", file=sys.stderr)
        return 2
    print_outcome(outcome, spec.metric)
    if outcome.stopped:
        print(f"launch.py: error: experiment stopped early: {outcome.stopped}", file=sys.stderr)
        return 2 if outcome.bad_input else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
