"""One line of progress in `edge-sdk run`'s log every few seconds: state, fps, frames, detections, each camera.

A long source otherwise prints nothing between "ready" and the closing summary. The line is the systemd STATUS=
line (supervisor.status_line) plus the detections, logged as `edge_sdk.progress` at INFO, so it goes where the
other log lines go, redacted, with the journal's priority prefix under systemd.

How often (`daemon.progress_interval_s`, or `edge-sdk run --progress SECONDS`): by default every 5 s when
stderr is a terminal, every 60 s otherwise (the journal, a file: a line a minute is plenty there); 0 never.
"""

from __future__ import annotations

import logging
import sys
import time

from edge_sdk.daemon.supervisor import status_line
from edge_sdk.pipeline.pipeline import Pipeline

log = logging.getLogger("edge_sdk.progress")

TERMINAL_INTERVAL_S = 5.0
LOG_INTERVAL_S = 60.0


def default_interval(configured: float | None) -> float:
    """The configured interval, else 5 s on a terminal and 60 s in the journal or a file; 0 means never."""
    if configured is not None:
        return configured
    return TERMINAL_INTERVAL_S if sys.stderr.isatty() else LOG_INTERVAL_S


class ProgressLog:
    """Call `tick` from the run loop; it logs a line once per interval after the first result."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._next: float | None = None
        self.lines = 0

    def tick(self, pipeline: Pipeline, detections: int, state: str = "running") -> None:
        if self.interval_s <= 0 or not pipeline.first_result.is_set():
            return
        now = time.monotonic()
        if self._next is None:
            self._next = now + self.interval_s
        elif now >= self._next:
            log.info("%s, %d detections", status_line(pipeline, state), detections)
            self.lines += 1
            self._next = now + self.interval_s
