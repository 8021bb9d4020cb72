"""Is the service healthy? The one predicate behind the systemd watchdog and the HTTP readiness probe.

    verdict = service_health(pipeline, cfg.daemon, publisher)
    verdict.healthy, verdict.problems, verdict.degraded

Healthy means all of:
- the pipeline has not failed, and the first frame went through the engine (before that: starting);
- the engine runs: a result came out of the pipeline within `daemon.watchdog_stall_s`;
- cameras deliver: with `daemon.watchdog: any` (the default) at least one camera delivered a frame within that
  time; with `all`, every camera did;
- the publisher can store what it must send (`Publisher.problem()` is None: e.g. a spool that cannot be written
  at all is a problem, a full disk is not: that drops the oldest messages, counted, and is a warning).
A camera that is down while others deliver is not a problem under `any`: it is listed in `degraded`, reported
on its status topic and in STATUS=, and never gets the service restarted.

Fleet tools probe a device over HTTP on loopback (served beside /metrics, `daemon.metrics_port`):
- `/healthz`: the process lives (the HTTP thread answers): 200 `ok`.
- `/readyz`: `readiness`, which is `service_health` in words: 200 `ready: ...`, else 503 `not ready: <why>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from edge_sdk.config.daemon import DaemonConfig
from edge_sdk.pipeline.pipeline import Pipeline


class HealthReporter(Protocol):
    def problem(self) -> str | None: ...


@dataclass(frozen=True)
class Health:
    healthy: bool
    problems: tuple[str, ...] = ()  # why not healthy (empty when healthy)
    delivering: tuple[str, ...] = ()  # cameras that delivered within the stall time
    degraded: tuple[str, ...] = field(default=())  # cameras that did not (healthy or not)

    def summary(self) -> str:
        if not self.healthy:
            return "; ".join(self.problems)
        return f"degraded: {', '.join(self.degraded)} not delivering" if self.degraded else "healthy"


def service_health(pipeline: Pipeline, cfg: DaemonConfig, publisher: HealthReporter | None = None) -> Health:
    """The service's health now (see the module docstring). Cheap: call it a few times a second."""
    stall = cfg.watchdog_stall_s
    sources = list(pipeline.parts.sources)
    delivering = tuple(s.camera for s in sources if s.is_flowing(stall))
    silent = tuple(s.camera for s in sources if s.camera not in delivering)
    problems = []
    if pipeline.error is not None:
        problems.append(f"the pipeline failed: {pipeline.error}")
    elif not pipeline.first_result.is_set():
        problems.append("starting: no frame through the engine yet")
    else:
        if cfg.watchdog == "all" and silent:
            problems.append(f"cameras not delivering (daemon.watchdog: all): {', '.join(silent)}")
        elif not delivering:
            problems.append(f"no camera delivered a frame within {stall:g} s ({', '.join(silent)})")
        if not pipeline.frames_flowing(stall):
            problems.append(f"the engine produced no result within {stall:g} s")
    problem = publisher.problem() if publisher is not None else None
    if problem:
        problems.append(problem)
    return Health(not problems, tuple(problems), delivering, silent)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str


def readiness(pipeline: Pipeline, cfg: DaemonConfig, publisher: HealthReporter | None = None) -> Readiness:
    """`service_health` for /readyz: ready or not, and in words why."""
    health = service_health(pipeline, cfg, publisher)
    if not health.healthy:
        return Readiness(False, "; ".join(health.problems))
    note = f"; not delivering: {', '.join(health.degraded)}" if health.degraded else ""
    engine = pipeline.parts.engine.info.type
    return Readiness(True, f"engine {engine}, cameras delivering: {', '.join(health.delivering)}{note}")
