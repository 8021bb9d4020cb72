"""Settings from the app config: spool path under the state directory, secrets from systemd credentials
or the environment (never required in the file), and `edge-sdk subscribe --config`."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.cli.cmd_subscribe import _broker
from edge_sdk.cli.main import build_parser
from edge_sdk.config import load_config_text
from edge_sdk.errors import PublishError
from edge_sdk.publish.settings import PublisherSettings


def _cfg(tmp_path: Path, mqtt: str):  # type: ignore[no-untyped-def]
    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "client.pem").write_text("x")
    (tmp_path / "client.key").write_text("x")
    f = tmp_path / "app.yaml"
    f.write_text(f"device_id: box7\nstate_dir: var\nsources:\n  - uri: file://clip.mp4\nmqtt:\n{mqtt}")
    from edge_sdk.config import load_config

    return load_config(f)


def test_spool_under_state_dir_and_client_id(tmp_path: Path) -> None:
    s = PublisherSettings.from_config(_cfg(tmp_path, "  qos: 2\n  batch_ms: 40\n  spool:\n    max_mb: 0.5\n"))
    assert s.spool_path == tmp_path / "var" / "spool" / "mqtt.sqlite"
    assert (s.client_id, s.device_id, s.qos, s.spool_max_bytes) == ("edge-sdk-box7", "box7", 2, 512 * 1024)
    assert s.batch_s == pytest.approx(0.04)
    off = PublisherSettings.from_config(_cfg(tmp_path, "  spool:\n    enabled: false\n"))
    assert off.spool_path is None  # in memory


def test_secrets_from_credentials_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mqtt = ("  username: edge\n  password_env: EDGE_PW\n  tls:\n    ca_file: ca.pem\n    cert_file: client.pem\n"
            "    key_file: client.key\n")
    monkeypatch.setenv("EDGE_PW", "from-env")
    s = PublisherSettings.from_config(_cfg(tmp_path, mqtt))
    assert s.broker.password == "from-env" and s.broker.tls is not None
    assert s.broker.tls.key_file == str(tmp_path / "client.key") and s.broker.url.startswith("mqtts://")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("from-systemd\n")
    (creds / "mqtt-tls-key").write_text("KEY")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    s = PublisherSettings.from_config(_cfg(tmp_path, mqtt))
    assert s.broker.password == "from-systemd" and s.broker.tls is not None
    assert s.broker.tls.key_file == str(creds / "mqtt-tls-key")


def test_missing_password_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGE_PW", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(PublishError) as err:
        PublisherSettings.from_config(_cfg(tmp_path, "  username: edge\n  password_env: EDGE_PW\n"))
    assert "EDGE_PW" in str(err.value) and "mqtt-password" in str(err.value)


def test_config_rejects_bad_mqtt_values() -> None:
    from edge_sdk.errors import ConfigError

    base = "sources:\n  - uri: file://clip.mp4\nmqtt:\n"
    for bad, key in (("  spool:\n    max_mb: 0\n", "max_mb"), ("  topic_prefix: a/#\n", "topic_prefix"),
                     ("  max_inflight: 0\n", "max_inflight"), ("  password: x\n", "username"),
                     ("  batch_ms: -5\n", "batch_ms"), ("  batch_ms: 5000\n", "batch_ms")):
        with pytest.raises(ConfigError) as err:
            load_config_text(base + bad, "app.yaml")
        assert key in str(err.value)


def test_subscribe_takes_broker_tls_and_prefix_from_a_config(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "  host: 10.1.2.3\n  port: 8883\n  topic_prefix: site/a\n  tls:\n    ca_file: ca.pem\n")
    args = build_parser().parse_args(["subscribe", "--config", str(tmp_path / "app.yaml")])
    broker, prefix = _broker(args)
    assert (broker.host, broker.port, prefix) == ("10.1.2.3", 8883, "site/a")
    assert broker.tls is not None and broker.tls.ca_file == str(tmp_path / "ca.pem") and cfg.device_id == "box7"
    args = build_parser().parse_args(["subscribe", "--config", str(tmp_path / "app.yaml"), "--broker", "localhost",
                                      "--no-check-hostname", "--prefix", "edge"])
    broker, prefix = _broker(args)
    assert (broker.host, broker.port, prefix) == ("localhost", 8883, "edge")
    assert broker.tls is not None and broker.tls.check_hostname is False
