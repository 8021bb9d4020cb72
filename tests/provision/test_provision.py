"""`edge-sdk provision --device cpu` end to end into a temporary --prefix, through the real CLI, with a
real ONNX model, a real video, and a real Mosquitto broker; then a second run that must change nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_sdk.config import AppConfig
from tests.conftest import DEMO_MODEL
from tests.pipeline.conftest import write_video
from tests.support.broker import MosquittoBroker
from tests.support.onnx_models import constant_output_model

ROOT = Path(__file__).resolve().parents[2]


def _model(tmp_path: Path, *, prefer_demo: bool = True) -> Path:
    """The bundled demo model when it is there, else a tiny constant detector (real ONNX, a toy 'detector')."""
    if prefer_demo and DEMO_MODEL.exists():
        return DEMO_MODEL
    import numpy as np

    out = np.zeros((1, 6, 84), np.float32)  # 84 anchors: a 64x64 input at strides 8, 16, 32
    out[0, :4, :] = 1
    out[0, :, 0] = [32, 32, 16, 8, 0.05, 0.9]
    return constant_output_model(tmp_path / "tiny-detector.onnx", out, names={0: "person", 1: "car"})


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    model = _model(src)
    write_video(src / "clip.avi", 40)
    cfg = src / "app.yaml"
    cfg.write_text(f"""device: cpu
device_id: prov1
model:
  path: {model}
sources:
  - name: cam0
    uri: file://clip.avi?loop=1
""")
    return cfg


def provision(*args: str) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "provision", "--device", "cpu", "--json", *args],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"no JSON report (rc {proc.returncode}): {proc.stdout}\n{proc.stderr}")
    return proc.returncode, report, proc.stderr


def _subscribe(port: int, topic: str, request: pytest.FixtureRequest,
               login: tuple[str, str] | None = None) -> list[tuple[str, bytes]]:
    """A real MQTT subscriber collecting (topic, payload) on `topic` (wildcards allowed) for the rest of the test."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[tuple[str, bytes]] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="prov-test")
    if login is not None:
        client.username_pw_set(*login)
    client.on_connect = lambda c, *_: (c.subscribe(topic, qos=1), ready.set())
    client.on_message = lambda _c, _u, m: got.append((m.topic, m.payload))
    client.connect("127.0.0.1", port)
    client.loop_start()
    request.addfinalizer(lambda: (client.disconnect(), client.loop_stop()))
    assert ready.wait(10)
    time.sleep(0.3)
    return got


