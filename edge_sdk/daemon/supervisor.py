"""The daemon's side of systemd supervision: READY once the first frame is through, STATUS with the
frame rate, and WATCHDOG pings only while frames really flow.

`SystemdSupervisor.tick(pipeline)` is called from the run loop a few times a second. The watchdog is fed
only if a result came out of the pipeline within `watchdog_stall_s` AND every camera delivered a frame
within that time, so a stuck camera or a hung engine stops the pings and systemd restarts the service
(WatchdogSec=). Nothing is sent when not under systemd.
"""

from __future__ import annotations

import logging
import time

from edge_sdk.config.daemon import DaemonConfig
from edge_sdk.daemon.notify import Notifier
from edge_sdk.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)


def stalled_cameras(pipeline: Pipeline, max_age_s: float) -> list[str]:
    """Cameras whose newest frame is older than `max_age_s`, that never delivered one, or that the source
    itself reports stalled (its own `stall_timeout_s`)."""
    stalled = []
    for src in pipeline.parts.sources:
        health = src.snapshot_health()
        age = health.last_frame_age_s
        if age is None or age > max_age_s or getattr(health, "stalled", False):
            stalled.append(src.camera)
    return stalled


def status_line(pipeline: Pipeline, state: str) -> str:
    snap = pipeline.snapshot()
    fps = snap["stages"]["total"]["fps"]
    cams = ", ".join(f"{s['camera']} {s['state']} {s['fps']:.1f} fps" for s in snap["sources"])
    eng = snap["engine"]
    return f"{state}: {fps:.1f} fps, {pipeline.results} frames; {cams}; engine {eng['type']}/{eng['device']} {eng['precision']}"


class SystemdSupervisor:
    """Feeds systemd's notify socket from the run loop. One per run."""

    def __init__(self, cfg: DaemonConfig, notifier: Notifier | None = None) -> None:
        self.cfg = cfg
        self.notifier = notifier or Notifier()
        self.ready_sent = False
        self.pings = 0
        self._next_ping = 0.0
        self._next_status = 0.0
        self._flowing: bool | None = None
        self.state = "starting"

    def tick(self, pipeline: Pipeline) -> None:
        now = time.monotonic()
        if not self.ready_sent and pipeline.first_result.is_set():
            self.state = "running"
            self.notifier.ready(status_line(pipeline, self.state))
            self.ready_sent = True
            log.info("ready: engine loaded and the first frame processed")
            self._next_status = now + self.cfg.status_interval_s
        self._watchdog(pipeline, now)
        if self.ready_sent and now >= self._next_status:
            self.notifier.status(status_line(pipeline, self.state))
            self._next_status = now + self.cfg.status_interval_s

    def _watchdog(self, pipeline: Pipeline, now: float) -> None:
        interval = self.notifier.watchdog_interval_s
        if interval is None or not self.ready_sent:
            return
        flowing = pipeline.frames_flowing(self.cfg.watchdog_stall_s)
        stalled = stalled_cameras(pipeline, self.cfg.watchdog_stall_s)
        healthy = flowing and not stalled
        if healthy != self._flowing:
            if not healthy:
                why = f"cameras stalled: {', '.join(stalled)}" if stalled else "no results from the engine"
                log.warning("frames stopped flowing (%s): not feeding the watchdog", why)
                self.state = "stalled"
            elif self._flowing is not None:
                log.info("frames flow again: feeding the watchdog")
                self.state = "running"
            self._flowing = healthy
            self._next_status = now  # report the change at once
        if healthy and now >= self._next_ping:
            if self.notifier.watchdog():
                self.pings += 1
            self._next_ping = now + interval

    def reloading(self) -> None:
        self.notifier.reloading()

    def reloaded(self, pipeline: Pipeline, note: str) -> None:
        self.notifier.send(READY=1, STATUS=f"{status_line(pipeline, self.state)}; {note}")

    def stopping(self, reason: str) -> None:
        self.state = "stopping"
        self.notifier.stopping(f"stopping ({reason}): draining frames in flight")
