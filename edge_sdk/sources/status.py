"""A camera's availability as the outside world sees it: `online`, `offline`, `reconnecting` or `stalled`, with a
reason.

`status_of` maps a source's detailed state (streaming, stalled, reconnecting, eos, error, closed) to the three
states published on the retained `<prefix>/<device_id>/<camera>/status` topic (schema:
edge_sdk/schemas/camera_status.schema.json) and shown per camera in the stats topic:

| source state                          | status         | reason                                   |
|---------------------------------------|----------------|------------------------------------------|
| streaming                             | `online`       | none                                     |
| starting, reconnecting                | `reconnecting` | why the last open or read failed         |
| stalled (live, no frame for too long) | `reconnecting` | "no frame for more than N s"             |
| stalled (a file or pipe, not reopened) | `stalled`     | "no frame for more than N s", not reopened |
| eos, error, closed                    | `offline`      | end of stream / the error / service stop |

Reasons are redacted (no password of a camera URL) and stable while the state lasts (no running counters), so
a status is published when it changes, not at every look. `StatusBoard` does that bookkeeping.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge_sdk.redact import redact

ONLINE = "online"
OFFLINE = "offline"
RECONNECTING = "reconnecting"
STALLED = "stalled"
STATES = (ONLINE, OFFLINE, RECONNECTING, STALLED)


def status_of(state: str, last_error: str | None, stall_timeout_s: float, *, live: bool = True) -> tuple[str, str | None]:
    """(status, reason) of a source in `state` (SourceHealth.state). A live source that stalls is being reopened
    (`reconnecting`); a file or named pipe that stalls is not, and says `stalled` until its frames resume."""
    if state == "streaming":
        return ONLINE, None
    if state == "stalled" and not live:
        return STALLED, (f"no frame for more than {stall_timeout_s:g} s (not a live camera: not reopened; online "
                         "again when frames come)")
    if state == "stalled":
        return RECONNECTING, f"no frame for more than {stall_timeout_s:g} s"
    if state in ("starting", "reconnecting"):
        return RECONNECTING, redact(last_error or "opening")
    if state == "eos":
        return OFFLINE, "end of stream"
    if state == "closed":
        return OFFLINE, "closed"
    return OFFLINE, redact(last_error or "failed")


@dataclass(frozen=True)
class CameraStatus:
    """One camera's published status. `since`: wall clock (Unix seconds) of the change to this state."""

    camera: str
    state: str
    reason: str | None
    since: float

    def as_dict(self) -> dict[str, Any]:
        return {"camera": self.camera, "state": self.state, "reason": self.reason, "since": round(self.since, 3)}


class StatusBoard:
    """The last published status of each camera; `changes` returns those that differ now. One thread."""

    def __init__(self) -> None:
        self._last: dict[str, CameraStatus] = {}

    def changes(self, current: Iterable[tuple[str, str, str | None]], now: float | None = None) -> list[CameraStatus]:
        """From (camera, status, reason) triples, the statuses that changed since the last call."""
        wall = time.time() if now is None else now
        out = []
        for camera, state, reason in current:
            last = self._last.get(camera)
            if last is not None and (last.state, last.reason) == (state, reason):
                continue
            status = CameraStatus(camera, state, reason, wall)
            self._last[camera] = status
            out.append(status)
        return out

    def current(self) -> list[CameraStatus]:
        return list(self._last.values())

    def final(self, reason: str, now: float | None = None) -> list[CameraStatus]:
        """Every camera not already offline goes `offline` with `reason` (the service stops): the statuses to
        publish last."""
        wall = time.time() if now is None else now
        up = [cam for cam, status in self._last.items() if status.state != OFFLINE]
        return self.changes(((cam, OFFLINE, reason) for cam in up), wall)
