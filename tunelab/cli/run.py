"""`tunelab run` (and scripts/launch.py): run an experiment on a local Ray, or on a cluster with --address.

Only argparse is imported until the arguments are parsed, so `--help` answers at once; `--dry-run`
plans the trials with Ray's search classes but never imports TensorFlow.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunelab.experiments.run.progress import Progress
    from tunelab.experiments.run.prepare import Prepared
    from tunelab.experiments.run.runner import Outcome

DESCRIPTION = "Run a tunelab experiment: on an embedded local Ray by default, on a cluster with --address."
EXAMPLES = """examples:
  {prog} experiments/quickstart.yaml
  {prog} experiments/quickstart.yaml --set strategy.num_samples=20 --set epochs=5
  {prog} experiments/quickstart.yaml --dry-run
  {prog} experiments/quickstart.yaml --resume          # continue the latest run
  {prog} experiments/quickstart.yaml --address auto --storage /shared/results
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help="experiment YAML file (e.g. experiments/quickstart.yaml), or the name of "
                                           "a shipped one (quickstart, digits_grid, ...)")
    parser.add_argument("--address", help="Ray cluster to join (e.g. auto or ray://host:10001); default: local Ray")
    parser.add_argument("--storage", help="results root, absolute path or URI (overrides the YAML's storage)")
    parser.add_argument("--name", help="results folder under storage (default: NAME-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run (--name, or the latest run of this experiment)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override one YAML key, e.g. --set strategy.num_samples=20 (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and print the number of trials and epochs, then exit without running")


def make_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=EXAMPLES.format(prog=prog),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def print_progress(progress: Progress) -> None:
    """One line per trial event (and every 10 s): trials by outcome, epochs of planned, best, ETA, event."""
    best = "-" if progress.best is None else f"{progress.best:.4f}"
    ended = [f"{progress.completed} completed"]
    if progress.stopped:
        ended.append(f"{progress.stopped} stopped early")
    if progress.errored:
        ended.append(f"{progress.errored} errored")
    eta = "" if progress.eta is None or progress.done == progress.total else f"; ETA {progress.eta:.0f}s"
    with contextlib.suppress(OSError):  # a closed terminal (SIGHUP) must not fail the run it is stopping
        print(
            f"[{progress.elapsed:5.0f}s] {progress.done}/{progress.total} trials done ({', '.join(ended)}), "
            f"{progress.running} running; {progress.epochs}/{progress.planned_epochs} epochs; best {best}{eta} "
            f"({progress.event})",
            flush=True,
        )


def print_plan(prepared: Prepared) -> None:
    from tunelab.experiments.tracking import describe

    spec, plan = prepared.spec, prepared.plan
    print(f"experiment {spec.name}: strategy {spec.strategy.name} over {len(spec.space)} hyperparameters")
    print(f"  trials: at most {plan.num_samples}, epochs: at most {plan.max_epochs} ({spec.epochs} per trial)")
    for note in plan.notes:
        print(f"  {note}")
    for line in describe(spec.tracking):
        print(f"  {line}")
    print(f"  results: {prepared.path}")
    if prepared.record_note:
        print(f"  {prepared.record_note}")
    if prepared.afresh:
        print("  (that folder held only a lock, left by a launch stopped before it wrote anything: started afresh)")


def print_outcome(outcome: Outcome, prepared: Prepared) -> None:
    """The closing block; after Ctrl+C it says so, with the trials that finished of those planned, since the
    trials Ray created include the ones it stopped part-way (the command that continues them follows)."""
    metric = prepared.spec.metric
    so_far = " so far" if outcome.interrupted else ""
    if outcome.interrupted:
        print(f"\ninterrupted ({signal.Signals(outcome.stop_signal).name}) after {outcome.wall_seconds:.0f}s: "
              f"{outcome.finished} of {outcome.planned} trials finished ({outcome.errored} errored); Ray saved the "
              "run, and the command below continues it")
    else:
        print(f"\n{outcome.trials} trials in {outcome.wall_seconds:.0f}s ({outcome.errored} errored)")
    if outcome.best_config is None and outcome.best_value is not None:
        print(f"best {metric} reported{so_far}: {outcome.best_value:.4f}")
    elif outcome.best_config is None and (prepared.spec.objectives or prepared.spec.constraints):
        print(f"no trial that kept the constraints reported {metric}{so_far}")
    elif outcome.best_config is None:
        print(f"no trial reported {metric}{so_far}")
    else:
        print(f"best {metric}{so_far}: {outcome.best_value:.4f} ({outcome.best_trial})")
        if prepared.spec.objectives or prepared.spec.constraints:
            print(f"  the feasible trial best on {metric}; every trade-off: the Pareto front in "
                  f"`tunelab analyze summary`")
        print(f"best configuration{so_far}:")
        print(json.dumps(outcome.best_config, indent=2, sort_keys=True))
    print_test_score(outcome, metric)
    print(f"results: {outcome.path}")
    if outcome.log:
        print(f"Ray's own messages: {outcome.log}")
    if prepared.spec.tracking.mlflow:
        from tunelab.core.secrets import redact

        print(f"tracked in MLflow at {redact(prepared.spec.tracking.mlflow)}: experiment {prepared.name!r}, "
              "a run per trial")
    if outcome.tracking_failed:
        print(f"warning: {outcome.tracking_failed} (the run folder is complete; see {outcome.log})")
    print("inspect with:")
    print(f"  tunelab analyze summary {outcome.path}")
    print(f"  tunelab analyze tensorboard {outcome.path}    # scalars and the HParams dashboard")
    print(f"  tunelab analyze report {outcome.path} -o report.html")
    print(f"  tunelab analyze export-model {outcome.path} -o best.keras")


