"""Inspect tuning results: the same as `tunelab analyze` (see `python scripts/analyze.py --help`)."""
import sys

from tunelab.cli.analyze import main

if __name__ == "__main__":
    sys.exit(main(prog="analyze.py"))
