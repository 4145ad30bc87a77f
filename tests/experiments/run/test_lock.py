"""One writer per run folder: the lock file, its holder, stale locks taken over. Pure file logic."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tunelab.core.run_folder import LOCK_FILE, lock_holder_is_gone, process_start, read_lock_holder
from tunelab.experiments.run.lock import RunLocked, run_lock


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, **holder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_FILE).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                               "since": time.time(), "heartbeat": time.time(), **holder}))


def test_the_holder_is_written_and_the_lock_released(tmp_path):
    run = tmp_path / "run"
    with run_lock(str(run)):
        holder = read_lock_holder(run / LOCK_FILE)
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        (run / "trial_x").mkdir()
    assert not (run / LOCK_FILE).exists() and (run / "trial_x").is_dir()


def test_a_live_holder_refuses_a_second_writer_naming_it(tmp_path):
    run = tmp_path / "run"
    with run_lock(str(run)):
        with pytest.raises(RunLocked, match=rf"^{run}: in use by the driver with pid {os.getpid()} on "):
            with run_lock(str(run)):
                pass
        assert (run / LOCK_FILE).exists()  # the refused one left the holder's lock alone


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path):
    run = tmp_path / "run"
    write_lock(run, pid=dead_pid())
    with run_lock(str(run)):
        assert read_lock_holder(run / LOCK_FILE)["pid"] == os.getpid()
    assert sorted(p.name for p in run.iterdir()) == []


def test_another_hosts_lock_counts_until_its_heartbeat_is_a_minute_old(tmp_path):
    alive = {"host": "elsewhere", "pid": 1, "heartbeat": time.time() - 30}
    assert not lock_holder_is_gone(alive)
    assert lock_holder_is_gone({**alive, "heartbeat": time.time() - 61})
    write_lock(tmp_path / "run", **alive)
    with pytest.raises(RunLocked, match="pid 1 on elsewhere"):
        with run_lock(str(tmp_path / "run")):
            pass


def test_the_heartbeat_is_renewed_while_the_run_lasts(tmp_path):
    run = tmp_path / "run"
    with run_lock(str(run), heartbeat_s=0.05):
        first = read_lock_holder(run / LOCK_FILE)["heartbeat"]
        time.sleep(0.3)
        assert read_lock_holder(run / LOCK_FILE)["heartbeat"] > first


def test_a_folder_the_refused_run_created_is_not_left_behind(tmp_path):
    run = tmp_path / "new"
    with pytest.raises(RuntimeError):
        with run_lock(str(run)):
            raise RuntimeError("no node can hold a trial")
    assert not run.exists()


def test_a_driver_whose_lock_was_taken_over_stops_renewing_it(tmp_path):
    run = tmp_path / "run"
    with run_lock(str(run), heartbeat_s=0.05):
        write_lock(run, host="elsewhere", pid=1, token="theirs")  # taken over while this driver stalled
        time.sleep(0.3)
        assert read_lock_holder(run / LOCK_FILE)["token"] == "theirs"
    assert read_lock_holder(run / LOCK_FILE)["token"] == "theirs"  # and not removed on the way out


def test_a_lock_file_being_written_is_not_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / LOCK_FILE).write_text("")  # a driver of an older tunelab between its create and its write
    with pytest.raises(RunLocked, match="cannot be read"):
        with run_lock(str(run)):
            pass


def test_a_stopped_driver_on_this_host_keeps_its_run_however_old_its_heartbeat(tmp_path):
    """Ctrl+Z for longer than a minute used to hand the run to a --resume; then both drivers wrote it."""
    stopped = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(stopped.pid, signal.SIGSTOP)
        holder = {"host": socket.gethostname(), "pid": stopped.pid, "started": process_start(stopped.pid),
                  "heartbeat": time.time() - 3600}
        assert not lock_holder_is_gone(holder)
        write_lock(tmp_path / "run", **holder)
        with pytest.raises(RunLocked, match=f"pid {stopped.pid} on "):
            with run_lock(str(tmp_path / "run")):
                pass
        assert lock_holder_is_gone({**holder, "started": holder["started"] + 1})  # its pid, reused by another
    finally:
        stopped.kill()
        stopped.wait()
    assert lock_holder_is_gone(holder)


def test_holder_files_of_gone_drivers_are_removed_and_a_live_ones_kept(tmp_path):
    """A driver killed between writing its holder file and renaming it into place leaves `tunelab.lock.<token>`."""
    run = tmp_path / "run"
    run.mkdir()
    gone = {"host": socket.gethostname(), "pid": dead_pid(), "since": time.time(), "heartbeat": time.time()}
    (run / f"{LOCK_FILE}.gone").write_text(json.dumps(gone))
    (run / f"{LOCK_FILE}.cut").write_text('{"host": "')  # a full disk cut it short, long ago
    os.utime(run / f"{LOCK_FILE}.cut", (time.time() - 120, time.time() - 120))
    (run / f"{LOCK_FILE}.live").write_text(json.dumps({**gone, "pid": os.getpid()}))
    with run_lock(str(run)):
        pass
    assert sorted(p.name for p in run.iterdir()) == [f"{LOCK_FILE}.live"]
