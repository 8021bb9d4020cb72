"""SIGTERM and SIGHUP on the running daemon (`python -m edge_sdk.cli.main run`), with a real Mosquitto broker
and a real notify socket: a graceful drain, and a reload that swaps the engine without dropping the MQTT
session, or says clearly what needs a restart."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.daemon.conftest import start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.pipeline.conftest import write_video
from tests.support.broker import MosquittoBroker
from tests.support.onnx_models import constant_output_model


def _model(path: Path, score: float, cls: int, names: dict[int, str] | None = None) -> Path:
    out = np.zeros((1, 6, 84), np.float32)  # 84 anchors: a 64x64 input at strides 8, 16, 32
    out[0, :4, :] = 1
    out[0, :, 0] = [32, 32, 16, 8, 0.0, 0.0]
    out[0, 4 + cls, 0] = score
    return constant_output_model(path, out, names=names or {0: "person", 1: "car"})


def _config(tmp_path: Path, model: Path, *, port: int | None, conf: float = 0.25, queue_size: int = 2) -> Path:
    video = tmp_path / "clip.avi"
    if not video.exists():
        write_video(video, 30)
    mqtt = (f"mqtt:\n  host: 127.0.0.1\n  port: {port}\n  stats_interval_s: 1.0\n" if port is not None
            else "mqtt:\n  enabled: false\n")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"""device: cpu
device_id: sig1
state_dir: {tmp_path / 'state'}
model:
  path: {model}
decode:
  conf_thres: {conf}
sources:
  - name: cam0
    uri: file://{video}?loop=1&realtime=1&fps=20
pipeline:
  queue_size: {queue_size}
{mqtt}daemon:
  drain_timeout_s: 5
""")
    return cfg


class Collector:
    """A real MQTT subscriber on edge/sig1/#."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[float, str, bytes]] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-collector")
        self.client.on_connect = lambda c, *_: (c.subscribe("edge/sig1/#", qos=1), ready.set())
        self.client.on_message = lambda _c, _u, m: self._add(m.topic, m.payload)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert ready.wait(10)
        time.sleep(0.3)

    def _add(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), topic, payload))

    def on(self, suffix: str, since: float = 0.0) -> list[bytes]:
        with self.lock:
            return [p for t, topic, p in self.messages if topic.endswith(suffix) and t >= since]

    def detections(self, since: float = 0.0) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.on("/detections", since)]

    def wait(self, suffix: str, timeout: float, since: float = 0.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.on(suffix, since)
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError(f"nothing on *{suffix} within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _needs_publisher() -> None:
    try:
        from edge_sdk.publish import open_publisher  # noqa: F401
    except ImportError:
        pytest.skip("the MQTT publisher (edge_sdk.publish.open_publisher) is not in this build yet")


@pytest.mark.broker
def test_sighup_swaps_the_engine_keeping_the_mqtt_session(tmp_path: Path, broker: MosquittoBroker) -> None:
    _needs_publisher()
    model_a = _model(tmp_path / "a.onnx", 0.9, 1)
    model_b = _model(tmp_path / "b.onnx", 0.8, 0, names={0: "parcel", 1: "car"})  # other class names
    sha_a, sha_b = (hashlib.sha256(m.read_bytes()).hexdigest() for m in (model_a, model_b))
    cfg = _config(tmp_path, model_a, port=broker.port)
    sub = Collector(broker.port)
    with NotifySocket(tmp_path / "notify.sock") as ns:
        proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value})
        try:
            ns.wait_for("READY", 60)
            sub.wait("/detections", 20)
            assert sub.on("/sig1/status") == [b"online"]
            assert {d["model"]["sha256"] for d in sub.detections()} == {sha_a}
            assert {d["model"]["name"] for d in sub.detections()} == {"a"}
            assert {det["label"] for d in sub.detections() for det in d["detections"]} == {"car"}

            _config(tmp_path, model_b, port=broker.port, queue_size=3)  # new model; a pipeline change too
            t_hup = time.monotonic()
            proc.send_signal(signal.SIGHUP)
            ns.wait_for("RELOADING", 20, since=t_hup)
            reloaded = next(m for m in _wait_ready_after(ns, t_hup) if "reload" in m["STATUS"])
            assert "applied: model" in reloaded["STATUS"]
            assert "needs a restart" in reloaded["STATUS"] and "pipeline" in reloaded["STATUS"]
            t_after = time.monotonic()
            deadline = t_after + 20
            while time.monotonic() < deadline and not sub.detections(t_after):
                time.sleep(0.05)
            after = sub.detections(t_after)
            assert after and {d["model"]["sha256"] for d in after} == {sha_b}, "messages must come from the new engine"
            assert {det["label"] for d in after for det in d["detections"]} == {"parcel"}, "the new model's labels"
            assert {d["model"]["name"] for d in after} == {"b"}, "the new model's name (model.path's stem)"
            for d in sub.detections():  # in flight during the swap or not: each message names its own model
                labels = {det["label"] for det in d["detections"]}
                assert labels <= ({"car"} if d["model"]["sha256"] == sha_a else {"parcel"})
                assert d["model"]["name"] == ("a" if d["model"]["sha256"] == sha_a else "b")
            assert sub.on("/sig1/status") == [b"online"], "the MQTT session must survive the reload (no offline/online)"
            assert proc.poll() is None
        finally:
            rc, _out, err = stop_daemon(proc)
            sub.close()
    assert rc == 0, err
    assert "needs a restart" in err and "engine swapped" in err
    sub2 = Collector(broker.port)
    try:
        assert sub2.wait("/sig1/status", 10)[-1] == b"offline", "a clean stop publishes offline (retained)"
    finally:
        sub2.close()


