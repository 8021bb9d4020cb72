"""Bridge step (with --bridge): a local Mosquitto on loopback, bridged to the fleet's central broker, as its own
unit; the daemon publishes to it. With --trust-key (alone or with --bridge): the public keys model bundles must be
signed with, and the rollout agent on (`fleet.enabled`).

Installs (compared and written atomically like every file of provision):
- /etc/edge-sdk/broker/mosquitto.conf (edge_sdk/fleet/bridge.py: loopback listener, persistence, queue limit,
  cleansession false, QoS 1, topics edge/<device>/... <-> <site>/<device>/...), the central broker's CA and the
  client certificate beside it;
- the credentials bridge-password and bridge-tls-key (root 0600), loaded by the broker's unit through
  LoadCredential= and added to the runtime config at start (never in /etc);
- /etc/systemd/system/edge-sdk-broker.service; the detection service starts after it (and wants it);
- /etc/edge-sdk/trusted-keys/<key id>.pub.
The Mosquitto package is installed with apt-get when it is missing (not under --prefix). The activate side is
steps/bridge_service.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import PurePosixPath

from edge_sdk.errors import EdgeSdkError
from edge_sdk.provision.actions import Owner, StepResult, ensure_dir, install_copy, install_text, run_command
from edge_sdk.provision.context import Context
from edge_sdk.provision.layout import ETC
from edge_sdk.provision.steps import Step

BROKER_DIR = ETC / "broker"
TRUST_DIR = ETC / "trusted-keys"
BROKER_UNIT = PurePosixPath("/etc/systemd/system/edge-sdk-broker.service")
PASSWORD_ENV = "EDGE_SDK_BRIDGE_PASSWORD"


def run(ctx: Context) -> None:
    o = ctx.opts
    if ctx.composed is None or (o.bridge is None and not o.trust_keys):
        return
    try:
        results = _install(ctx)
    except (EdgeSdkError, ValueError) as exc:
        ctx.report.add(StepResult("bridge", "failed", str(exc)))
        return
    ctx.report.add(*results)


def _install(ctx: Context) -> list[StepResult]:
    from edge_sdk.fleet.keys import load_public
    from edge_sdk.provision.compose import parse_broker, staged_config

    o, layout, composed, dry = ctx.opts, ctx.layout, ctx.composed, ctx.opts.dry_run
    assert composed is not None  # checked by run
    root = None if layout.prefix is not None else Owner("root", "root")
    out: list[StepResult] = []
    fleet = composed.data.setdefault("fleet", {})
    fleet["enabled"] = True
    if o.site:
        fleet["site"] = o.site
    if o.trust_keys:
        fleet.setdefault("rollout", {})["trusted_keys"] = str(TRUST_DIR)
        out.append(ensure_dir("dir trusted-keys", layout.staged(TRUST_DIR), 0o755, root, dry))
        for pub in o.trust_keys:
            trusted = load_public(pub)  # refuses anything but an Ed25519 public key
            out.append(install_copy(f"trusted key {trusted.key_id}", layout.staged(TRUST_DIR / f"{trusted.key_id}.pub"),
                                    pub, 0o644, root, dry))
    if o.bridge is not None:
        from edge_sdk.fleet.bridge import BridgeSettings, render_config, render_unit

        if not o.site:
            raise ValueError("--bridge needs --site (central topics are <site>/<device>/...)")
        central = parse_broker(o.bridge)
        password = central.get("password") or os.environ.get(PASSWORD_ENV)
        out.append(ensure_dir("dir broker", layout.staged(BROKER_DIR), 0o755, root, dry))
        files = {"ca.pem": o.bridge_ca, "client.pem": o.bridge_cert}
        for name, src in files.items():
            if src is not None:
                out.append(install_copy(f"broker {name}", layout.staged(BROKER_DIR / name), src, 0o644, root, dry))
        device_id = ctx.staged.device_id if ctx.staged is not None else str(composed.data.get("device_id", "edge"))
        settings = BridgeSettings(site=o.site, device_id=device_id,
                                  central_host=central["host"], central_port=central["port"],
                                  local_port=o.bridge_local_port, username=central.get("username"),
                                  ca_file=str(BROKER_DIR / "ca.pem") if o.bridge_ca else None,
                                  cert_file=str(BROKER_DIR / "client.pem") if o.bridge_cert else None,
                                  tls="tls" in central,
                                  local_prefix=str(composed.data.get("mqtt", {}).get("topic_prefix", "edge")))
        out.append(install_text("broker config", layout.staged(BROKER_DIR / "mosquitto.conf"), render_config(settings),
                                0o644, root, dry))
        creds: dict[str, str] = {}
        if password:
            pw_path = layout.credentials_dir / "bridge-password"
            out.append(install_text("secret bridge-password", layout.staged(pw_path), password + "\n", 0o600, root, dry))
            creds["bridge-password"] = str(pw_path)
        if o.bridge_key is not None:
            key_path = layout.credentials_dir / "bridge-tls-key"
            out.append(install_copy("secret bridge-tls-key", layout.staged(key_path), o.bridge_key, 0o600, root, dry))
            creds["bridge-tls-key"] = str(key_path)
        out.append(install_text("broker unit", layout.staged(BROKER_UNIT),
                                render_unit(settings, exec_path=ctx.exec_path, credentials=creds), 0o644, root, dry))
        # The daemon now publishes to the local broker, anonymously on loopback.
        mqtt = composed.data.setdefault("mqtt", {})
        for name in ("username", "password", "password_env", "tls"):
            mqtt.pop(name, None)
        mqtt.update({"host": "127.0.0.1", "port": o.bridge_local_port})
        composed.secrets.pop("mqtt-password", None)
        composed.secret_files.pop("mqtt-tls-key", None)
        if "edge-sdk-broker.service" not in ctx.unit.after:
            ctx.unit.after.append("edge-sdk-broker.service")
        if layout.prefix is None and shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
            out.append(run_command("broker package", ["apt-get", "install", "-y", "--no-install-recommends", "mosquitto"],
                                   dry, timeout=600))
    ctx.staged = staged_config(composed, layout)
    where = f"; bridged to {central['host']}:{central['port']} as site {o.site}" if o.bridge else ""
    out.append(StepResult("fleet", "ok", f"rollout agent on, {len(o.trust_keys)} trusted key(s){where}"))
    return out


STEP = Step("bridge", run, "install")