def _steps(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {s["name"]: s for s in report["steps"]}


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o7777


@pytest.fixture()
def auth_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto that refuses anonymous clients: user edge, password s3cret."""
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "edge", "s3cret"], check=True, capture_output=True)
    b = MosquittoBroker(tmp_path / "auth-broker", extra_conf=f"allow_anonymous false\npassword_file {pw}").start()
    try:
        yield b
    finally:
        b.stop()


@pytest.mark.broker
def test_provision_cpu_into_prefix_then_nothing_changes(tmp_path: Path, app: Path, auth_broker: MosquittoBroker,
                                                        request: pytest.FixtureRequest) -> None:
    broker = auth_broker
    prefix = tmp_path / "root"
    url = f"mqtt://edge:s3cret@127.0.0.1:{broker.port}"
    received = _subscribe(broker.port, "edge/#", request, ("edge", "s3cret"))
    rc, report, err = provision("--config", str(app), "--broker", url, "--prefix", str(prefix))
    assert rc == 0, (report, err)
    steps = _steps(report)
    assert steps["broker"]["status"] == "ok", steps["broker"]
    assert steps["doctor"]["status"] == "ok", steps["doctor"]
    assert steps["smoke run"]["status"] == "changed" and "30 frames" in steps["smoke run"]["detail"]
    assert report["installed"]["engine"] == "onnxruntime" and report["installed"]["runs_on"] == "CPU"
    assert report["verdict"].endswith("installed: onnxruntime fp32 on CPU (cpu profile)"), report["verdict"]
    smoke = "edge/prov1/smoke/prov1/cam0/detections"
    deadline = time.monotonic() + 10
    while sum(t == smoke for t, _ in received) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(t == smoke for t, _ in received) == 30, "the smoke run publishes its 30 frames through the real broker"
    touched = sorted({t for t, _ in received if not t.startswith("edge/prov1/smoke/")})
    assert touched == [], f"the smoke run must leave the service's topics (status, stats, detections) alone: {touched}"
    for skipped in ("service user", "systemctl daemon-reload", "systemctl enable", "systemctl start", "tuning"):
        assert steps[skipped]["status"] == "skipped" and steps[skipped]["detail"], skipped

    config = prefix / "etc/edge-sdk/app.yaml"
    secret = prefix / "etc/edge-sdk/credentials/mqtt-password"
    unit = prefix / "etc/systemd/system/edge-sdk.service"
    model = next((prefix / "var/lib/edge-sdk/models").iterdir())
    assert _mode(config) == 0o640 and _mode(secret) == 0o600 and _mode(unit) == 0o644 and _mode(model) == 0o640
    assert _mode(prefix / "etc/edge-sdk/credentials") == 0o700
    assert secret.read_text() == "s3cret\n"
    assert "s3cret" not in config.read_text(), "the password must not be in the config"
    installed = AppConfig.model_validate(__import__("yaml").safe_load(config.read_text()))
    assert installed.model.path == f"/var/lib/edge-sdk/models/{model.name}"
    assert installed.sources[0].uri == "file:///var/lib/edge-sdk/media/clip.avi?loop=1"
    assert (installed.mqtt.host, installed.mqtt.port, installed.mqtt.username) == ("127.0.0.1", broker.port, "edge")
    assert installed.state_dir == "/var/lib/edge-sdk"
    assert (prefix / "var/lib/edge-sdk/media/clip.avi").read_bytes() == (app.parent / "clip.avi").read_bytes()
    unit_lines = unit.read_text().splitlines()
    assert any(line.endswith("run --config /etc/edge-sdk/app.yaml") for line in unit_lines if line.startswith("ExecStart="))
    assert "LoadCredential=mqtt-password:/etc/edge-sdk/credentials/mqtt-password" in unit_lines
    assert "MemoryDenyWriteExecute=yes" in unit_lines, "the cpu profile runs no JIT"

    mtimes = {p: p.stat().st_mtime_ns for p in prefix.rglob("*") if p.is_file()}
    rc2, again, err2 = provision("--config", str(app), "--broker", url, "--prefix", str(prefix))
    assert rc2 == 0, err2
    assert again["changed"] == [], again
    assert again["verdict"].startswith("nothing changed")
    assert _steps(again)["smoke run"]["status"] == "unchanged", "the smoke run must hit its cache"
    assert {p: p.stat().st_mtime_ns for p in prefix.rglob("*") if p.is_file()} == mtimes


def test_a_change_is_applied_and_only_that(tmp_path: Path, app: Path) -> None:
    prefix = tmp_path / "root"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    args = ("--config", str(app), "--prefix", str(prefix), "--validate-frames", "5",
            "--broker", f"127.0.0.1:{closed_port}")
    rc, first, err = provision(*args)
    assert rc == 0, err
    assert _steps(first)["broker"]["status"] == "warning", "an unreachable broker is a warning, not a failure"
    config = prefix / "etc/edge-sdk/app.yaml"
    config.chmod(0o644)  # someone loosened the mode
    app.write_text(app.read_text().replace("device_id: prov1", "device_id: prov2"))
    rc, second, err = provision(*args)
    assert rc == 0, err
    assert set(second["changed"]) == {"config", "smoke run"}, second["changed"]
    assert _mode(config) == 0o640 and "device_id: prov2" in config.read_text()


def test_dry_run_prints_every_action_and_writes_nothing(tmp_path: Path, app: Path) -> None:
    prefix = tmp_path / "root"
    rc, report, err = provision("--config", str(app), "--prefix", str(prefix), "--dry-run")
    assert rc == 0, err
    steps = _steps(report)
    for name in ("dir etc", "model", "config", "unit", "smoke run"):
        assert steps[name]["status"] == "would change", steps[name]
    assert not prefix.exists()


def test_user_errors_are_one_clear_message(tmp_path: Path, app: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "provision", "--device", "cpu", "--config",
                           str(app), "--model", str(tmp_path / "missing.onnx"), "--prefix", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode != 0
    assert "missing.onnx" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "provision", "--device", "cpu", "--config",
                           str(app), "--broker", "mqtt://host:notaport", "--prefix", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert proc.returncode != 0 and "port" in proc.stderr and "Traceback" not in proc.stderr


def test_the_smoke_run_has_its_own_client_id_spool_and_topics(tmp_path: Path, app: Path) -> None:
    """Re-provisioning a live device: the smoke run must not kick the service off the broker (same client id),
    replay into its spool, or overwrite its retained status."""
    from edge_sdk.config import load_config
    from edge_sdk.provision.steps.smoke import smoke_config
    from edge_sdk.publish.settings import PublisherSettings

    service = load_config(str(app))
    service.mqtt.client_id = "cam-7"
    smoke = PublisherSettings.from_config(smoke_config(service, tmp_path / "smoke"))
    live = PublisherSettings.from_config(service)
    assert smoke.client_id == "cam-7-smoke" != live.client_id
    assert smoke.spool_path == tmp_path / "smoke" / "smoke-spool.sqlite" != live.spool_path
    assert smoke.topic_prefix == "edge/prov1/smoke" and live.topic_prefix == "edge"
    assert service.mqtt.client_id == "cam-7", "the service's config is not changed"
