"""Measurements of tunelab, kept out of the test suite: the strategy study, its overhead, analysis.load at scale."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness, benchmarks/, is not installed
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no Ray Tune status tables between the study's lines
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
EXAMPLES = """examples:
  python scripts/benchmark.py study --quick                 # every entry but bayes+asha, 2 seeds (13 min before tpe)
  python scripts/benchmark.py study                         # 24-point grid budget, 3 seeds (~55 min on 2 cores)
  python scripts/benchmark.py study --quick --seeds 1 --only grid,asha,kt_random --out /tmp/study
  python scripts/benchmark.py study --long                  # 54-epoch trials, 7 tunelab strategies, 2 seeds (29-31 min)
  python scripts/benchmark.py study --long --seeds 1 --only grid,hyperband --epochs 9 --out /tmp/long   # smoke run
  python scripts/benchmark.py overhead                      # 1,000 trivial trials both ways + reused worker memory
  python scripts/benchmark.py tpe                           # the tpe searcher's ask+tell per suggestion, 200 trials
  python scripts/benchmark.py tracking                      # the quickstart with and without MLflow tracking, 2 rounds
  python scripts/benchmark.py gpu                           # CNN trials at 1, 0.5, 0.25 GPU each, vs raw Ray Tune (<= 8 min)
  python scripts/benchmark.py render                        # study.md and plots again from the CSVs
  python scripts/benchmark.py load                          # 1,000 trials x 30 epochs, limit 10 s
  python scripts/benchmark.py load --trials 5000 --epochs 50 --repeat 1
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmark.py", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    study = commands.add_parser("study", help="every strategy, KerasTuner and raw Ray Tune on one task, equal budgets")
    size = study.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="8-point grid budget (72 epochs per search), 2 seeds, all entries but bayes+asha")
    size.add_argument("--long", action="store_true",
                      help="54-epoch trials of plain SGD on the mlp space (756 epochs per search), 2 seeds; "
                           "grid, random, bayes, sha, hyperband, asha and pbt")
    study.add_argument("--seeds", type=int, help="seeds per entry (default 2 with --quick or --long, else 3)")
    study.add_argument("--only", help="comma-separated entries (default: all): grid, random, bayes, tpe, sha, "
                                      "hyperband, asha, tpe+hyperband, bayes+asha, ray_random, kt_random, kt_bayes, "
                                      "kt_hyperband; "
                                      "with --long: grid, random, bayes, sha, hyperband, asha, pbt")
    study.add_argument("--epochs", type=int,
                       help="epochs per complete trial instead of the task's; every budget scales with it (smoke runs)")
    study.add_argument("--out", type=Path,
                       help=f"report folder (default {DEFAULT_OUT}, with --long {DEFAULT_OUT / 'long'})")
    study.add_argument("--work", type=Path, help="where the searches write results (default: a temporary folder)")
    study.add_argument("--keep-results", action="store_true", help="keep each search's results folder under --work")

    overhead = commands.add_parser("overhead",
                                   help="trivial trials through tunelab vs raw Ray Tune; reused worker memory")
    overhead.add_argument("--trials", type=int, help="trivial trials (default 1000, 200 with --quick)")
    overhead.add_argument("--quick", action="store_true", help="200 trivial trials")
    overhead.add_argument("--memory-trials", type=int, default=50,
                          help="Keras trials in the reused worker (default 50)")
    overhead.add_argument("--memory-epochs", type=int, default=2, help="epochs of each of those trials (default 2)")
    overhead.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    overhead.add_argument("--work", type=Path, help="where the runs write results (default: a temporary folder)")

    tpe = commands.add_parser("tpe", help="the tpe searcher's own cost per suggestion (ask + tell), no Ray")
    tpe.add_argument("--trials", type=int, default=200, help="suggestions (default 200)")
    tracking = commands.add_parser("tracking", help="an experiment with and without MLflow tracking (a local server)")
    tracking.add_argument("--experiment", default="quickstart", help="experiment file or shipped name (default quickstart)")
    tracking.add_argument("--rounds", type=int, default=2, help="runs each way, alternating (default 2)")
    tracking.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    tracking.add_argument("--work", type=Path, help="where the runs and the server write (default: a temporary folder)")

    gpu = commands.add_parser("gpu", help="trials per hour and GPU busy fraction at 1, 0.5 and 0.25 GPU per trial, "
                                          "tunelab vs raw Ray Tune; a 2-GPU trial where there are two")
    gpu.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    gpu.add_argument("--work", type=Path, help="where the runs write results (default: a temporary folder)")

    render = commands.add_parser("render", help="study.md, study.csv and the plots again from a study's CSVs")
    render.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the study's folder (default {DEFAULT_OUT})")

    load = commands.add_parser("load", help="time analysis.load on a synthetic results directory")
    load.add_argument("--trials", type=int, default=1000, help="trials in the synthetic experiment (default 1000)")
    load.add_argument("--epochs", type=int, default=30, help="epochs every trial reports (default 30)")
    load.add_argument("--mixed", action="store_true",
                      help="mix outcomes (scheduler stops, errors, pauses) instead of every trial completing")
    load.add_argument("--repeat", type=int, default=3, help="loads to time; the median counts (default 3)")
    load.add_argument("--limit", type=float, default=10.0, help="exit 1 when the median exceeds this (seconds)")
    load.add_argument("--keep", help="write the synthetic folder here and keep it (default: a temp folder)")
    args = parser.parse_args(argv)
    for name in ("seeds", "epochs", "trials", "memory_trials", "memory_epochs", "rounds"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')}: must be >= 1, got {value}")
    return args


def _error(message: str) -> int:
    print(f"benchmark.py: error: {message}", file=sys.stderr)
    return 2


def bench_study(args: argparse.Namespace) -> int:
    from benchmarks.long import LONG, long_entries
    from benchmarks.study import kerastuner_missing, run_study, select
    from benchmarks.task import FULL, QUICK, QUICK_LEAVES_OUT, entries

    task = QUICK if args.quick else LONG if args.long else FULL
    if args.epochs:
        task = dataclasses.replace(task, epochs=args.epochs)
    label = "quick" if args.quick else "long" if args.long else "full"
    label += f", {task.epochs} epochs a trial" if args.epochs else ""
    out = args.out or (DEFAULT_OUT / "long" if args.long else DEFAULT_OUT)
    candidates, notes = long_entries(task) if args.long else (entries(task), [])
    for note in notes:
        print(f"study: left out {note}", flush=True)
    seeds = list(range(args.seeds or (2 if args.quick or args.long else 3)))
    try:
        chosen = select(candidates, [name.strip() for name in args.only.split(",")] if args.only else [],
                        leave_out=QUICK_LEAVES_OUT if args.quick else ())
    except ValueError as error:
        return _error(str(error))
    if kerastuner_missing(chosen):
        return _error("the KerasTuner entries need keras-tuner: pip install -e '.[benchmark]' "
                      "(or leave them out with --only)")
    print(f"study: {len(chosen)} entries x {len(seeds)} seeds, {task.budget} epochs per search "
          f"({task.grid_trials}-point grid x {task.epochs} epochs); report in {out}", flush=True)

    def show(done) -> None:
        head = f"[{done.index}/{done.total} {done.elapsed_s / 60:5.1f} min] {done.entry.name} seed {done.seed}:"
        if done.error:
            print(f"{head} FAILED {done.error.splitlines()[0]}", flush=True)
            return
        record = done.record
        best = record.history[task.metric].max() if not record.history.empty else float("nan")
        print(f"{head} {record.trials} trials, {len(record.history)} epochs, best {task.metric} {best:.4f}, "
              f"wall {record.wall_s:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="tunelab-study-") as scratch:
        work = args.work or Path(scratch)
        records = run_study(task, chosen, seeds, out, work, label=label, notes=notes, keep_results=args.keep_results,
                            on_run=show)
    if not records:
        return _error("every search failed; see above")
    print(f"wrote {out / 'study.md'}, study.csv, best_so_far_epochs.png, best_so_far_wall.png")
    return 0


def bench_overhead(args: argparse.Namespace) -> int:
    from benchmarks.overhead import overhead_markdown, run_overhead
    from benchmarks.report import OVERHEAD_FILE
    from benchmarks.task import QUICK

    trials = args.trials or (200 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="tunelab-overhead-") as scratch:
        result = run_overhead(QUICK, trials, args.memory_trials, args.memory_epochs, args.work or Path(scratch),
                              on_step=lambda line: print(line, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / OVERHEAD_FILE).write_text(json.dumps(result, indent=2))
    (args.out / "overhead.md").write_text(overhead_markdown(result))
    print(f"wrote {args.out / 'overhead.md'} and {OVERHEAD_FILE}; `benchmark.py render` adds them to study.md")
    return 0


def bench_tpe(args: argparse.Namespace) -> int:
    from benchmarks.tpe_overhead import markdown, measure

    print(markdown([measure(args.trials, concurrent) for concurrent in (1, 4)]))
    return 0


def bench_gpu(args: argparse.Namespace) -> int:
    from benchmarks.gpu import gpu_markdown, run_gpu_benchmark, visible_gpus

    gpus = visible_gpus()
    if not gpus:
        return _error("gpu: no GPU is visible (nvidia-smi lists none, or is not installed); this benchmark measures "
                      "GPUs, run it on a machine with one")
    with tempfile.TemporaryDirectory(prefix="tunelab-gpu-") as scratch:
        result = run_gpu_benchmark(args.work or Path(scratch), os.cpu_count() or 1, gpus,
                                   say=lambda line: print(line, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu.json").write_text(json.dumps(result, indent=2))
    (args.out / "gpu.md").write_text(gpu_markdown(result))
    print(f"wrote {args.out / 'gpu.md'} and gpu.json")
    return 0


def bench_tracking(args: argparse.Namespace) -> int:
    from benchmarks.tracking import run_tracking, tracking_markdown

    try:
        import mlflow  # noqa: F401
    except ImportError:
        return _error("the tracking benchmark needs mlflow: pip install -e '.[mlflow]'")
    with tempfile.TemporaryDirectory(prefix="tunelab-tracking-") as scratch:
        result = run_tracking(args.experiment, args.rounds, args.work or Path(scratch),
                              on_step=lambda line: print(line, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tracking.json").write_text(json.dumps(result, indent=2))
    (args.out / "tracking.md").write_text(tracking_markdown(result))
    print(f"median ratio {result['median_ratio']:.3f} (with MLflow / without); wrote {args.out / 'tracking.md'}")
    return 0


def bench_render(args: argparse.Namespace) -> int:
    from benchmarks.report import load_study, write_report

    try:
        runs, history, meta = load_study(args.out)
    except FileNotFoundError as error:
        return _error(str(error))
    for path in write_report(args.out, runs, history, meta):
        print(f"wrote {path}")
    return 0


def bench_load(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from tunelab.analysis import load
    from benchmarks.synthetic import write_synthetic_results

    imported = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="tunelab-bench-") as scratch:
        folder = Path(args.keep) if args.keep else Path(scratch) / "synthetic"
        if folder.exists() and any(folder.iterdir()):
            print(f"benchmark.py: error: {folder} is not empty", file=sys.stderr)
            return 2
        print(f"writing {args.trials} trials x {args.epochs} epochs to {folder} ...", flush=True)
        began = time.perf_counter()
        write_synthetic_results(folder, trials=args.trials, epochs=args.epochs, mixed=args.mixed)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"  written in {time.perf_counter() - began:.1f}s ({size / 2 ** 20:.0f} MiB)")
        timings = []
        for run in range(1, args.repeat + 1):
            began = time.perf_counter()
            results = load(folder)
            timings.append(time.perf_counter() - began)
            print(f"  load {run}: {timings[-1]:.2f}s ({len(results.trials)} trials, {len(results.history)} epochs)",
                  flush=True)
    median = statistics.median(timings)
    verdict = "within" if median <= args.limit else "OVER"
    print(f"analysis.load: median {median:.2f}s over {args.repeat} runs, {verdict} the {args.limit:g}s limit "
          f"(imports {imported:.2f}s, not counted)")
    return 0 if median <= args.limit else 1


COMMANDS = {"study": bench_study, "overhead": bench_overhead, "tpe": bench_tpe, "gpu": bench_gpu,
            "tracking": bench_tracking, "render": bench_render, "load": bench_load}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
