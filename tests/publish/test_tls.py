"""TLS and authentication against a real Mosquitto with certificates made by openssl in the test:
mutual TLS with a password works; a wrong CA, a wrong host name, an expired certificate, a missing client
certificate and a wrong password each give one clear error naming the cause, at startup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_sdk.config import load_config_text
from edge_sdk.errors import PublishError
from edge_sdk.publish import open_publisher
from edge_sdk.publish.settings import BrokerSettings, TlsSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.publish.certs import Pki, make_pki
from tests.publish.helpers import ENGINE, frame_result
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls_broker(workdir: Path, pki: Pki, *, cert: Path | None = None, key: Path | None = None,
                require_client_cert: bool = True, passwords: dict[str, str] | None = None) -> MosquittoBroker:
    lines = [f"cafile {pki.ca}", f"certfile {cert or pki.server_cert}", f"keyfile {key or pki.server_key}"]
    if require_client_cert:
        lines.append("require_certificate true")
    if passwords is not None:
        pw = workdir / "passwd"
        workdir.mkdir(parents=True, exist_ok=True)
        pw.write_text("")
        for user, password in passwords.items():
            subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True, capture_output=True)
        lines += ["allow_anonymous false", f"password_file {pw}"]
    return MosquittoBroker(workdir, extra_conf="\n".join(lines)).start()


@pytest.fixture()
def mtls_broker(tmp_path: Path, pki: Pki) -> Iterator[MosquittoBroker]:
    b = _tls_broker(tmp_path / "broker", pki, passwords={"edge": "s3cret"})
    yield b
    b.stop()


def _app_yaml(tmp_path: Path, port: int, tls: str, auth: str = "") -> str:
    return f"""device_id: tls1
state_dir: {tmp_path / "state"}
sources:
  - name: cam0
    uri: file://{tmp_path / "none.mp4"}
mqtt:
  port: {port}
  connect_timeout_s: 3
  reconnect_max_s: 1
{auth}  tls:
{tls}"""


def _mtls(pki: Pki, ca: Path | None = None) -> str:
    return f"    ca_file: {ca or pki.ca}\n    cert_file: {pki.client_cert}\n    key_file: {pki.client_key}\n"


def test_mutual_tls_with_password_from_credentials_delivers(mtls_broker: MosquittoBroker, pki: Pki, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))  # as systemd's LoadCredential= sets it
    cfg = load_config_text(_app_yaml(tmp_path, mtls_broker.port, _mtls(pki), "  username: edge\n"), "app.yaml")
    tls = TlsSettings(str(pki.ca), str(pki.client_cert), str(pki.client_key))
    broker = BrokerSettings(port=mtls_broker.port, username="edge", password="s3cret", tls=tls)
    with DetectionSubscriber(broker) as sub, open_publisher(cfg, engine_info=ENGINE) as pub:
        assert pub.connected and pub.settings.broker.url.startswith("mqtts://")
        for i in range(5):
            pub.publish_result(frame_result("cam0", i))
        assert pub.flush(10)
        got = [sub.get(timeout=5) for _ in range(5)]
    assert [m.frame_id for m in got if m is not None] == [0, 1, 2, 3, 4]


def _startup_error(tmp_path: Path, port: int, tls: str, auth: str = "") -> str:
    cfg = load_config_text(_app_yaml(tmp_path, port, tls, auth), "app.yaml")
    t0 = time.monotonic()
    with pytest.raises(PublishError) as err:
        open_publisher(cfg, engine_info=ENGINE)
    assert time.monotonic() - t0 < 10  # it fails fast instead of retrying forever
    return str(err.value)


def test_wrong_ca_is_named(mtls_broker: MosquittoBroker, pki: Pki, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PW", "s3cret")
    msg = _startup_error(tmp_path, mtls_broker.port, _mtls(pki, ca=pki.other_ca),
                         "  username: edge\n  password_env: MQTT_PW\n")
    assert "unknown CA" in msg and "ca_file" in msg and f"mqtts://127.0.0.1:{mtls_broker.port}" in msg


def test_wrong_password_is_named(mtls_broker: MosquittoBroker, pki: Pki, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PW", "wrong")
    for protocol in ("5", "3.1.1"):
        msg = _startup_error(tmp_path, mtls_broker.port, _mtls(pki),
                             f'  username: edge\n  password_env: MQTT_PW\n  protocol: "{protocol}"\n')
        assert "refused credentials" in msg and "password" in msg


def test_missing_client_certificate_is_named(mtls_broker: MosquittoBroker, pki: Pki, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MQTT_PW", "s3cret")
    msg = _startup_error(tmp_path, mtls_broker.port, f"    ca_file: {pki.ca}\n",
                         "  username: edge\n  password_env: MQTT_PW\n")
    assert "client certificate refused" in msg and "cert_file" in msg


def test_hostname_mismatch_is_named_and_can_be_waived(tmp_path: Path, pki: Pki) -> None:
    broker = _tls_broker(tmp_path / "broker", pki, cert=pki.wrong_name_cert, key=pki.wrong_name_cert.with_suffix(".key"),
                         require_client_cert=False)
    try:
        msg = _startup_error(tmp_path, broker.port, f"    ca_file: {pki.ca}\n")
        assert "hostname mismatch" in msg and "127.0.0.1" in msg
        cfg = load_config_text(_app_yaml(tmp_path, broker.port, f"    ca_file: {pki.ca}\n    check_hostname: false\n"),
                               "app.yaml")
        with open_publisher(cfg, engine_info=ENGINE) as pub:
            assert pub.connected  # the CA is still checked; only the name is not
    finally:
        broker.stop()


def test_expired_certificate_is_named(tmp_path: Path, pki: Pki) -> None:
    broker = _tls_broker(tmp_path / "broker", pki, cert=pki.expired_cert, key=pki.expired_cert.with_suffix(".key"),
                         require_client_cert=False)
    try:
        msg = _startup_error(tmp_path, broker.port, f"    ca_file: {pki.ca}\n")
        assert "expired certificate" in msg
    finally:
        broker.stop()


def test_missing_tls_file_is_named(tmp_path: Path, pki: Pki) -> None:
    msg = _startup_error(tmp_path, 1883, f"    ca_file: {tmp_path / 'nope.pem'}\n")
    assert "TLS file not found" in msg and "mqtt.tls.ca_file" in msg and "nope.pem" in msg


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "subscribe", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_subscribe_cli_names_tls_and_auth_failures(mtls_broker: MosquittoBroker, pki: Pki) -> None:
    addr = f"127.0.0.1:{mtls_broker.port}"
    client = ("--cert", str(pki.client_cert), "--key", str(pki.client_key))
    wrong_ca = _cli("--broker", addr, "--ca", str(pki.other_ca), *client, "--timeout", "5")
    assert wrong_ca.returncode == 7 and "unknown CA" in wrong_ca.stderr and "Traceback" not in wrong_ca.stderr
    env_pw = dict(os.environ, VIEWER_PW="nope")
    wrong_pw = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "subscribe", "--broker", addr, "--ca",
                               str(pki.ca), *client, "--username", "edge", "--password-env", "VIEWER_PW",
                               "--timeout", "5"], cwd=ROOT, env=dict(env_pw, PYTHONPATH=str(ROOT)),
                              capture_output=True, text=True, timeout=60)
    assert wrong_pw.returncode == 7 and "refused credentials" in wrong_pw.stderr
    assert "Traceback" not in wrong_pw.stderr
