"""Progress of long engine builds (TensorRT >= 10: IProgressMonitor), logged at most every few seconds.

A build on an Orin Nano can take many minutes; the monitor logs each top-level phase as it starts and
finishes, and steps inside phases at most every `interval_s`. On TensorRT 8.6 (no progress monitor) the
builder logs only the start and the end of the build.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger(__name__)


class ProgressLog:
    """What the monitor saw: phases started and finished, for the build report and tests."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self.phases: dict[str, int] = {}  # phase -> number of steps
        self.finished: list[str] = []
        self._last = 0.0

    def start(self, phase: str, parent: str | None, steps: int) -> None:
        self.phases[phase] = steps
        if parent is None:
            log.info("build phase %s (%d steps)", phase, steps)

    def step(self, phase: str, step: int) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            log.info("build phase %s: step %d/%d", phase, step + 1, self.phases.get(phase, 0))
        return True  # False would cancel the build

    def finish(self, phase: str) -> None:
        self.finished.append(phase)


def make_progress_monitor(progress: ProgressLog) -> trt.IProgressMonitor:
    """An IProgressMonitor that reports into `progress`. Keep it referenced until the build returns."""
    import tensorrt as trt

    class _Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            progress.start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return progress.step(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            progress.finish(phase_name)

    return _Monitor()
