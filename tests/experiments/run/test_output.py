"""Ray's console output goes to the run's log; tunelab's own lines still reach the user's stdout.

Pure logic: the capture is exercised with print and the `ray` logger, no Ray started.
"""
from __future__ import annotations

import logging
import sys

import pytest

from tunelab.core.run_folder import DRIVER_LOG
from tunelab.experiments.errors import SpecError
from tunelab.experiments.run.output import DriverLog, captured, terminal


def test_prints_and_ray_records_go_to_the_log_and_terminal_lines_to_the_user(tmp_path, capsys):
    with captured(DriverLog()) as log:
        print("before the run folder may be written")         # held until attach
        logging.getLogger("ray.tune").warning("a Ray warning")
        log.attach(str(tmp_path / "run"))
        print("the configuration box")
        with terminal():
            print("[    3s] 1/2 trials done")
    out = capsys.readouterr()
    assert out.out == "[    3s] 1/2 trials done\n" and out.err == ""
    text = (tmp_path / "run" / DRIVER_LOG).read_text()
    assert text.index("before the run folder") < text.index("a Ray warning") < text.index("the configuration box")
    assert sys.stdout is not log and logging.getLogger("ray").handlers != [log]


def test_a_user_mistake_drops_rays_start_up_lines_and_writes_nothing(tmp_path, capsys):
    with pytest.raises(SpecError):
        with captured(DriverLog()):
            logging.getLogger("ray").warning("Token authentication is enabled")
            raise SpecError("resources: no node can hold a trial")
    assert capsys.readouterr().err == "" and list(tmp_path.iterdir()) == []


def test_a_bug_before_the_run_folder_shows_what_ray_said(capsys):
    with pytest.raises(RuntimeError):
        with captured(DriverLog()):
            print("raylet failed to start")
            raise RuntimeError("a bug")
    assert "raylet failed to start" in capsys.readouterr().err


def test_nested_captures_send_terminal_lines_to_the_users_stream(tmp_path, capsys):
    with captured(DriverLog()) as outer:
        outer.attach(str(tmp_path / "outer"))
        with captured(DriverLog()) as inner:
            inner.attach(str(tmp_path / "inner"))
            with terminal():
                print("for the user")
    assert capsys.readouterr().out == "for the user\n"
    assert "for the user" not in (tmp_path / "outer" / DRIVER_LOG).read_text()


def test_writes_after_the_run_reach_the_user_instead_of_vanishing(tmp_path, capsys):
    with captured(DriverLog()) as log:
        log.attach(str(tmp_path / "run"))
    log.write("a late line from a Ray thread\n")
    assert capsys.readouterr().err == "a late line from a Ray thread\n"
