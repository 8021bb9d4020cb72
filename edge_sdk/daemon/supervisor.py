"""The daemon's side of systemd supervision: READY once the first frame is through, STATUS with the
frame rate and each camera's state, and WATCHDOG pings only while the service is healthy.

`SystemdSupervisor.tick(pipeline, publisher)` is called from the run loop a few times a second. Whether to
feed the watchdog is `daemon.health.service_health`, the one predicate: the engine produces results and at
least one camera (`daemon.watchdog: any`, the default) or every camera (`all`) delivers within
`watchdog_stall_s`, and the publisher can store what it sends. A hung engine, every camera gone, or a spool
that cannot be written stops the pings and systemd restarts the service (WatchdogSec=); one camera down among
others is a warning, its status topic and STATUS=, not a restart. Nothing is sent when not under systemd.
"""

from __future__ import annotations

import logging
import time

from edge_sdk.config.daemon import DaemonConfig
from edge_sdk.daemon.health import Health, HealthReporter, service_health
from edge_sdk.daemon.notify import Notifier
from edge_sdk.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)


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
        self._last: tuple[bool, tuple[str, ...]] | None = None  # (healthy, degraded) last reported
        self.state = "starting"

    def tick(self, pipeline: Pipeline, publisher: HealthReporter | None = None) -> Health:
        now = time.monotonic()
        if not self.ready_sent and pipeline.first_result.is_set():
            self.state = "running"
            self.notifier.ready(status_line(pipeline, self.state))
            self.ready_sent = True
            log.info("ready: engine loaded and the first frame processed")
            self._next_status = now + self.cfg.status_interval_s
        health = service_health(pipeline, self.cfg, publisher)
        self._watchdog(health, now)
        if self.ready_sent and now >= self._next_status:
            self.notifier.status(status_line(pipeline, self.state))
            self._next_status = now + self.cfg.status_interval_s
        return health

    def _watchdog(self, health: Health, now: float) -> None:
        if not self.ready_sent:
            return
        state = "stalled" if not health.healthy else ("degraded" if health.degraded else "running")
        if (health.healthy, health.degraded) != self._last:
            if not health.healthy:
                log.warning("service unhealthy (%s): not feeding the watchdog", health.summary())
            elif health.degraded:
                log.warning("cameras not delivering: %s; the others are, so the watchdog is still fed",
                            ", ".join(health.degraded))
            elif self._last is not None:
                log.info("service healthy again: every camera delivers")
            self._last = (health.healthy, health.degraded)
            self._next_status = now  # report the change at once
        if self.state not in ("stopping",):
            self.state = state
        interval = self.notifier.watchdog_interval_s
        if interval is not None and health.healthy and now >= self._next_ping:
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
