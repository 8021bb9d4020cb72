"""What anyone who can publish to the broker can send, against the real `DetectionSubscriber` and the real
`edge-sdk subscribe` on a real Mosquitto: every bad message is counted and logged once per source, never
fatal (also when a persistent session redelivers it), and one spoofed number cannot silence a camera."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_sdk.publish.guard import InvalidMessage, load_json
from edge_sdk.publish.message import ModelRef, detections_message, encode
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionMessage, DetectionSubscriber
from tests.publish.helpers import ENGINE, frame_result
from tests.publish.test_cli_subscribe import _finish, _start
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker
TOPIC = "edge/dev1/cam0/detections"
MODEL = ModelRef("m", ENGINE.model_sha256, "fp32", "onnxruntime")


def real(seq: int, camera: str = "cam0") -> bytes:
    return encode(detections_message(frame_result(camera, seq), device_id="dev1", seq=seq, model=MODEL, label=str))


def poisons() -> list[tuple[str, bytes]]:
    good = json.loads(real(1))

    def variant(**fields: object) -> bytes:
        return json.dumps({**good, **fields}).encode()

    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        ("seq Infinity", real(1).replace(b'"seq":1', b'"seq":Infinity')),
        ("schema_version 1e400", real(1).replace(b'"schema_version":1', b'"schema_version":1e400')),
        ("seq NaN", real(1).replace(b'"seq":1', b'"seq":NaN')),
        ("deep list", deep),
        ("deep object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("nested in a field", variant(model=json.loads(b'{"a":' * 40 + b"1" + b"}" * 40))),
        ("not JSON", b"\xff\xfe garbage"),
        ("a JSON list", b"[1, 2, 3]"),
        ("null", b"null"),
        ("seq as text", variant(seq="5")),
        ("seq negative", variant(seq=-3)),
        ("seq true", variant(seq=True)),
        ("seq of 5000 digits", real(1).replace(b'"seq":1', b'"seq":' + b"9" * 5000)),
        ("seq 2**70", variant(seq=2**70)),
        ("score a string", variant(detections=[{**good["detections"][0], "score": "high"}])),
        ("box of 3", variant(detections=[{**good["detections"][0], "box": [1, 2, 3]}])),
        ("detections a dict", variant(detections={"a": 1})),
        ("another camera than the topic", variant(camera="cam9")),
        ("a camera name with a slash", variant(camera="../x")),
        ("2 MB", variant(pad="x" * (2 << 20))),
        ("no message_id", variant(message_id=None)),
    ]


def test_every_poison_is_an_invalid_message_not_a_crash() -> None:
    for name, payload in poisons():
        with pytest.raises(InvalidMessage):
            m = DetectionMessage.parse(TOPIC, payload)
            from edge_sdk.publish.guard import check_envelope

            check_envelope(TOPIC, m)
            pytest.fail(f"{name}: accepted")
    assert load_json(real(1))["seq"] == 1


class Raw:
    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{time.time_ns()}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, payload: bytes, topic: str = TOPIC) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def collect(sub: DetectionSubscriber, n: int, timeout: float = 20.0) -> list[DetectionMessage]:
    got: list[DetectionMessage] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        m = sub.get(timeout=0.2)
        if m is not None:
            got.append(m)
    return got


def test_the_subscriber_survives_poison_and_spoofed_numbers(broker: MosquittoBroker,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    bad = poisons()
    raw = Raw(broker.port)
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="guarded", persistent=True).open()
    try:
        with caplog.at_level(logging.WARNING, logger="edge_sdk.publish.guard"):
            for seq in range(1, 11):
                raw.send(real(seq))
                raw.send(bad[seq % len(bad)][1])
            for _name, payload in bad:
                raw.send(payload)
            raw.send(b"{}", "edge/dev1/cam1/detections")  # a second source
            raw.send(real(9_000_000_000_000_000))  # a well-formed spoof far ahead of the real stream
            for seq in range(11, 21):
                raw.send(real(seq))
            got = collect(sub, 21)
            assert sub.connected and sub.invalid == 10 + len(bad) + 1
        warnings = [r.getMessage() for r in caplog.records if "ignoring an invalid message" in r.getMessage()]
        sub.close()  # away: the broker keeps what arrives for the persistent session
        raw.send(bad[0][1])  # redelivered at every start of the session until it is taken
        raw.send(real(21))
        sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="guarded", persistent=True).open()
        after = collect(sub, 1)
        assert sub.invalid == 1 and sub.connected
    finally:
        sub.close()
        raw.close()
    seqs = [m.seq for m in got]
    assert [s for s in seqs if s < 1000] == list(range(1, 21)), "every real message arrives, in order"
    assert 9_000_000_000_000_000 in seqs and all(m.verdict.value == "new" for m in got)
    assert [m.seq for m in after] == [21]
    assert len(warnings) == 2, warnings  # once per source
    assert TOPIC in warnings[0] and "edge/dev1/cam1/detections" in warnings[1]


def test_edge_sdk_subscribe_keeps_receiving_after_poison(broker: MosquittoBroker) -> None:
    proc = _start("--broker", f"127.0.0.1:{broker.port}", "--json", "--count", "3", "--timeout", "30")
    raw = Raw(broker.port)
    try:
        for seq, (_name, payload) in zip(range(1, 4), poisons()[:3]):
            raw.send(payload)  # Infinity, 1e400, NaN: each killed the network thread before
            raw.send(real(seq))
    finally:
        raw.close()
    rc, out, err = _finish(proc)
    assert rc == 0, err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3]
    assert "3 invalid message(s) ignored" in err


def test_the_queue_is_bounded_and_nothing_is_lost_behind_it(broker: MosquittoBroker, tmp_path: Path) -> None:
    raw = Raw(broker.port)
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), max_queue=5).open()
    try:
        for seq in range(1, 41):
            raw.send(real(seq))
        deadline = time.monotonic() + 10
        while sub._queue.qsize() < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sub._queue.qsize() == 5  # full: the network thread waits, the broker holds the rest
        got = collect(sub, 40)
    finally:
        sub.close()
        raw.close()
    assert [m.seq for m in got] == list(range(1, 41))
