"""`daemon:` — how the service behaves under a supervisor (systemd): drain bound, watchdog, metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_sdk.config.base import Section


class DaemonConfig(Section):
    drain_timeout_s: float = Field(10.0, gt=0, le=300,
                                   description="on SIGTERM, frames in flight get this long to be published; "
                                               "the unit's TimeoutStopSec is set a little above it")
    watchdog_stall_s: float = Field(5.0, gt=0, le=600,
                                    description="the systemd watchdog is fed only while a result came out, and "
                                                "cameras delivered frames (see watchdog), within this many seconds")
    watchdog: Literal["any", "all"] = Field(
        "any", description="any: the watchdog is fed while at least one camera delivers (a camera that is down is "
                           "a warning and a status, never a restart); all: only while every camera delivers")
    status_interval_s: float = Field(2.0, gt=0, le=60, description="period of STATUS= updates to systemd")
    progress_interval_s: float | None = Field(
        None, ge=0, le=86400, description="log a progress line (fps, frames, detections, cameras) this often; "
                                          "null: every 5 s on a terminal, every 60 s in the journal; 0: never")
    metrics_port: int | None = Field(None, ge=1, le=65535,
                                     description="serve Prometheus metrics on this port; null (default) serves none")
    metrics_host: str = Field("127.0.0.1", min_length=1, description="address the metrics endpoint listens on")

    @model_validator(mode="after")
    def _sane(self) -> DaemonConfig:
        if self.status_interval_s > self.watchdog_stall_s * 10:
            raise ValueError("status_interval_s is far longer than watchdog_stall_s; lower it")
        return self
