#!/usr/bin/env python3
"""Objects per class per minute, per camera, republished to MQTT: a consumer built on edge-sdk's events
(`edge_sdk.events.subscriber.EventSubscriber`; the daemon's config needs an `events:` section).

    python apps/class_counter.py --broker 127.0.0.1:1883
    python apps/class_counter.py --config /etc/edge-sdk/app.yaml --window 300 --client-id counter-1

For every camera it counts the tracked objects that appeared, per class, over windows of `--window` seconds
of *capture* time (aligned to the epoch, so 60 means calendar minutes), and publishes one message per closed
window on `<prefix>/<device>/<camera>/counts` (QoS 1):

    {"schema_version": 2, "type": "class_counts", "device_id": "box-1", "camera": "cam0",
     "window_start": 1764000000.0, "window_s": 60, "counts": {"person": 12, "car": 3}, "events": 140,
     "first_seq": 5401, "last_seq": 5540, "missing": 0, "late": 0, "partial": false}

An object counts once, in the window where its track was confirmed (its `new` event), however long it stays:
a car parked for an hour is one car, not one per frame. `events` are the camera's event messages in the
window (every kind; `first_seq`..`last_seq` their numbers); `missing` counts numbers in that range that never
arrived (events lost upstream, so objects possibly not counted). Events other than `new` carry when an object
was last seen, which may lie in a window already published: they go to the window open now, so only a `new`
event can be `late`.

A window closes when an event of a later window arrives for that camera, when the wall clock is `--grace`
seconds past its end, or at exit (then `partial` is true). `late` counts `new` events that arrived, since the
camera's previous counts message, for a window already published (they are not counted). Duplicates (QoS 1
redeliveries) are dropped by the subscriber, so counts are exact. With `--client-id` the subscription is a
persistent session: counts continue across a restart of this app without losing the events sent meanwhile.

schema_version 2: version 1 counted detections per frame (a `frames` field instead of `events`).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps import common
from apps.common import Republisher, add_broker_args, broker_from_args
from edge_sdk.events.subscriber import EventMessage, EventSubscriber

log = logging.getLogger("class_counter")


@dataclass
class Window:
    start: float
    counts: Counter[str] = field(default_factory=Counter)
    seqs: set[int] = field(default_factory=set)


class ClassCounter:
    """Counts per (device, camera, window). Feed events with `add`; collect closed windows as dicts."""

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

    def add(self, ev: EventMessage) -> list[dict[str, Any]]:
        key = (ev.device_id, ev.camera)
        start = self.window_of(ev.time)
        current = self.open.get(key)
        closed_until = self.closed_until.get(key, -math.inf)
        if ev.event != "new":  # when the object was last seen: never a window already published
            start = max(start, closed_until, current.start if current is not None else -math.inf)
        elif start < closed_until:
            self.late[key] += 1
            return []
        out = []
        if current is not None and start > current.start:
            out.append(self._close(key, partial=False))
            current = None
        if current is None:
            current = self.open[key] = Window(start)
        current.seqs.add(ev.seq)
        if ev.event == "new":
            current.counts[ev.label] += 1
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
        return {"schema_version": 2, "type": "class_counts", "device_id": key[0], "camera": key[1],
                "window_start": w.start, "window_s": self.window_s, "counts": dict(sorted(w.counts.items())),
                "events": len(w.seqs), "first_seq": first, "last_seq": last,
                "missing": (last - first + 1) - len(w.seqs), "late": self.late.pop(key, 0), "partial": partial}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:3]))
    add_broker_args(p)
    p.add_argument("--device", action="append", help="only this device (repeatable)")
    p.add_argument("--camera", action="append", help="only this camera (repeatable)")
    p.add_argument("--window", type=float, default=60.0, help="window length in seconds (default 60)")
    p.add_argument("--grace", type=float, default=5.0, help="close a window this long after its end (default 5)")
    p.add_argument("--client-id", help="persistent session under this client id")
    return p.parse_args(argv)


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    broker, prefix = broker_from_args(args)
    counter = ClassCounter(args.window, args.grace)
    with Republisher(broker, args.client_id or "class-counter") as out:

        def publish(windows: list[dict[str, Any]]) -> None:
            for w in windows:
                topic = f"{prefix}/{w['device_id']}/{w['camera']}/counts"
                out.publish(topic, w)
                log.info("%s %s: %d event(s), %s", topic, time.strftime("%H:%M:%S", time.localtime(w["window_start"])),
                         w["events"], w["counts"] or "nothing new")

        with EventSubscriber(broker, topic_prefix=prefix, devices=args.device, cameras=args.camera,
                             client_id=args.client_id, persistent=bool(args.client_id)) as sub:
            print(f"class_counter: counting {', '.join(sub.topics)} per {args.window:g} s", file=sys.stderr, flush=True)
            while not stop.is_set():
                ev = sub.get(timeout=0.25)
                if ev is not None:
                    publish(counter.add(ev))
                publish(counter.expire(time.time()))
            sub.close()  # nothing more comes in; what already did is counted
            while (ev := sub.get(timeout=0)) is not None:
                publish(counter.add(ev))
            publish(counter.flush())
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main("class_counter", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
