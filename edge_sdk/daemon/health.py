"""Health for fleet tools that probe a device over HTTP on loopback (served beside /metrics).

- `/healthz`: the process lives (the HTTP thread answers): 200 `ok`.
- `/readyz`: the service does its job: the engine is loaded and has produced results, and at least one camera
  delivers (a frame within `daemon.watchdog_stall_s`): 200 `ready: ...`, else 503 `not ready: <why>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.daemon.supervisor import stalled_cameras
from edge_sdk.pipeline.pipeline import Pipeline


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str


def readiness(pipeline: Pipeline, stall_s: float) -> Readiness:
    """Whether the service is healthy: the engine runs and at least one camera delivers."""
    if pipeline.error is not None:
        return Readiness(False, f"the pipeline failed: {pipeline.error}")
    if not pipeline.first_result.is_set():
        return Readiness(False, "starting: no frame through the engine yet")
    cameras = [s.camera for s in pipeline.parts.sources]
    stalled = set(stalled_cameras(pipeline, stall_s))
    delivering = [c for c in cameras if c not in stalled]
    if not delivering:
        return Readiness(False, f"no camera delivered a frame within {stall_s:g} s ({', '.join(cameras)})")
    if not pipeline.frames_flowing(stall_s):
        return Readiness(False, f"the engine produced no result within {stall_s:g} s")
    note = f"; stalled: {', '.join(sorted(stalled))}" if stalled else ""
    return Readiness(True, f"engine {pipeline.parts.engine.info.type}, cameras delivering: {', '.join(delivering)}{note}")
