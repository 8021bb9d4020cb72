"""`edge-sdk provision --bridge ... --trust-key ...` into a --prefix: the local broker's config, credentials and
unit, the trusted keys, and the daemon's config pointing at the local broker with rollouts on."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from edge_sdk.fleet.keys import generate
from tests.provision.test_provision import app, provision  # noqa: F401 (the fixture)


def test_provision_installs_a_bridged_local_broker_and_trusted_keys(tmp_path: Path, app: Path) -> None:  # noqa: F811
    pub, kid = generate(tmp_path / "keys" / "fleet.key")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    prefix = tmp_path / "root"
    os.environ["EDGE_SDK_BRIDGE_PASSWORD"] = "s3cret"
    try:
        rc, report, err = provision("--config", str(app), "--prefix", str(prefix), "--validate-frames", "3",
                                    "--bridge", "mqtts://prov1@fleet.example:8883", "--site", "plant-3",
                                    "--bridge-ca", str(ca), "--trust-key", str(pub))
    finally:
        del os.environ["EDGE_SDK_BRIDGE_PASSWORD"]
    steps = {s["name"]: s for s in report["steps"]}
    assert rc == 0, (report, err)
    assert steps["broker config"]["status"] == "changed" and steps[f"trusted key {kid}"]["status"] == "changed"
    assert all(steps[n]["status"] == "skipped" for n in ("broker: enable", "broker: start"))
    etc = prefix / "etc/edge-sdk"
    conf = (etc / "broker/mosquitto.conf").read_text()
    assert "listener 1883 127.0.0.1\n" in conf and "address fleet.example:8883\n" in conf
    assert "topic # out 1 edge/prov1/ plant-3/prov1/\n" in conf and "bridge_cafile /etc/edge-sdk/broker/ca.pem\n" in conf
    assert "s3cret" not in conf and "s3cret" not in str(report)
    secret = etc / "credentials/bridge-password"
    assert secret.read_text() == "s3cret\n" and secret.stat().st_mode & 0o777 == 0o600
    unit = (prefix / "etc/systemd/system/edge-sdk-broker.service").read_text()
    assert "LoadCredential=bridge-password:/etc/edge-sdk/credentials/bridge-password\n" in unit
    service = (prefix / "etc/systemd/system/edge-sdk.service").read_text()
    assert "edge-sdk-broker.service" in next(ln for ln in service.splitlines() if ln.startswith("After="))
    cfg = yaml.safe_load((etc / "app.yaml").read_text())
    assert (cfg["mqtt"]["host"], cfg["mqtt"]["port"]) == ("127.0.0.1", 1883)
    assert cfg["fleet"] == {"enabled": True, "site": "plant-3", "rollout": {"trusted_keys": "/etc/edge-sdk/trusted-keys"}}
    assert (etc / f"trusted-keys/{kid}.pub").read_bytes() == pub.read_bytes()
    # a second run changes nothing
    os.environ["EDGE_SDK_BRIDGE_PASSWORD"] = "s3cret"
    try:
        rc, again, _err = provision("--config", str(app), "--prefix", str(prefix), "--validate-frames", "3",
                                    "--bridge", "mqtts://prov1@fleet.example:8883", "--site", "plant-3",
                                    "--bridge-ca", str(ca), "--trust-key", str(pub))
    finally:
        del os.environ["EDGE_SDK_BRIDGE_PASSWORD"]
    assert rc == 0
    assert {s["name"]: s["status"] for s in again["steps"]}["broker config"] == "unchanged"


def test_bridge_needs_a_site_and_a_trusted_key_must_be_ed25519(tmp_path: Path, app: Path) -> None:  # noqa: F811
    rc, report, _err = provision("--config", str(app), "--prefix", str(tmp_path / "r"), "--bridge", "mqtt://central")
    assert rc == 1 and "--bridge needs --site" in str(report)
    bogus = tmp_path / "bogus.pub"
    bogus.write_text("not a key")
    rc, report, _err = provision("--config", str(app), "--prefix", str(tmp_path / "r"), "--trust-key", str(bogus))
    assert rc == 1 and "not a PEM public key" in str(report)
