"""Measurements of tunelab's speed, kept out of the test suite: `load` times analysis.load at scale."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = """examples:
  python scripts/benchmark.py load                          # 1,000 trials x 30 epochs, limit 10 s
  python scripts/benchmark.py load --trials 5000 --epochs 50 --repeat 1
  python scripts/benchmark.py load --keep /tmp/synthetic    # keep the generated results folder
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmark.py", description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="time analysis.load on a synthetic results directory")
    load.add_argument("--trials", type=int, default=1000, help="trials in the synthetic experiment (default 1000)")
    load.add_argument("--epochs", type=int, default=30, help="epochs every trial reports (default 30)")
    load.add_argument("--mixed", action="store_true",
                      help="mix outcomes (scheduler stops, errors, pauses) instead of every trial completing")
    load.add_argument("--repeat", type=int, default=3, help="loads to time; the median counts (default 3)")
    load.add_argument("--limit", type=float, default=10.0, help="exit 1 when the median exceeds this (seconds)")
    load.add_argument("--keep", help="write the synthetic folder here and keep it (default: a temp folder)")
    return parser.parse_args(argv)


def bench_load(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from analysis import load
    from analysis.synthetic import write_synthetic_results

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


COMMANDS = {"load": bench_load}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
