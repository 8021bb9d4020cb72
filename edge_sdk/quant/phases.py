"""Wall and CPU time per phase of a build, for the report (`with phases("calibration"): ...`).

CPU time is the process's (time.process_time: every thread, ONNX Runtime's intra-op threads included), so
it compares with other tools' CPU seconds on the same machine however many cores there are.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any


class Phases:
    def __init__(self) -> None:
        self._times: dict[str, list[float]] = {}
        self._t0 = (time.monotonic(), time.process_time())

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        wall, cpu = time.monotonic(), time.process_time()
        try:
            yield
        finally:
            spent = self._times.setdefault(name, [0.0, 0.0])
            spent[0] += time.monotonic() - wall
            spent[1] += time.process_time() - cpu

    def as_dict(self) -> dict[str, Any]:
        """{"phases": {name: {"wall_s", "cpu_s"}}, "wall_s", "cpu_s"} (totals since creation)."""
        return {"phases": {k: {"wall_s": round(w, 2), "cpu_s": round(c, 2)} for k, (w, c) in self._times.items()},
                "wall_s": round(time.monotonic() - self._t0[0], 2), "cpu_s": round(time.process_time() - self._t0[1], 2)}
