"""SIGINT and SIGTERM as one exception in every command: `StopSignal`, a KeyboardInterrupt that knows its signal.

`edge-sdk` installs `raise_on_stop_signals()` before anything else, so a Ctrl-C (or a `kill`, or systemd
stopping the unit) at any moment unwinds the command through its context managers: files are closed, the
spool is committed, nothing prints a traceback. The CLI then exits with 128 + the signal (130, 143), except
`edge-sdk run`, whose daemon loop turns a stop signal into a drain and exits 0 (errors.EXIT_CODES).

Traps:
- Python delivers signals to the main thread only; worker threads never see StopSignal. Code that waits on
  threads must stop them itself when it unwinds (e.g. bench's engine-only workers), or their errors (on an
  engine the main thread closed) print as thread tracebacks.
- A handler installed here replaces an inherited SIG_IGN (a shell's background job, `nohup`): a Ctrl-C that
  the parent meant to ignore still stops edge-sdk. That is deliberate: edge-sdk is always stoppable.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignal(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `signum` says which."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(self.name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise StopSignal(signum)


def raise_on_stop_signals() -> None:
    """From now on SIGINT and SIGTERM raise StopSignal in the main thread (no-op in another thread)."""
    if threading.current_thread() is threading.main_thread():
        for s in STOP_SIGNALS:
            signal.signal(s, _raise)