def print_test_score(outcome: Outcome, metric: str) -> None:
    """The best model's one score on the test part, when the run kept one; why not, when it could not."""
    from pathlib import Path

    from tunelab.analysis.summary import held_out_score_line
    from tunelab.core.run_folder import is_uri, read_test_score

    score = None if is_uri(outcome.path) else read_test_score(Path(outcome.path))
    if score is not None:
        print(held_out_score_line(score, metric))
    elif outcome.test_note:
        print(outcome.test_note)


def resume_command(args: argparse.Namespace, prog: str, name: str) -> str:
    """The command line that continues this run: the same experiment, overrides and storage."""
    command = "python scripts/launch.py" if prog == "launch.py" else prog
    words = [command, shlex.quote(args.experiment), "--resume", "--name", shlex.quote(name)]
    if args.storage:
        words += ["--storage", shlex.quote(args.storage)]
    if args.address:
        words += ["--address", shlex.quote(args.address)]
    for override in args.overrides:
        words += ["--set", shlex.quote(override)]
    return " ".join(words)


def run_command(args: argparse.Namespace, prog: str) -> int:
    """Exit status: 0 every planned trial completed or was stopped by the strategy; 1 a trial errored past its
    retries, none completed, or the run was stopped (failing trials, a full disk); 2 a user mistake; 128 + the
    signal that stopped it (129 SIGHUP, 130 Ctrl+C, 143 SIGTERM), with the command that continues the run."""
    from tunelab.experiments.run.interrupts import StopSignal, stop_signals_raise

    try:
        with stop_signals_raise():
            return _run_command(args, prog)
    except StopSignal as stop:
        with contextlib.suppress(OSError):  # stderr may be gone with the terminal
            again = f"\n  {resume_command(args, prog, args.name)}" if args.name else " the same command again"
            print(f"{prog}: stopped by {stop} before any trial trained; run{again}", file=sys.stderr)
        return 128 + stop.signum


def _run_command(args: argparse.Namespace, prog: str) -> int:
    from tunelab.api import prepare_experiment
    from tunelab.core.errors import InputError
    from tunelab.experiments.run.cluster import check_address
    from tunelab.trainables.preflight import keep_the_driver_off_the_gpus

    keep_the_driver_off_the_gpus()  # this process trains nothing: a check that builds a model does so on the CPU
    if os.getcwd() not in sys.path:  # your own trainable and space modules, as `python -m` would find them
        sys.path.insert(0, os.getcwd())
    try:
        check_address(args.address)
        prepared = prepare_experiment(args.experiment, args.overrides, storage=args.storage, name=args.name,
                                      resume=args.resume)
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    print_plan(prepared)
    if args.dry_run:
        return 0
    if prepared.complete:
        print(f"\n{prepared.path} is complete: all {prepared.plan.num_samples} planned trials finished; "
              f"nothing to resume.")
        if prepared.spec.tracking.mlflow is not None:  # what an outage kept from MLflow, replayed from the folder
            print(_replay_tracking(prepared))
        print(f"inspect with:\n  tunelab analyze summary {prepared.path}")
        return 0
    from tunelab.experiments.run.runner import run

    try:
        outcome = run(prepared, address=args.address, on_progress=print_progress)
    except InputError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    return finish(outcome, prepared, args, prog)


def _replay_tracking(prepared: Prepared) -> str:
    from tunelab.experiments.run.mlflow_tracking import replay_complete_run

    spec = prepared.spec
    return replay_complete_run(spec.tracking.mlflow, prepared.name, prepared.path, metric=spec.metric, mode=spec.mode,
                               epochs=spec.epochs)


def finish(outcome: Outcome, prepared: Prepared, args: argparse.Namespace, prog: str) -> int:
    """The closing block, then the exit status and, where the run is no success, why (on stderr)."""
    with contextlib.suppress(OSError):  # a closed terminal (SIGHUP): the resume command still goes to stderr
        print_outcome(outcome, prepared)
    if outcome.storage_error:
        print(f"{prog}: error: could not write to {outcome.path} ({outcome.storage_error}); {outcome.errored} "
              "trials errored and the run's files are incomplete (Ray keeps what it could not write in its "
              f"session folder until a resume). Fix the storage, then continue with:\n"
              f"  {resume_command(args, prog, prepared.name)}", file=sys.stderr)
        return 1
    if outcome.stopped:
        print(f"{prog}: error: experiment stopped early: {outcome.stopped}", file=sys.stderr)
        return 2 if outcome.bad_input else 1
    if outcome.interrupted:
        with contextlib.suppress(OSError):
            print(f"{prog}: interrupted ({signal.Signals(outcome.stop_signal).name}); Ray saved the run. Continue "
                  f"with:\n  {resume_command(args, prog, prepared.name)}", file=sys.stderr)
        return 128 + outcome.stop_signal
    if outcome.errored or not outcome.ended_well:
        with contextlib.suppress(OSError):
            print(f"{prog}: error: {_failed(outcome)}", file=sys.stderr)
        return 1
    return 0


def _failed(outcome: Outcome) -> str:
    """Why a run that went to its end is no success: trials that errored past their retries, or none ended well."""
    from tunelab.core.run_folder import TRIAL_LOG

    if not outcome.errored:
        return f"no trial completed (of {outcome.planned} planned)"
    logs = "".join(f"\n  {outcome.path}/{folder}/{TRIAL_LOG}" for folder in outcome.errored_trials)
    return (f"{outcome.errored} of {outcome.planned} trials errored past their retries; what they printed and the "
            f"traceback that ended them:{logs}")


def main(argv: list[str] | None = None, prog: str = "tunelab run") -> int:
    args = make_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    return run_command(args, prog)
