#!/usr/bin/env python3
"""Line-crossing totals per hour, per camera, line, class and direction, kept in CSV files and republished on
MQTT: an app to copy. It reads the daemon's `cross` events (an `events:` section with `lines:` per camera).

    python apps/line_counter.py --config /etc/edge-sdk/app.yaml --out /var/lib/line-counter
    python apps/line_counter.py --broker 10.0.0.5:1883 --camera cam0 --line gate --out counts/ --client-id gate-1

CSV, one file per local day, `<out>/line-counts-<YYYY-MM-DD>.csv`, one row per hour, device, camera, line and
class (the hour of the crossing's capture time, local, with its UTC offset: the hour repeated when the
clocks go back is two rows):

    hour,device,camera,line,label,in,out
    2026-12-07T14:00:00+01:00,box-1,cam0,gate,person,12,9

MQTT, QoS 1, on `<prefix>/<device>/<camera>/lines/<line>/hourly` after every change; retained when the hour
is the line's latest (a late crossing corrects an earlier hour in a message that is not retained):

    {"schema_version": 1, "type": "line_hourly", "device_id": "box-1", "camera": "cam0", "line": "gate",
     "hour": "2026-12-07T14:00:00+01:00", "hour_start": 1765112400.0, "in": {"person": 12}, "out": {"person": 9},
     "in_total": 12, "out_total": 9}

Restarts and crashes count every crossing once:
- The totals of the last `--keep-days` days and the crossings counted in them ((device, camera, seq) with its
  message id) are in `<out>/line-counter-state.json`, written atomically (edge_sdk/atomic.py) before the CSV
  files, which are rewritten from it (atomically too, and at every start: a crash between the two writes is
  repaired). Files of older days are final; a crossing older than that is not counted (logged).
- The subscription is a persistent session (`--client-id`, kept `--session-expiry` seconds by the broker)
  with manual acknowledgement: a crossing is acknowledged to the broker only after the state that counts it
  is on disk. After a crash the broker sends the unacknowledged ones again, and a daemon that lost the
  broker's acknowledgement sends one again from its spool: the state knows which were counted already.
- While this app is away the broker keeps the camera's events for it, every kind (they share one topic), up
  to its queue limit: Mosquitto's `max_queued_messages` is 1000 by default; raise it (e.g. 100000) where the
  app may be down for long. One client id, one running copy.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps import common
from apps.common import Republisher, add_broker_args, broker_from_args
from edge_sdk.atomic import remove_stale_temps, write_json_atomic, write_text_atomic
from edge_sdk.events.subscriber import EventMessage, EventSubscriber
from edge_sdk.publish.tracking import Verdict

log = logging.getLogger("line_counter")

Key = tuple[str, str, str, str]  # hour, device, camera, line
STATE = "line-counter-state.json"
CSV_HEADER = ["hour", "device", "camera", "line", "label", "in", "out"]


def hour_of(t: float) -> str:
    """The local hour that holds Unix time `t`, as ISO 8601 with its UTC offset."""
    return datetime.fromtimestamp(t).astimezone().replace(minute=0, second=0, microsecond=0).isoformat()


class LineCounter:
    """Hourly totals and the crossings counted, for the last `keep_days` local days (today included)."""

    def __init__(self, keep_days: int) -> None:
        if keep_days < 1:
            raise ValueError("keep_days must be at least 1")
        self.keep_days = keep_days
        self.hours: dict[Key, dict[str, Counter[str]]] = {}
        self.counted: dict[str, dict[int, tuple[str, float]]] = {}  # device/camera -> seq -> (message id, time)
        self.too_old = 0

    def first_day(self, now: float) -> str:
        return (date.fromtimestamp(now) - timedelta(days=self.keep_days - 1)).isoformat()

    def add(self, ev: EventMessage, now: float) -> Key | None:
        """Count a `cross` event; None when it was counted before or is too old."""
        seen = self.counted.setdefault(f"{ev.device_id}/{ev.camera}", {})
        if ev.verdict is Verdict.DUPLICATE or seen.get(ev.seq, ("",))[0] == ev.message_id:
            return None
        hour = hour_of(ev.time)
        if hour[:10] < self.first_day(now):
            self.too_old += 1
            log.warning("a crossing of %s (%s %s) is older than --keep-days %d: not counted (%d so far)", hour,
                        ev.camera, ev.line, self.keep_days, self.too_old)
            return None
        key = (hour, ev.device_id, ev.camera, str(ev.line))
        self.hours.setdefault(key, {"in": Counter(), "out": Counter()})[str(ev.direction)][ev.label] += 1
        seen[ev.seq] = (ev.message_id, ev.time)
        return key

    def prune(self, now: float) -> None:
        first = self.first_day(now)
        self.hours = {k: v for k, v in self.hours.items() if k[0][:10] >= first}
        for stream, seen in self.counted.items():
            self.counted[stream] = {s: v for s, v in seen.items() if date.fromtimestamp(v[1]).isoformat() >= first}

    def days(self) -> set[str]:
        return {k[0][:10] for k in self.hours}

    def csv_text(self, day: str) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_HEADER)
        for key in sorted(k for k in self.hours if k[0][:10] == day):
            tally = self.hours[key]
            for label in sorted(set(tally["in"]) | set(tally["out"])):
                w.writerow([*key, label, tally["in"][label], tally["out"][label]])
        return buf.getvalue()

    def message(self, key: Key) -> dict[str, Any]:
        hour, device, camera, line = key
        tally = self.hours[key]
        return {"schema_version": 1, "type": "line_hourly", "device_id": device, "camera": camera, "line": line,
                "hour": hour, "hour_start": datetime.fromisoformat(hour).timestamp(),
                "in": dict(sorted(tally["in"].items())), "out": dict(sorted(tally["out"].items())),
                "in_total": sum(tally["in"].values()), "out_total": sum(tally["out"].values())}

    def latest(self, key: Key) -> bool:
        """Whether `key`'s hour is the newest this line has."""
        return all(k[1:] != key[1:] or k[0] <= key[0] for k in self.hours)

    # -- the state file ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"schema_version": 1, "too_old": self.too_old,
                "hours": [{"hour": k[0], "device": k[1], "camera": k[2], "line": k[3], "in": dict(v["in"]),
                           "out": dict(v["out"])} for k, v in sorted(self.hours.items())],
                "counted": {s: {str(q): list(v) for q, v in seen.items()} for s, seen in self.counted.items()}}

    def load(self, data: dict[str, Any]) -> None:
        self.too_old = int(data.get("too_old", 0))
        for h in data["hours"]:
            self.hours[(h["hour"], h["device"], h["camera"], h["line"])] = {"in": Counter(h["in"]), "out": Counter(h["out"])}
        for stream, seen in data["counted"].items():
            self.counted[stream] = {int(q): (str(v[0]), float(v[1])) for q, v in seen.items()}

    def load_csv(self, text: str) -> None:
        """Totals from a CSV this app wrote (a state file that was deleted): no counted crossings come with them."""
        for row in csv.DictReader(io.StringIO(text)):
            tally = self.hours.setdefault((row["hour"], row["device"], row["camera"], row["line"]),
                                          {"in": Counter(), "out": Counter()})
            tally["in"][row["label"]] += int(row["in"])
            tally["out"][row["label"]] += int(row["out"])


