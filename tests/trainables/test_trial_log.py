"""A trial's own output lands in its folder's trial.log, the traceback that ended it included."""
from __future__ import annotations

import logging
import sys

import pytest

from tunelab.core.run_folder import TRIAL_LOG
from tunelab.trainables.trial_log import trial_log


def test_prints_logging_and_the_fatal_traceback_go_to_the_trial_log(tmp_path, capsys):
    """(Python warnings print to stderr in a worker; pytest records them instead, so none here.)"""
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError, match="the model refused"):
        with trial_log(str(tmp_path), "abc123"):
            print("epoch 1 went fine")
            print("a note on stderr", file=sys.stderr)
            logging.getLogger("user.code").warning("a logged warning")
            raise ValueError("the model refused units_1=16")

    text = (tmp_path / "trial_abc123" / TRIAL_LOG).read_text()
    for expected in ("epoch 1 went fine", "a note on stderr", "WARNING user.code: a logged warning",
                     "Traceback (most recent call last)", "ValueError: the model refused units_1=16"):
        assert expected in text, expected
    assert "epoch 1 went fine" in capsys.readouterr().out  # the worker's own stream still gets it
    assert logging.getLogger().handlers == handlers  # the log's handler went with the trial


def test_a_retry_appends_and_no_folder_means_no_log(tmp_path):
    for attempt in (1, 2):
        with trial_log(str(tmp_path), "t"):
            print(f"attempt {attempt}")
    assert (tmp_path / "trial_t" / TRIAL_LOG).read_text().splitlines() == ["attempt 1", "attempt 2"]
    with trial_log(None, "t"):
        print("nowhere")
    assert "nowhere" not in (tmp_path / "trial_t" / TRIAL_LOG).read_text()


@pytest.mark.parametrize("code, traceback_kept", [(0, False), (None, False), (3, True)])
def test_rays_clean_stop_leaves_no_traceback(tmp_path, code, traceback_kept):
    """Ray stops a trial it pauses, ends early or leaves at Ctrl+C by `sys.exit(0)` in its report call."""
    with pytest.raises(SystemExit):
        with trial_log(str(tmp_path), "t"):
            print("epoch 3 reported")
            raise SystemExit(code)
    text = (tmp_path / "trial_t" / TRIAL_LOG).read_text()
    assert text.startswith("epoch 3 reported") and ("Traceback" in text) == traceback_kept, text
