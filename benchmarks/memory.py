"""Peak resident memory of worker processes, sampled from a background thread while a run goes on."""
from __future__ import annotations

import os
import threading
from typing import Callable, Iterable

import psutil

_WORKER_MARKS = ("default_worker.py", "ray::")  # Ray renames its worker processes "ray::<what runs>"


def ray_workers(root: int | None = None) -> list[psutil.Process]:
    """Ray worker processes started by this driver (descendants of `root`), not other users' Rays."""
    found = []
    for process in _descendants(root or os.getpid()):
        try:
            command = " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if any(mark in command for mark in _WORKER_MARKS):
            found.append(process)
    return found


def process_tree(pid: int) -> Callable[[], list[psutil.Process]]:
    """The process `pid` and its descendants (a KerasTuner search runs in one process)."""

    def select() -> list[psutil.Process]:
        try:
            return [psutil.Process(pid), *_descendants(pid)]
        except psutil.NoSuchProcess:
            return []

    return select


def _descendants(pid: int) -> Iterable[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


class PeakMemory:
    """Largest RSS of any one selected process, sampled every `interval` seconds until `stop`.

        with PeakMemory(ray_workers) as memory:
            ...
        memory.peak_mb
    """

    def __init__(self, select: Callable[[], list[psutil.Process]] = ray_workers, interval: float = 0.5) -> None:
        self._select = select
        self._interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, name="peak-memory", daemon=True)

    @property
    def peak_mb(self) -> float | None:
        """None when no process was ever seen."""
        return self._peak / 2**20 if self._peak else None

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.sample()  # a last look: a short run may end between two samples

    def sample(self) -> None:
        for process in self._select():
            try:
                self._peak = max(self._peak, process.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue

    def _sample_until_stopped(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)
