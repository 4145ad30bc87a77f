"""Where a benchmark ran: the machine, the software versions, the date and how busy the machine was."""
from __future__ import annotations

import datetime
import os
import platform
from importlib import metadata
from typing import Any

import psutil

PACKAGES = ("ray", "tensorflow", "keras", "keras-tuner", "bayesian-optimization", "optuna", "pandas")


def describe_machine() -> dict[str, Any]:
    """A JSON-able description, with the 1-minute load average: numbers from a busy machine are slower."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def summary_line(machine: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items() if version)
    return (f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, {machine['os']}; "
            f"Python {machine['python']}, {packages}; {machine['date']}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
