"""The pipeline's figures: one vocabulary for every executor, frames, rate and latency percentiles over a window.

What each stage's figures mean (the same on the CPU workers and the CUDA-stream runner; recorded in one place, the
publish stage, from the records every executor hands it):

- `preprocess`, per frame: host time to place the frame into the engine's input. CPU: the letterbox into the input
  tensor. CUDA: the copy into page-locked memory and enqueueing its upload and the GPU letterbox (the GPU's own
  work overlaps inference and is not in it).
- `infer`, per batch (its frames counted): the engine's time for the batch. CPU: the call to `Engine.infer`. CUDA:
  device time between two CUDA events recorded around the engine's work on the slot's stream.
- `decode`, per frame: the decoder, NMS and mapping the boxes back to the frame.
- `publish`, per frame: the sink (MQTT publisher) and the `on_result` hooks (events, fleet, tests).
- `total`, per frame: capture to publish, from the frame's capture time to the end of its publishing.

`frames` counts frames (a batch of 4 adds 4 to `infer`); `fps` is frames per second over the window's span. Per
camera (`CameraStats`): fps in (frames the source captured), fps out (results published), dropped (frames a live
source replaced by a newer one before the pipeline took them) and capture-to-publish latency p50/p99.
Batching (`BatchStats`): frames per batch and how long the reader held a batch's first frame waiting for more.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np

#: Stages in the order a frame passes them (the keys of `Pipeline.stats`).
STAGES = ("preprocess", "infer", "decode", "publish", "total")


class StageStats:
    """Thread-safe counters of one stage. `record(seconds, frames)` per sample; `snapshot()` for the stats topic."""

    def __init__(self, name: str, window: int = 600) -> None:
        self.name = name
        self.count = 0  # frames
        self._lat: collections.deque[float] = collections.deque(maxlen=window)
        self._times: collections.deque[tuple[float, int]] = collections.deque(maxlen=window)
        self._lock = threading.Lock()

    def record(self, seconds: float, frames: int = 1) -> None:
        with self._lock:
            self.count += frames
            self._lat.append(seconds)
            self._times.append((time.monotonic(), frames))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            lat = np.asarray(self._lat, dtype=np.float64)
            times = list(self._times)
            count = self.count
        fps = 0.0
        if len(times) >= 2 and times[-1][0] > times[0][0]:
            fps = sum(n for _, n in times[1:]) / (times[-1][0] - times[0][0])
        out: dict[str, Any] = {"frames": count, "fps": round(fps, 2)}
        if lat.size:
            out["latency_ms_p50"] = round(float(np.percentile(lat, 50)) * 1000, 3)
            out["latency_ms_p99"] = round(float(np.percentile(lat, 99)) * 1000, 3)
        return out

    def latencies(self) -> np.ndarray:
        with self._lock:
            return np.asarray(self._lat, dtype=np.float64)


class CameraStats:
    """Per camera: results published (fps out) and capture-to-publish latency, recorded by the publish stage."""

    def __init__(self, window: int = 600) -> None:
        self._window = window
        self._cameras: dict[str, StageStats] = {}
        self._lock = threading.Lock()

    def record(self, camera: str, seconds: float) -> None:
        stats = self._cameras.get(camera)
        if stats is None:
            with self._lock:
                stats = self._cameras.setdefault(camera, StageStats(camera, self._window))
        stats.record(seconds)

    def results(self, camera: str) -> int:
        stats = self._cameras.get(camera)
        return stats.count if stats is not None else 0

    def snapshot(self, camera: str) -> dict[str, Any]:
        """`results`, `fps_out`, `latency_ms_p50`, `latency_ms_p99` of one camera (zeros before its first result)."""
        stats = self._cameras.get(camera)
        snap = stats.snapshot() if stats is not None else {"frames": 0, "fps": 0.0}
        out: dict[str, Any] = {"results": snap["frames"], "fps_out": snap["fps"]}
        for key in ("latency_ms_p50", "latency_ms_p99"):
            if key in snap:
                out[key] = snap[key]
        return out


class BatchStats:
    """Batches formed by the frame reader: how many frames each held, how long the first one waited for more."""

    def __init__(self, window: int = 600) -> None:
        self.batches = 0
        self.frames = 0
        self._sizes: collections.deque[int] = collections.deque(maxlen=window)
        self._waits: collections.deque[float] = collections.deque(maxlen=window)
        self._lock = threading.Lock()

    def record(self, size: int, waited_s: float) -> None:
        with self._lock:
            self.batches += 1
            self.frames += size
            self._sizes.append(size)
            self._waits.append(waited_s)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            sizes = np.asarray(self._sizes, dtype=np.float64)
            waits = np.asarray(self._waits, dtype=np.float64)
            out: dict[str, Any] = {"batches": self.batches, "frames": self.frames}
        if sizes.size:
            out["size_mean"] = round(float(sizes.mean()), 3)
            out["size_max"] = int(sizes.max())
            out["wait_ms_p50"] = round(float(np.percentile(waits, 50)) * 1000, 3)
            out["wait_ms_p99"] = round(float(np.percentile(waits, 99)) * 1000, 3)
        return out
