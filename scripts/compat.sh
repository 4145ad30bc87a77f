#!/usr/bin/env bash
# Does tunelab still work on the oldest releases setup.cfg allows?
#
# Installs the lower bound of each package in LOWEST (read from setup.cfg's install_requires and its
# `test` extra) into a fresh, temporary virtual environment, every other requirement at the newest
# release its setup.cfg range allows, and tunelab itself from this checkout (editable, no deps).
# Then runs the Ray private-API canaries (tests/experiments/test_ray_internals.py) and the fast suite
# (pytest -m "not slow"), and prints one verdict line. The environment is removed at the end.
#
# Not part of the CI suite: it downloads about 1 GB (TensorFlow, Ray) and took 8.3 minutes on a
# 2-core machine (2026-12-06; docs/contributing.md, "Supported versions", has the last result).
#
#   scripts/compat.sh                       # python3 from PATH
#   PYTHON=python3.10 scripts/compat.sh     # another interpreter (tunelab needs >= 3.10)
#
# Exit status 0 when both test runs pass, 1 otherwise.
set -euo pipefail

# The packages installed at their lowest supported release: setup.cfg's lower bound (`>=X` or `==X`).
LOWEST=(ray tensorflow tensorboard bayesian-optimization)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

# One requirement a line: setup.cfg's, with the LOWEST packages pinned to their lower bound.
listed=$("$python" - "${LOWEST[@]}" <<'EOF'
import configparser
import re
import sys

config = configparser.ConfigParser()
config.read("setup.cfg")
lines = config["options"]["install_requires"].splitlines() + config["options.extras_require"]["test"].splitlines()
lowest = {name.lower() for name in sys.argv[1:]}
pinned = set()
for line in filter(None, (line.strip() for line in lines)):
    name, extras, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", line).groups()
    if name.lower() not in lowest:
        print(line)
        continue
    bound = re.search(r"(?:>=|==)\s*([0-9][^,;\s]*)", spec)
    if bound is None:
        sys.exit(f"setup.cfg: {line}: no lower bound to install")
    print(f"{name}{extras or ''}=={bound.group(1)}")
    pinned.add(name.lower())
if pinned != lowest:
    sys.exit(f"setup.cfg does not list: {', '.join(sorted(lowest - pinned))}")
EOF
) || { echo "compat: FAIL: could not read the requirements from setup.cfg"; exit 1; }
mapfile -t requirements <<<"$listed"

echo "compat: installing into a temporary environment:"
printf '  %s\n' "${requirements[@]}"
started=$SECONDS
if ! { "$python" -m venv "$work/venv" \
        && "$work/venv/bin/python" -m pip install --quiet "${requirements[@]}" \
        && "$work/venv/bin/python" -m pip install --quiet --no-deps -e "$root"; } >"$work/install.log" 2>&1; then
    tail -n 30 "$work/install.log"
    echo "compat: FAIL: the install failed (above)"
    exit 1
fi
installed=$(( SECONDS - started ))

versions=$("$work/venv/bin/python" - <<'EOF'
import platform
from importlib.metadata import version

names = ("ray", "tensorflow", "keras", "tensorboard", "bayesian-optimization", "numpy")
print(", ".join(f"{name} {version(name)}" for name in names) + f", python {platform.python_version()}")
EOF
)
echo "compat: installed in ${installed}s: $versions"

# Runs pytest with the given arguments; sets `summary` to its last line (counts and time) and `ok`.
run_pytest() {
    local log="$work/pytest.log"
    if "$work/venv/bin/python" -m pytest -p no:cacheprovider "$@" 2>&1 | tee "$log"; then ok=1; else ok=0; fi
    summary=$(grep -E '^=* ?[0-9]+ (passed|failed|errors?|skipped|deselected).* in [0-9.]+s' "$log" | tail -n 1 \
              | sed -E 's/^=+ //; s/ =+$//' || true)
    summary=${summary:-no summary (pytest did not finish)}
}

run_pytest tests/experiments/test_ray_internals.py -q    # all of them: the slow ones read Ray's own files
canaries_ok=$ok canaries=$summary
run_pytest -m "not slow" -q
suite_ok=$ok suite=$summary

verdict=PASS
[[ $canaries_ok == 1 && $suite_ok == 1 ]] || verdict=FAIL
echo "compat: $verdict on $versions: canaries $canaries; fast suite $suite"
[[ $verdict == PASS ]]
