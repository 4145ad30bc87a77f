"""One writer per run folder: a lock file naming its holder, kept fresh by a heartbeat.

Two launches with one --name, or a --resume while the first driver still runs, would both write
the folder: trials trained twice, a finished trial marked errored. The lock is a file created
with O_EXCL in the run folder (atomic on a local disk and on shared filesystems such as NFS v3+),
holding the holder's host, pid (with its process's start) and a heartbeat the holder renews every
10 s. A lock whose holder is gone is taken over: on the same host when its process no longer runs
(a driver stopped with Ctrl+Z, or too busy to beat, keeps its run), from another host when its
heartbeat is older than a minute. URI storage (s3://, gs://) has no atomic create, so it is not
locked.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from tunelab.core.run_folder import (
    LOCK_FILE, LOCK_STALE_S, is_uri, lock_holder_is_gone, process_start, read_lock_holder,
)
from tunelab.experiments.errors import SpecError

HEARTBEAT_S = 10.0


class RunLocked(SpecError):
    """The run folder is being written by another live driver."""


@contextlib.contextmanager
def run_lock(run_path: str, *, heartbeat_s: float = HEARTBEAT_S) -> Iterator[None]:
    """Holds the run folder's lock while the block runs; RunLocked (exit 2) when another driver holds it.

    Folders this call created and left empty (a run refused before it wrote anything) are removed.
    """
    if is_uri(run_path):
        yield
        return
    folder = Path(run_path)
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # removed again if left empty
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": process_start(os.getpid()),
              "token": uuid.uuid4().hex, "since": time.time(), "heartbeat": time.time()}
    try:
        _acquire(lock, holder)
    except BaseException:
        _remove_if_empty(folder, created)
        raise
    stop = threading.Event()
    beating = threading.Thread(target=_beat, args=(lock, holder, stop, heartbeat_s), daemon=True,
                               name="tunelab-lock-heartbeat")
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()
        _release(lock, holder)
        _remove_if_empty(folder, created)


def check_not_locked(run_folder: Path) -> None:
    """RunLocked when a live driver holds the folder's lock (checked again when the lock is taken)."""
    holder = read_lock_holder(run_folder / LOCK_FILE)
    if holder is not None and not lock_holder_is_gone(holder):
        raise RunLocked(_in_use(run_folder / LOCK_FILE, holder))


def _acquire(lock: Path, holder: dict[str, Any]) -> None:
    """The holder is written to a file of its own, then linked as the lock: it never exists half-written."""
    mine = lock.with_name(f"{LOCK_FILE}.{holder['token']}")
    _remove_leftovers(lock)
    try:
        mine.write_text(json.dumps(holder))  # a full disk can fail it part-way: removed all the same
        for _ in range(3):
            try:
                os.link(mine, lock)  # atomic, and fails if the lock exists (also on NFS)
                return
            except FileExistsError:
                current = read_lock_holder(lock)
                if current is None and time.time() - _mtime(lock) < LOCK_STALE_S:
                    raise RunLocked(f"{lock.parent}: locked by a driver whose lock file cannot be read ({lock}); "
                                    "if no driver runs this folder, delete it") from None
                if current is not None and not lock_holder_is_gone(current):
                    raise RunLocked(_in_use(lock, current)) from None
                _take_over(lock, current)
        raise RunLocked(f"{lock.parent}: another driver keeps taking this run folder's lock ({lock}); try again")
    finally:
        mine.unlink(missing_ok=True)


def _remove_leftovers(lock: Path) -> None:
    """Removes the holder files (`tunelab.lock.<token>`) of drivers that are gone: a driver killed between
    writing one and renaming it into place leaves it behind. A live driver's, or one just written, stays."""
    for leftover in lock.parent.glob(f"{LOCK_FILE}.*"):
        holder = read_lock_holder(leftover)
        gone = lock_holder_is_gone(holder) if holder else time.time() - _mtime(leftover) > LOCK_STALE_S
        if gone:
            leftover.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _take_over(lock: Path, stale: dict[str, Any] | None) -> None:
    """Moves a stale lock aside; if a racing driver replaced it meanwhile, puts that one back."""
    aside = lock.with_name(f"{LOCK_FILE}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return  # another driver took it over first; the next O_EXCL decides
    if read_lock_holder(aside) != stale:
        with contextlib.suppress(OSError):
            os.rename(aside, lock)
        return
    aside.unlink(missing_ok=True)


def _beat(lock: Path, holder: dict[str, Any], stop: threading.Event, every: float) -> None:
    """Renews the heartbeat while the lock is still this driver's; one taken over (this driver stalled
    for a minute) is left to its new holder."""
    while not stop.wait(every):
        current = read_lock_holder(lock)
        if current is not None and current.get("token") != holder["token"]:
            return
        holder["heartbeat"] = time.time()
        fresh = lock.with_name(f"{LOCK_FILE}.{holder['token']}")
        try:  # written aside, then renamed: a reader never sees half a file
            fresh.write_text(json.dumps(holder))
            os.replace(fresh, lock)
        except OSError:  # storage full or gone read-only: the run itself will report it
            with contextlib.suppress(OSError):
                fresh.unlink(missing_ok=True)


def _release(lock: Path, holder: dict[str, Any]) -> None:
    current = read_lock_holder(lock)
    if current is not None and current.get("token") == holder["token"]:
        lock.unlink(missing_ok=True)


def _remove_if_empty(folder: Path, created: list[Path]) -> None:
    """The folders this run made (the run's, and storage above it), innermost first, while empty."""
    for path in created:
        try:
            path.rmdir()
        except OSError:
            return


def _in_use(lock: Path, holder: dict[str, Any]) -> str:
    since = datetime.datetime.fromtimestamp(float(holder.get("since", holder["heartbeat"])))
    age = time.time() - float(holder["heartbeat"])
    return (f"{lock.parent}: in use by the driver with pid {holder['pid']} on {holder['host']} since {since:%H:%M:%S} "
            f"(heartbeat {age:.0f}s ago); wait for it to end, or stop it, before launching or resuming this run")