class Store:
    """`<out>/line-counter-state.json` (the truth) and the CSV files made from it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = folder / STATE

    def csv_path(self, day: str) -> Path:
        return self.folder / f"line-counts-{day}.csv"

    def open(self, counter: LineCounter, now: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(self.folder)
        if self.state.exists():
            try:
                counter.load(json.loads(self.state.read_text()))
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise ValueError(f"{self.state}: not a state file of this app ({exc}); move it away to start "
                                 "again from the CSV files") from None
        else:
            first = counter.first_day(now)
            for path in sorted(self.folder.glob("line-counts-*.csv")):
                if path.stem.removeprefix("line-counts-") >= first:
                    counter.load_csv(path.read_text())
                    log.warning("no %s: totals taken from %s; a crossing sent again may be counted twice",
                                STATE, path.name)
        counter.prune(now)
        self.save(counter, counter.days())

    def save(self, counter: LineCounter, days: set[str]) -> None:
        write_json_atomic(self.state, counter.to_json(), indent=None, sort_keys=True)
        for day in sorted(days):
            write_text_atomic(self.csv_path(day), counter.csv_text(day))


def take(sub: EventSubscriber, limit: int = 100) -> list[EventMessage]:
    """The events waiting (the first waited for up to half a second), at most `limit`."""
    batch: list[EventMessage] = []
    ev = sub.get(timeout=0.5)
    while ev is not None:
        batch.append(ev)
        ev = sub.get(timeout=0.05) if len(batch) < limit else None
    return batch


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    add_broker_args(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder of the CSV files and the state")
    p.add_argument("--device", action="append", help="only this device (repeatable)")
    p.add_argument("--camera", action="append", help="only this camera (repeatable)")
    p.add_argument("--line", action="append", help="only this line (repeatable)")
    p.add_argument("--keep-days", type=int, default=3, help="days whose totals may still change (default 3)")
    p.add_argument("--client-id", default="line-counter", help="persistent session name (default line-counter)")
    p.add_argument("--session-expiry", type=int, default=86400, metavar="S",
                   help="seconds the broker keeps the session while this app is away (MQTT 5; default 86400)")
    return p.parse_args(argv)


def run(args: argparse.Namespace, stop: threading.Event) -> int:
    broker, prefix = broker_from_args(args)
    broker = replace(broker, session_expiry_s=args.session_expiry)
    counter, store = LineCounter(args.keep_days), Store(args.out)
    store.open(counter, time.time())
    lines = set(args.line) if args.line else None
    with Republisher(broker, args.client_id) as out, \
            EventSubscriber(broker, topic_prefix=prefix, devices=args.device, cameras=args.camera, events=["cross"],
                            client_id=args.client_id, persistent=True, manual_ack=True) as sub:

        def publish(keys: set[Key]) -> None:
            for key in sorted(keys):
                out.publish(f"{prefix}/{key[1]}/{key[2]}/lines/{key[3]}/hourly", counter.message(key),
                            retain=counter.latest(key))

        publish({k for k in counter.hours if counter.latest(k)})
        print(f"line_counter: counting {', '.join(sub.topics)} into {args.out}/", file=sys.stderr, flush=True)
        while not stop.is_set():
            batch = [ev for ev in take(sub) if lines is None or ev.line in lines]
            now = time.time()
            counted = [(k, ev) for ev in batch if (k := counter.add(ev, now)) is not None]
            changed = {k for k, _ in counted}
            if changed:
                counter.prune(now)
                store.save(counter, {k[0][:10] for k in changed})
                log.info("counted: %s", ", ".join(f"{ev.camera} {ev.line} {k[0][11:16]} {ev.label} {ev.direction}"
                                                  for k, ev in counted))
            sub.ack()  # after the state is on disk (or nothing was counted)
            publish(changed)
    return 0


def main(argv: list[str] | None = None) -> int:
    return common.main("line_counter", run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
