#!/usr/bin/env python3
"""Per-class detection counts per minute, per camera, republished to MQTT: a consumer built on
edge-sdk's subscriber API (`edge_sdk.publish.subscriber.DetectionSubscriber`).

    python apps/class_counter.py --broker 127.0.0.1:1883
    python apps/class_counter.py --broker 10.0.0.5 --device box-1 --window 60 --client-id counter-1

For every camera it sums detections per class over windows of `--window` seconds of *capture* time
(aligned to the epoch, so 60 means calendar minutes) and publishes one message per closed window on
`<prefix>/<device>/<camera>/counts` (QoS 1):

    {"schema_version": 1, "type": "class_counts", "device_id": "box-1", "camera": "cam0",
     "window_start": 1764000000.0, "window_s": 60, "frames": 1800, "counts": {"person": 2412, "car": 310},
     "first_seq": 5401, "last_seq": 7200, "missing": 0, "late": 0, "partial": false}

A window closes when a message of a later window arrives for that camera, when the wall clock is
`--grace` seconds past its end, or at exit (then `partial` is true). `missing` counts sequence numbers
that never arrived inside the window (detections lost upstream); `late` counts messages that arrived,
since the camera's previous counts message, for a window already published (they are not counted).
Duplicates (QoS 1 redeliveries) are dropped by the subscriber, so counts are exact. With `--client-id`
the subscription is a persistent session: counts continue across a restart of this app without losing
the messages sent meanwhile.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_sdk.errors import ConfigError, EdgeSdkError
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionMessage, DetectionSubscriber

log = logging.getLogger("class_counter")


@dataclass
class Window:
    start: float
    frames: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    seqs: set[int] = field(default_factory=set)


class ClassCounter:
    """Counts per (device, camera, window). Feed messages with `add`; collect closed windows as dicts."""

    def __init__(self, window_s: float, grace_s: float) -> None:
        if window_s <= 0 or grace_s < 0:
            raise ValueError("window_s must be > 0 and grace_s >= 0")
        self.window_s = window_s
        self.grace_s = grace_s
        self.open: dict[tuple[str, str], Window] = {}
        self.closed_until: dict[tuple[str, str], float] = {}  # end of the last published window
        self.late: Counter[tuple[str, str]] = Counter()

    def window_of(self, t: float) -> float:
        return math.floor(t / self.window_s) * self.window_s

    def add(self, msg: DetectionMessage) -> list[dict[str, Any]]:
        key = (msg.device_id, msg.camera)
        start = self.window_of(msg.capture_time)
        if start < self.closed_until.get(key, -math.inf):
            self.late[key] += 1
            return []
        out = []
        current = self.open.get(key)
        if current is not None and start > current.start:
            out.append(self._close(key, partial=False))
            current = None
        if current is None:
            current = self.open[key] = Window(start)
        current.frames += 1
        current.seqs.add(msg.seq)
        current.counts.update(d.label for d in msg.detections)
        return out

    def expire(self, now: float) -> list[dict[str, Any]]:
        """Close windows whose end is more than `grace_s` in the past."""
        due = [k for k, w in self.open.items() if now > w.start + self.window_s + self.grace_s]
        return [self._close(k, partial=False) for k in due]

    def flush(self) -> list[dict[str, Any]]:
        return [self._close(k, partial=True) for k in list(self.open)]

    def _close(self, key: tuple[str, str], *, partial: bool) -> dict[str, Any]:
        w = self.open.pop(key)
        self.closed_until[key] = w.start + self.window_s
        first, last = min(w.seqs), max(w.seqs)
        return {"schema_version": 1, "type": "class_counts", "device_id": key[0], "camera": key[1],
                "window_start": w.start, "window_s": self.window_s, "frames": w.frames,
                "counts": dict(sorted(w.counts.items())), "first_seq": first, "last_seq": last,
                "missing": (last - first + 1) - len(w.seqs), "late": self.late.pop(key, 0), "partial": partial}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST[:PORT]", help="broker (default 127.0.0.1:1883)")
    p.add_argument("--prefix", default="edge", help="topic prefix of the detections and of the counts")
    p.add_argument("--device", action="append", help="only this device (repeatable)")
    p.add_argument("--camera", action="append", help="only this camera (repeatable)")
    p.add_argument("--window", type=float, default=60.0, help="window length in seconds (default 60)")
    p.add_argument("--grace", type=float, default=5.0, help="close a window this long after its end (default 5)")
    p.add_argument("--client-id", help="persistent session under this client id")
    p.add_argument("--protocol", choices=("3.1.1", "5"), default="5")
    return p.parse_args(argv)


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    from edge_sdk.publish.connection import connect_args, make_client

    host, _, port = args.broker.rpartition(":") if ":" in args.broker else (args.broker, "", "1883")
    if not port.isdigit():
        raise ConfigError(f"--broker {args.broker!r}: the port must be a number", fix="e.g. --broker 127.0.0.1:1883")
    broker = BrokerSettings(host=host or "127.0.0.1", port=int(port), protocol=args.protocol)
    counter = ClassCounter(args.window, args.grace)
    out = make_client(broker, f"{args.client_id or 'class-counter'}-out-{time.time_ns()}", persistent=False,
                      reconnect=True)
    out.connect(**connect_args(broker, persistent=False))
    out.loop_start()

    pending: list[Any] = []  # MQTTMessageInfo of counts not yet acknowledged

    def publish(windows: list[dict[str, Any]]) -> None:
        pending[:] = [i for i in pending if not i.is_published()]
        for w in windows:
            topic = f"{args.prefix}/{w['device_id']}/{w['camera']}/counts"
            pending.append(out.publish(topic, json.dumps(w, separators=(",", ":")), qos=1))
            log.info("%s %s: %d frame(s), %s", topic, time.strftime("%H:%M:%S", time.localtime(w["window_start"])),
                     w["frames"], w["counts"] or "nothing")

    with DetectionSubscriber(broker, topic_prefix=args.prefix, devices=args.device, cameras=args.camera,
                             client_id=args.client_id, persistent=bool(args.client_id)) as sub:
        print(f"class_counter: counting {', '.join(sub.topics)} per {args.window:g} s", file=sys.stderr, flush=True)
        while not stop.is_set():
            msg = sub.get(timeout=0.25)
            if msg is not None:
                publish(counter.add(msg))
            publish(counter.expire(time.time()))
        publish(counter.flush())
    deadline = time.monotonic() + 5.0
    for info in pending:  # the last counts reach the broker before we disconnect
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:  # not connected: paho could not queue it
            log.warning("a counts message could not be sent: %s", exc)
    out.disconnect()
    out.loop_stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(args, stop)
    except EdgeSdkError as exc:
        print(f"class_counter: error: {exc.render()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
