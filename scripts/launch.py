"""Run a tunelab experiment: the same as `tunelab run` (see `python scripts/launch.py --help`)."""
import sys

from tunelab.cli.run import main

if __name__ == "__main__":
    sys.exit(main(prog="launch.py"))
