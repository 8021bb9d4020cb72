"""`edge-sdk fleet status`: the fleet as its devices report it, read from the (central) broker's retained messages.

Per device (`<site>/<device>/...`, or `<prefix>/<device>/...` on a broker without a bridge):
`model/reported` (the rollout agent: version, precision, state), `stats` (the daemon: fps, cameras, time),
`status` (online/offline, the daemon's Last Will), `bridge` (1/0: the device's bridge link, its Last Will).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from edge_sdk.publish.settings import BrokerSettings


@dataclass
class DeviceRow:
    site: str
    device: str
    version: str | None = None
    precision: str | None = None
    rollout: str | None = None  # active / applying / rolled_back
    reason: str | None = None
    fps: float | None = None
    cameras_online: int | None = None
    cameras: int | None = None
    status: str | None = None  # online / offline
    bridge: str | None = None  # up / down
    last_seen: float | None = None  # wall clock of the newest stats or report
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "raw"}
        d["last_seen_age_s"] = round(time.time() - self.last_seen, 1) if self.last_seen else None
        return d


def _apply(row: DeviceRow, kind: str, payload: bytes) -> None:
    text = payload.decode("utf-8", "replace").strip()
    if kind == "status":
        row.status = text or None
        return
    if kind == "bridge":
        row.bridge = {"1": "up", "0": "down"}.get(text, text or None)
        return
    try:
        msg = json.loads(text)
    except ValueError:
        return
    if not isinstance(msg, dict):
        return
    row.raw[kind] = msg
    t = msg.get("time")
    if isinstance(t, (int, float)):
        row.last_seen = max(row.last_seen or 0.0, float(t))
    if kind == "reported":
        running = msg.get("running") or {}
        row.version, row.precision = running.get("version"), running.get("precision")
        row.rollout, row.reason = msg.get("state"), msg.get("reason")
    elif kind == "stats":
        total = (msg.get("stages") or {}).get("total") or {}
        row.fps = total.get("fps")
        sources = msg.get("sources") or []
        row.cameras = len(sources)
        row.cameras_online = sum(1 for s in sources if s.get("state") == "streaming")


def collect(broker: BrokerSettings, site: str = "+", *, wait_s: float = 3.0, quiet_s: float = 0.5) -> list[DeviceRow]:
    """Subscribe to the retained state topics and return one row per device (sorted by site, device)."""
    from edge_sdk.publish.connection import connect_args, explain_exception, make_client

    suffixes = {"model/reported": "reported", "stats": "stats", "status": "status", "bridge": "bridge"}
    rows: dict[tuple[str, str], DeviceRow] = {}
    lock = threading.Lock()
    last = [time.monotonic()]
    subscribed = threading.Event()
    client = make_client(broker, f"edge-sdk-fleet-status-{time.time_ns()}", persistent=False)
    client.on_connect = lambda c, *_a: c.subscribe([(f"{site}/+/{s}", 1) for s in suffixes])
    client.on_subscribe = lambda *_a: subscribed.set()

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        parts = msg.topic.split("/", 2)
        if len(parts) != 3 or parts[2] not in suffixes:
            return
        with lock:
            row = rows.setdefault((parts[0], parts[1]), DeviceRow(parts[0], parts[1]))
            _apply(row, suffixes[parts[2]], bytes(msg.payload))
            last[0] = time.monotonic()

    client.on_message = on_message
    try:
        client.connect(**connect_args(broker, persistent=False))
    except Exception as exc:
        raise explain_exception(exc, broker).error(broker) from exc
    client.loop_start()
    try:
        deadline = time.monotonic() + wait_s
        if not subscribed.wait(max(0.1, wait_s)):
            from edge_sdk.errors import PublishError

            raise PublishError("the broker did not answer the subscription", where=broker.url)
        last[0] = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last[0] < quiet_s:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    with lock:
        return [rows[k] for k in sorted(rows)]


def _age(t: float | None) -> str:
    if not t:
        return "-"
    age = max(0.0, time.time() - t)
    return f"{age:.0f} s ago" if age < 120 else f"{age / 60:.0f} min ago" if age < 7200 else f"{age / 3600:.0f} h ago"


def table(rows: list[DeviceRow]) -> str:
    head = ("SITE", "DEVICE", "MODEL", "PRECISION", "ROLLOUT", "FPS", "CAMERAS", "STATUS", "BRIDGE", "LAST SEEN")
    lines = [head]
    for r in rows:
        rollout = r.rollout or "-"
        if r.rollout == "rolled_back" and r.reason:
            rollout += f" ({r.reason[:60]})"
        cams = f"{r.cameras_online}/{r.cameras}" if r.cameras is not None else "-"
        lines.append((r.site, r.device, r.version or "-", r.precision or "-", rollout,
                      f"{r.fps:.1f}" if isinstance(r.fps, (int, float)) else "-", cams, r.status or "-",
                      r.bridge or "-", _age(r.last_seen)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)
