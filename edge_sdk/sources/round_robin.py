"""Taking frames from several cameras in turn, so that a silent camera never holds up the others.

    frames = RoundRobin(sources, on_end=lambda src, status: ...)
    while frames.active:
        frame = frames.next(wait_s=0.25)   # None: no camera delivered within wait_s

Each call sweeps the sources from the current turn without waiting and takes the first frame that is ready;
only when none has one does it wait, on one event every source sets when it queues a frame or ends. A camera
that is down (reconnecting, stalled) therefore costs nothing: the others' frames are taken the moment they
arrive, not after a per-camera read timeout. Sources that end (EOS, or ERROR once they give up) leave `active`
and are handed to `on_end`. Not thread-safe: one caller at a time (the pipeline holds its take lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from edge_sdk.frame import CaptureStatus, Frame
from edge_sdk.sources.base import Source

EndHandler = Callable[[Source, CaptureStatus], None]


class RoundRobin:
    def __init__(self, sources: Sequence[Source], on_end: EndHandler | None = None) -> None:
        self.active = list(sources)
        self._on_end = on_end
        self._turn = 0
        self._ready = threading.Event()
        for src in self.active:
            src.listen(self._ready)

    def next(self, wait_s: float) -> Frame | None:
        """The next frame in turn order, waiting up to `wait_s` for one; None if none came or none is left."""
        deadline = time.monotonic() + wait_s
        while self.active:
            self._ready.clear()  # before the sweep: a frame queued from now on wakes the wait below
            frame = self._sweep()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.active:
                return None
            self._ready.wait(remaining)
        return None

    def _sweep(self) -> Frame | None:
        n = len(self.active)
        start = self._turn % n if n else 0
        for src in self.active[start:] + self.active[:start]:
            status, frame = src.read(timeout=0.0)
            if status is CaptureStatus.OK and frame is not None:
                self._turn = self.active.index(src) + 1
                return frame
            if status is not CaptureStatus.TIMEOUT:
                self.active.remove(src)
                if self._on_end is not None:
                    self._on_end(src, status)
        return None
