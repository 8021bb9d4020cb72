from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]


def retained(port: int, topic: str, timeout: float = 3.0) -> bytes | None:
    """The retained message on `topic` (None if there is none)."""
    got: list[bytes] = []
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"retained-{time.time_ns()}")

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        done.set()

    c.on_message = on_message
    c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(timeout)
    c.disconnect()
    c.loop_stop()
    return got[-1] if got else None


class TopicCollector:
    """A raw paho subscriber that keeps every message on a topic filter (for stats/status topics)."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"collector-{time.time_ns()}")
        self.client.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._ready.wait(5):
            raise RuntimeError("collector could not subscribe")

    def json(self) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(p) for _t, p in self.messages if p.startswith(b"{")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture()
def collector_factory() -> Iterator[type[TopicCollector]]:
    made: list[TopicCollector] = []

    class Tracked(TopicCollector):
        def __init__(self, port: int, topic: str) -> None:
            super().__init__(port, topic)
            made.append(self)

    yield Tracked
    for c in made:
        c.close()


class PublisherProcess:
    """tests/publish/publisher_proc.py in a subprocess; `published` lists (camera, frame_id) it reported."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.publish.publisher_proc", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.published: list[tuple[str, int]] = []
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())
            parts = line.split()
            if len(parts) == 3 and parts[0] == "published":
                self.published.append((parts[1], int(parts[2])))

    def wait_for(self, predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        return bool(predicate(self))

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr and self.proc.poll() is not None else ""


@pytest.fixture()
def publisher_process() -> Iterator[type[PublisherProcess]]:
    made: list[PublisherProcess] = []

    class Tracked(PublisherProcess):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            made.append(self)

    yield Tracked
    for p in made:
        if p.proc.poll() is None:
            p.kill()
