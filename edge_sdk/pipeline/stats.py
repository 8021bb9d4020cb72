"""Per-stage figures: frames, rate and latency percentiles over a sliding window."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import numpy as np


class StageStats:
    """Thread-safe counters of one stage. `record(seconds)` per item; `snapshot()` for the stats topic."""

    def __init__(self, name: str, window: int = 600) -> None:
        self.name = name
        self.count = 0
        self._lat: collections.deque[float] = collections.deque(maxlen=window)
        self._times: collections.deque[float] = collections.deque(maxlen=window)
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self.count += 1
            self._lat.append(seconds)
            self._times.append(time.monotonic())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            lat = np.asarray(self._lat, dtype=np.float64)
            times = list(self._times)
            count = self.count
        fps = 0.0
        if len(times) >= 2 and times[-1] > times[0]:
            fps = (len(times) - 1) / (times[-1] - times[0])
        out: dict[str, Any] = {"frames": count, "fps": round(fps, 2)}
        if lat.size:
            out["latency_ms_p50"] = round(float(np.percentile(lat, 50)) * 1000, 3)
            out["latency_ms_p99"] = round(float(np.percentile(lat, 99)) * 1000, 3)
        return out

    def latencies(self) -> np.ndarray:
        with self._lock:
            return np.asarray(self._lat, dtype=np.float64)
