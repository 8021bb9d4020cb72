"""The local Mosquitto bridged to a central broker: real brokers, TLS and a password from credentials."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_sdk.cli.main import main
from edge_sdk.fleet.bridge import BridgeSettings, render_config, render_unit, write_runtime_config
from tests.publish.certs import make_pki
from tests.support.broker import MosquittoBroker, free_port

pytestmark = pytest.mark.broker


class Sub:
    """A QoS 1 subscriber; `persistent` keeps its session on the broker across its own and the broker's restarts."""

    def __init__(self, port: int, topic: str, client_id: str, **tls: str) -> None:
        self.got: list[tuple[str, bytes, bool]] = []
        self.ready = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if tls:
            self.c.tls_set(ca_certs=tls["ca"])
            self.c.username_pw_set(tls["user"], tls["password"])
        self.c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
        self.c.on_subscribe = lambda *_a: self.ready.set()
        self.c.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload, bool(m.retain)))
        self.c.reconnect_delay_set(1, 1)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(10)

    def wait(self, n: int, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.got) >= n

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _publish(port: int, topic: str, payloads: list[bytes], *, retain: bool = False, **tls: str) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{time.time_ns()}")
    if tls:
        c.tls_set(ca_certs=tls["ca"])
        c.username_pw_set(tls["user"], tls["password"])
    c.connect("127.0.0.1", port)
    c.loop_start()
    for p in payloads:
        c.publish(topic, p, qos=1, retain=retain).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def test_the_static_config_is_loopback_only_persistent_and_holds_no_secret(tmp_path: Path) -> None:
    s = BridgeSettings(site="plant-3", device_id="d1", central_host="fleet.example", username="d1", ca_file="/ca.pem",
                       cert_file="/etc/edge-sdk/tls/bridge.pem")
    text = render_config(s)
    assert "listener 1883 127.0.0.1\n" in text and "cleansession false\n" in text
    assert "topic # out 1 edge/d1/ plant-3/d1/\n" in text
    assert "topic model/desired in 1 edge/d1/ plant-3/d1/\n" in text
    assert "max_queued_messages 200000\n" in text and "remote_password" not in text
    assert text.rstrip().splitlines()[-1].startswith(("remote_username", "bridge_")), "the connection block is last"
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "bridge-password").write_text("s3cret\n")
    (creds / "bridge-tls-key").write_text("KEY")
    static = tmp_path / "static.conf"
    static.write_text(text)
    out = write_runtime_config(static, tmp_path / "run" / "mosquitto.conf", str(creds))
    runtime = out.read_text()
    assert runtime.endswith(f"remote_password s3cret\nbridge_keyfile {creds / 'bridge-tls-key'}\n")
    assert out.stat().st_mode & 0o777 == 0o600
    unit = render_unit(s, exec_path="/opt/edge-sdk/venv/bin/edge-sdk",
                       credentials={"bridge-password": "/etc/edge-sdk/credentials/bridge-password"})
    assert "LoadCredential=bridge-password:/etc/edge-sdk/credentials/bridge-password\n" in unit
    with pytest.raises(ValueError, match="wildcards"):
        BridgeSettings(site="a/#", device_id="d1", central_host="h")


def test_cli_prints_the_config_and_refuses_a_password_in_the_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bridge", "config", "--site", "s1", "--device", "d1", "--central", "mqtts://u@fleet.example"]) == 0
    out = capsys.readouterr().out
    assert "address fleet.example:8883\n" in out and "remote_username u\n" in out and "bridge_capath" in out
    assert main(["bridge", "config", "--site", "s1", "--device", "d1", "--central", "mqtt://u:pw@fleet.example"]) == 2
    err = capsys.readouterr().err
    assert "must not carry a password" in err and "pw" not in err.replace("password", "")


def test_detections_cross_the_bridge_over_tls_and_survive_a_central_outage_and_a_local_restart(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    pw = tmp_path / "central" / "passwd"
    pw.parent.mkdir(parents=True)
    pw.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "d1", "s3cret"], check=True, capture_output=True)
    central = MosquittoBroker(tmp_path / "central", extra_conf="\n".join([
        f"cafile {pki.ca}", f"certfile {pki.server_cert}", f"keyfile {pki.server_key}", "allow_anonymous false",
        f"password_file {pw}"])).start()
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "bridge-password").write_text("s3cret\n")
    local_port = free_port()
    settings = BridgeSettings(site="s1", device_id="d1", central_host="127.0.0.1", central_port=central.port,
                              local_port=local_port, username="d1", ca_file=str(pki.ca),
                              persistence_dir=str(tmp_path / "local"), autosave_interval_s=1, restart_min_s=1,
                              restart_max_s=2)
    static = tmp_path / "static.conf"
    static.write_text(render_config(settings))
    runtime = write_runtime_config(static, tmp_path / "run.conf", str(creds)).read_text()
    local = MosquittoBroker(tmp_path / "local", port=local_port, conf_text=runtime).start()
    auth = {"ca": str(pki.ca), "user": "d1", "password": "s3cret"}
    watcher = Sub(central.port, "s1/#", "central-watcher", **auth)
    try:
        assert watcher.wait(1, 20), "the bridge never connected (no s1/d1/bridge notification)"
        _publish(local_port, "edge/d1/cam0/detections", [b"a", b"b"])
        assert watcher.wait(3)
        assert [(t, p) for t, p, _r in watcher.got[1:]] == [("s1/d1/cam0/detections", b"a"),
                                                            ("s1/d1/cam0/detections", b"b")]
        # the retained desired state comes in from the central side
        desired = Sub(local_port, "edge/d1/model/desired", "local-agent")
        _publish(central.port, "s1/d1/model/desired", [b'{"version": "2"}'], retain=True, **auth)
        assert desired.wait(1, 20)
        assert desired.got[0][:2] == ("edge/d1/model/desired", b'{"version": "2"}')
        desired.close()
        # the central broker goes away; the local one queues, is restarted itself, then the uplink returns
        watcher.close()
        central.stop()
        _publish(local_port, "edge/d1/cam0/detections", [str(i).encode() for i in range(50)])
        local.stop()
        local.start()
        central.start()
        watcher = Sub(central.port, "s1/d1/cam0/detections", "central-watcher", **auth)
        assert watcher.wait(52, 60), f"{len(watcher.got)} of 52 arrived"
        payloads = [p for t, p, _r in watcher.got if t == "s1/d1/cam0/detections"]
        assert set(payloads[-50:]) >= {str(i).encode() for i in range(50)}
    finally:
        watcher.close()
        local.stop()
        central.stop()
