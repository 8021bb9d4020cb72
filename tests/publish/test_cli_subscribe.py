"""`edge-sdk subscribe` as a user runs it: JSON lines, filters, the gap/duplicate summary, a persistent
session that gets what was sent while it was away, and a clear error for an unreachable broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_sdk.publish.message import ModelRef, detections_message, encode, load_schema
from tests.publish.helpers import ENGINE, frame_result, open_test_publisher, publisher_settings
from tests.support.broker import MosquittoBroker, free_port

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # sigint_ignored: started as a shell's background job is (SIGINT inherited as SIG_IGN)
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "subscribe", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "listening on ..." once subscribed
    assert "listening on" in line, line + proc.stderr.read()
    return proc


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # never leave a subscriber behind
        out, err = proc.communicate()
        raise AssertionError(f"edge-sdk subscribe did not exit within {timeout:g} s; stderr: {err[-2000:]}") from None
    return proc.returncode, out, err


def test_json_lines_filters_and_summary(broker: MosquittoBroker, tmp_path: Path) -> None:
    addr = f"127.0.0.1:{broker.port}"
    everything = _start("--broker", addr, "--json", "--count", "20", "--timeout", "20")
    only_dogs = _start("--broker", addr, "--json", "--camera", "cam1", "--class", "dog", "--timeout", "4")
    readable = _start("--broker", addr, "--camera", "cam0", "--count", "3", "--timeout", "20")
    with open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite")) as pub:
        for i in range(10):
            for cam in ("cam0", "cam1"):
                pub.publish_result(frame_result(cam, i, n_dets=2))  # classes (i % 3, (i+1) % 3)
        assert pub.flush(10)
    rc, out, err = _finish(everything)
    assert rc == 0, err
    schema = jsonschema.Draft202012Validator(load_schema("detection"))
    msgs = [json.loads(line) for line in out.splitlines()]
    assert len(msgs) == 20 and all(schema.is_valid(m) for m in msgs)
    assert "dev1/cam0: 10 received, 10 unique (seq 1..10), 0 missing, 0 duplicate(s), 0 late" in err

    rc, out, err = _finish(only_dogs)
    dogs = [json.loads(line) for line in out.splitlines()]
    expected = [i for i in range(10) if 2 in (i % 3, (i + 1) % 3)]
    assert rc == 0 and [m["frame_id"] for m in dogs] == expected
    assert all(m["camera"] == "cam1" and {d["label"] for d in m["detections"]} == {"dog"} for m in dogs)
    assert "dev1/cam1: 10 received" in err  # tracking sees every message, also those the filter hides

    rc, out, err = _finish(readable)
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 3
    assert "dev1/cam0 frame 0 seq 1: 2 detection(s): person 0.90 [10,20,110,220]; car 0.80" in lines[0]


def test_gaps_and_duplicates_are_reported(broker: MosquittoBroker) -> None:
    proc = _start("--broker", f"127.0.0.1:{broker.port}", "--json", "--timeout", "3")
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-pub")
    raw.connect("127.0.0.1", broker.port)
    raw.loop_start()
    model = ModelRef("m", ENGINE.model_sha256, "fp32", "onnxruntime")
    sent = {seq: encode(detections_message(frame_result("cam0", seq), device_id="d9", seq=seq, model=model, label=str))
            for seq in (1, 2, 3, 5, 6)}
    for seq in (1, 2, 3, 5, 3, 6):  # 4 is missing; 3 comes twice (the same message, as a QoS 1 redelivery)
        raw.publish("edge/d9/cam0/detections", sent[seq], qos=1).wait_for_publish(5)
    raw.disconnect()
    raw.loop_stop()
    rc, out, err = _finish(proc)
    assert rc == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [1, 2, 3, 5, 6]  # the duplicate is dropped
    assert "d9/cam0: 6 received, 5 unique (seq 1..6), 1 missing, 1 duplicate(s), 0 late" in err


def test_persistent_session_gets_what_was_sent_while_away(broker: MosquittoBroker, tmp_path: Path) -> None:
    args = ("--broker", f"127.0.0.1:{broker.port}", "--client-id", "viewer-1", "--qos", "1", "--json")
    first = _start(*args, "--timeout", "0.5")
    assert _finish(first)[0] == 0  # the session now exists on the broker; the subscriber is gone
    with open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite")) as pub:
        for i in range(12):
            pub.publish_result(frame_result("cam0", i))
        assert pub.flush(10)
    rc, out, err = _finish(_start(*args, "--count", "12", "--timeout", "10"))
    assert rc == 0, err
    assert [json.loads(line)["frame_id"] for line in out.splitlines()] == list(range(12))


def test_count_not_reached_and_sigint(broker: MosquittoBroker) -> None:
    rc, _out, err = _finish(_start("--broker", f"127.0.0.1:{broker.port}", "--count", "5", "--timeout", "0.5"))
    assert rc == 1 and "0 of 5 message(s) within 0.5 s" in err
    for ignored in (False, True):  # `kill -INT` works also when the parent left SIGINT ignored
        proc = _start("--broker", f"127.0.0.1:{broker.port}", sigint_ignored=ignored)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        rc, _out, err = _finish(proc)
        assert rc == 0 and "no detection messages received" in err and "Traceback" not in err


def test_unreachable_broker_is_a_clear_error() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    port = free_port()
    r = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "subscribe", "--broker", f"127.0.0.1:{port}",
                        "--timeout", "5"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 7  # ExitCode.BROKER
    assert f"mqtt://127.0.0.1:{port}: cannot connect to the MQTT broker: unreachable (connection refused" in r.stderr
    assert "fix: start the broker" in r.stderr and "Traceback" not in r.stderr
    bad = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "subscribe", "--broker", "127.0.0.1:http"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "the port must be a number" in bad.stderr
