"""Stop signals during a run: Ctrl+C, SIGTERM and SIGHUP all end Ray's fit() gracefully, each noted."""
from __future__ import annotations

import signal

from tunelab.experiments.run.interrupts import InterruptWatch, stop_signal, stop_signals_restored


def test_sigterm_and_sighup_stop_a_fit_as_ctrl_c_does_and_are_noted():
    """The stop signals reach Ray's own SIGINT handler (its graceful stop), noted with the signal that came."""
    received = []
    with stop_signals_restored():
        signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))  # stands for Ray's handler
        InterruptWatch("/runs/a").setup()
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGHUP)
    assert received == [signal.SIGINT, signal.SIGINT]
    assert stop_signal("/runs/a") == signal.SIGTERM  # the first one is the one that stopped the run
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the process's own handlers are back
