"""The pipeline's one frame reader: frames from every camera, in turn, numbered in publishing order, in batches.

    reader = FrameReader(sources, stopped=stop_event.is_set, batch_timeout_s=0.005)
    while not reader.done:
        batch = reader.take(max_frames=8, wait_s=0.25)   # None: no camera delivered within wait_s
        ...batch.frames (a camera's frames in capture order), batch.seq (frame i is published as seq + i)

A batch forms as DeepStream's nvstreammux and Triton's dynamic batcher form theirs: the first frame is the next
one ready, least-served camera first and in turn order among equals (sources/round_robin.py: waiting up to
`wait_s` for one); then frames ready now are added the same way, one per camera per round, so no camera gets more
than another while it has frames, and one whose frames came late gets them taken first when they come; when none is ready the
reader waits for stragglers until the batch is full, every delivering camera has a frame in it, or
`batch_timeout_s` has passed since the first frame was taken. A camera is delivering when its last frame came
within `DELIVERING_S` (one that is down never holds a batch back beyond that). Live sources keep only their
newest frame (sources/base.py), so a slow camera never holds the others back: what is ready is taken.

Thread-safe: executors with several workers each call `take`; numbering and reading happen under one lock, so the
sequence numbers follow the order frames were taken, and per camera that is capture order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge_sdk.frame import Frame
from edge_sdk.sources.base import Source
from edge_sdk.sources.round_robin import EndHandler, RoundRobin

#: A camera whose last frame is older than this is not waited for when a batch forms.
DELIVERING_S = 1.0


@dataclass
class Batch:
    """Frames taken together. `frames[i]` is published as sequence number `seq + i`."""

    seq: int
    frames: list[Frame]
    waited_s: float = 0.0  # how long the first frame waited for the others while the batch formed

    def __len__(self) -> int:
        return len(self.frames)


class FrameReader:
    def __init__(self, sources: Sequence[Source], *, stopped: Callable[[], bool], on_end: EndHandler | None = None,
                 batch_timeout_s: float = 0.0) -> None:
        self._frames = RoundRobin(sources, on_end=on_end)
        self._stopped = stopped
        self.batch_timeout_s = max(0.0, batch_timeout_s)
        self._lock = threading.Lock()
        self._seq = 0

    @property
    def done(self) -> bool:
        """Every source has ended, or the pipeline is stopping."""
        return not self._frames.active or self._stopped()

    def take(self, max_frames: int, wait_s: float) -> Batch | None:
        """The next batch of at most `max_frames` frames; None when no frame came within `wait_s` or `done`."""
        with self._lock:
            if self.done:
                return None
            first = self._frames.next(wait_s)
            if first is None:
                return None
            t0 = time.monotonic()
            frames = [first]
            if max_frames > 1:
                self._fill(frames, max_frames, t0 + self.batch_timeout_s)
            seq, self._seq = self._seq, self._seq + len(frames)
            return Batch(seq, frames, time.monotonic() - t0 if len(frames) > 1 or max_frames > 1 else 0.0)

    def _fill(self, frames: list[Frame], limit: int, deadline: float) -> None:
        while len(frames) < limit and not self._stopped():
            frame = self._frames.next(0.0)  # ready now, in turn order
            if frame is None:
                if self._complete(frames):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                frame = self._frames.next(remaining)
                if frame is None:
                    return
            frames.append(frame)

    def _complete(self, frames: list[Frame]) -> bool:
        """Every camera that is delivering has a frame in the batch (nvstreammux's "all sources")."""
        have = {f.camera for f in frames}
        now = time.monotonic()
        for src in self._frames.active:
            last = src.last_frame_mono
            if src.camera not in have and last is not None and now - last <= DELIVERING_S:
                return False
        return True