def _wait_ready_after(ns: NotifySocket, since: float, timeout: float = 30) -> list[dict[str, str]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in ns.with_key("READY", since) if "reload" in m.get("STATUS", "")]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no READY=1 after the reload")


@pytest.mark.broker
def test_sigterm_drains_publishes_offline_and_exits_0(tmp_path: Path, broker: MosquittoBroker) -> None:
    _needs_publisher()
    cfg = _config(tmp_path, _model(tmp_path / "a.onnx", 0.9, 1), port=broker.port)
    sub = Collector(broker.port)
    with NotifySocket(tmp_path / "notify.sock") as ns:
        proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value, "JOURNAL_STREAM": "8:1234"}, "--json")
        try:
            ns.wait_for("READY", 60)
            sub.wait("/detections", 20)
        finally:
            rc, out, err = stop_daemon(proc)
    try:
        assert rc == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["stopped_by"] == "SIGTERM" and summary["frames"] > 0
        assert "STOPPING" in ns.messages[-1][1] or ns.with_key("STOPPING")
        assert sub.wait("/sig1/status", 10)[-1] == b"offline"
        published = len(sub.detections())
        assert published == summary["frames"], "every frame taken in was published before exit (drain)"
        # Under systemd (JOURNAL_STREAM): syslog priority prefixes, no timestamps (journald adds its own).
        log_lines = [line for line in err.splitlines() if line.strip()]
        assert log_lines and all(line.startswith("<") for line in log_lines), log_lines[:5]
        assert not any(line[3:5].isdigit() and line[5] == ":" for line in log_lines)
    finally:
        sub.close()


def test_sighup_with_a_broken_config_keeps_running(tmp_path: Path) -> None:
    model = _model(tmp_path / "a.onnx", 0.9, 1)
    cfg = _config(tmp_path, model, port=None)
    with NotifySocket(tmp_path / "notify.sock") as ns:
        proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value}, "--json")
        try:
            ns.wait_for("READY", 60)
            cfg.write_text(cfg.read_text().replace("conf_thres: 0.25", "conf_thres: 7"))
            t_hup = time.monotonic()
            proc.send_signal(signal.SIGHUP)
            msg = _wait_ready_after(ns, t_hup)[0]
            assert "reload failed" in msg["STATUS"] and "conf_thres" in msg["STATUS"]
            time.sleep(0.5)
            assert proc.poll() is None, "a bad config on reload must not stop the service"
            cfg.write_text(cfg.read_text().replace("conf_thres: 7", "conf_thres: 0.95"))  # above the 0.9 score
            t_hup2 = time.monotonic()
            proc.send_signal(signal.SIGHUP)
            msg = _wait_ready_after(ns, t_hup2)[0]
            assert "applied: decode" in msg["STATUS"]
            frames_at_reload = int(msg["STATUS"].split(" frames")[0].rsplit(" ", 1)[-1])
            time.sleep(1.0)
        finally:
            rc, out, err = stop_daemon(proc)
    assert rc == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["frames"] > frames_at_reload + 5
    # With conf 0.95 no detection passes: detections stopped growing at the reload (give or take frames in flight).
    assert summary["detections"] <= frames_at_reload + 4
    assert summary["detections"] < summary["frames"] - 5
