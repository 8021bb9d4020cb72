"""The local Mosquitto on a device, bridged to the fleet's central broker: its config and its unit.

The daemon publishes to a Mosquitto on loopback; Mosquitto's bridge forwards to the central broker. So a
detection survives a lost uplink twice: first in the bridge's queue on the local broker (persistent, up to
`max_queued_messages`/`max_queued_bytes`), and when the local broker itself is down, in the daemon's spool.

Topic mapping (Mosquitto `topic` lines with local and remote prefixes):

    local  edge/<device>/#                   ->  central  <site>/<device>/#         (out, QoS 1)
    local  edge/<device>/model/desired       <-  central  <site>/<device>/model/desired   (in, QoS 1)

The bridge is a persistent session on both sides (`cleansession false`, a fixed `remote_clientid`), at QoS 1.
Only the central link leaves the device: the local listener is bound to 127.0.0.1.

Secrets never sit in /etc: the static config (`render_config`) is installed as
`/etc/edge-sdk/broker/mosquitto.conf`; at each start, `edge-sdk bridge runtime` (the unit's ExecStartPre)
copies it to the runtime directory (tmpfs, 0600) adding `remote_password` from the systemd credential
`bridge-password` and `bridge_keyfile` pointing at the credential `bridge-tls-key` (LoadCredential=).

Written for central brokers that keep MQTT 3.1.1 persistent sessions and accept QoS 1: Mosquitto (run here),
EMQX, HiveMQ and VerneMQ (configured per their documentation, not run here). `bridge_protocol_version` is
mqttv311 by default: Mosquitto 2.0's mqttv50 bridge sends no session expiry interval, so with `cleansession false`
a standard MQTT 5 broker would still drop the session at disconnect. `try_private` (Mosquitto's bridge
marker, which stops loops between Mosquitto brokers) is off by default: not every broker understands it, and
with this topic layout no message can loop (nothing is mapped both ways).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PASSWORD_CREDENTIAL = "bridge-password"
TLS_KEY_CREDENTIAL = "bridge-tls-key"
CONNECTION = "edge-sdk-central"
ETC_CONF = "/etc/edge-sdk/broker/mosquitto.conf"
STATE_DIR = "/var/lib/edge-sdk-broker"
UNIT_NAME = "edge-sdk-broker.service"


def _clean(value: str, what: str) -> str:
    if not value or any(c in value for c in " \t\r\n#+"):
        raise ValueError(f"{what} {value!r} must be non-empty without spaces, newlines or MQTT wildcards")
    return value


@dataclass(frozen=True)
class BridgeSettings:
    site: str
    device_id: str
    central_host: str
    central_port: int = 8883
    local_prefix: str = "edge"
    local_port: int = 1883
    username: str | None = None  # the password comes from the credential `bridge-password`
    ca_file: str | None = None  # TLS to the central broker; None with tls=True: the system's CAs
    cert_file: str | None = None  # client certificate; its key comes from the credential `bridge-tls-key`
    tls: bool = True
    protocol: str = "mqttv311"
    try_private: bool = False
    max_queued_messages: int = 200_000  # the bridge's local queue while the central link is down
    max_queued_bytes: int = 512 << 20
    autosave_interval_s: int = 10  # a broker killed with SIGKILL loses at most this much of its queue
    persistence_dir: str = STATE_DIR
    keepalive_s: int = 30
    restart_min_s: int = 2
    restart_max_s: int = 60

    def __post_init__(self) -> None:
        _clean(self.site, "site")
        _clean(self.device_id, "device id")
        _clean(self.local_prefix, "topic prefix")
        _clean(self.central_host, "central host")
        if self.protocol not in ("mqttv311", "mqttv50"):
            raise ValueError("protocol must be mqttv311 or mqttv50")
        if not 1 <= self.central_port <= 65535 or not 1 <= self.local_port <= 65535:
            raise ValueError("ports must be 1..65535")
        if self.max_queued_messages < 1 or self.max_queued_bytes < 0:
            raise ValueError("max_queued_messages must be >= 1 and max_queued_bytes >= 0 (0: no byte limit)")

    @property
    def local_topic(self) -> str:
        return f"{self.local_prefix}/{self.device_id}/"

    @property
    def central_topic(self) -> str:
        return f"{self.site}/{self.device_id}/"


def render_config(s: BridgeSettings) -> str:
    """The static mosquitto.conf (no secret in it). The bridge's connection block is last, so the runtime
    step can append the secret lines to it."""
    lines = [
        "# The local broker of edge-sdk, bridged to the fleet's central broker. Rendered by edge-sdk",
        "# (edge_sdk/fleet/bridge.py); `edge-sdk bridge runtime` adds the secrets at start. See docs/fleet.md.",
        "per_listener_settings false",
        f"listener {s.local_port} 127.0.0.1",
        "allow_anonymous true",  # loopback only: the daemon and the rollout agent on this device
        "persistence true",
        f"persistence_location {s.persistence_dir.rstrip('/')}/",
        f"autosave_interval {s.autosave_interval_s}",
        # The local queue limit: what the bridge keeps while the central broker is unreachable.
        f"max_queued_messages {s.max_queued_messages}",
        f"max_queued_bytes {s.max_queued_bytes}",
        "max_inflight_messages 100",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "connection_messages true",
        "",
        f"connection {CONNECTION}",
        f"address {s.central_host}:{s.central_port}",
        f"bridge_protocol_version {s.protocol}",
        f"try_private {'true' if s.try_private else 'false'}",
        "cleansession false",
        "local_cleansession false",
        f"remote_clientid edge-sdk-bridge-{s.site}-{s.device_id}",
        f"local_clientid edge-sdk-bridge-{s.device_id}",
        f"keepalive_interval {s.keepalive_s}",
        f"restart_timeout {s.restart_min_s} {s.restart_max_s}",
        "start_type automatic",
        # Notifications: 1 when the bridge is up, 0 (its will) when it drops, retained on the central side.
        "notifications true",
        "notifications_local_only false",
        f"notification_topic {s.central_topic}bridge",
        f"topic # out 1 {s.local_topic} {s.central_topic}",
        f"topic model/desired in 1 {s.local_topic} {s.central_topic}",
    ]
    if s.tls:
        lines += ["bridge_insecure false", "bridge_tls_version tlsv1.2"]
        lines.append(f"bridge_cafile {s.ca_file}" if s.ca_file else "bridge_capath /etc/ssl/certs")
        if s.cert_file:
            lines.append(f"bridge_certfile {s.cert_file}")
    if s.username:
        lines.append(f"remote_username {s.username}")
    return "\n".join(lines) + "\n"


def runtime_config(static_text: str, credentials_dir: str | None) -> str:
    """The config mosquitto starts with: the static one plus `remote_password` and `bridge_keyfile` from the
    systemd credentials (`credentials_dir`, normally $CREDENTIALS_DIRECTORY), when those credentials exist."""
    extra = []
    if credentials_dir:
        password = Path(credentials_dir) / PASSWORD_CREDENTIAL
        if password.is_file():
            secret = password.read_text(encoding="utf-8").rstrip("\n")
            if "\n" in secret or not secret:
                raise ValueError(f"the credential {PASSWORD_CREDENTIAL} must be one non-empty line")
            extra.append(f"remote_password {secret}")
        key = Path(credentials_dir) / TLS_KEY_CREDENTIAL
        if key.is_file():
            extra.append(f"bridge_keyfile {key}")
    return static_text.rstrip("\n") + "\n" + "".join(f"{x}\n" for x in extra)


def write_runtime_config(static_path: Path, out_path: Path, credentials_dir: str | None = None,
                         owner: tuple[int, int] | None = None) -> Path:
    """ExecStartPre: write the runtime config 0600 (atomically), owned by `owner` (uid, gid) if given.
    `credentials_dir` defaults to the environment's $CREDENTIALS_DIRECTORY."""
    from edge_sdk.atomic import atomic_open

    creds = credentials_dir if credentials_dir is not None else os.environ.get("CREDENTIALS_DIRECTORY")
    text = runtime_config(static_path.read_text(encoding="utf-8"), creds)
    with atomic_open(out_path, "w", perms=0o600, owner=owner) as f:
        f.write(text)
    return out_path


UNIT_TEMPLATE = """\
# edge-sdk's local MQTT broker (Mosquitto), bridged to the fleet's central broker. Rendered by edge-sdk
# provision; see docs/fleet.md. The detection service publishes here (127.0.0.1:{local_port}).
[Unit]
Description=edge-sdk local MQTT broker (Mosquitto bridged to the central broker)
After=network-online.target
Wants=network-online.target
Before=edge-sdk.service

[Service]
Type=notify
NotifyAccess=main
User=mosquitto
Group=mosquitto
{credential_lines}RuntimeDirectory=edge-sdk-broker
RuntimeDirectoryMode=0700
StateDirectory=edge-sdk-broker
StateDirectoryMode=0700
# '+': runs as root, to read /etc/edge-sdk (root:edge-sdk 0750); the runtime config is handed to mosquitto.
ExecStartPre=+{exec_path} bridge runtime --config {etc_conf} --out /run/edge-sdk-broker/mosquitto.conf --owner mosquitto
ExecStart=/usr/sbin/mosquitto -c /run/edge-sdk-broker/mosquitto.conf
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2
TimeoutStopSec=30
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""


def render_unit(s: BridgeSettings, *, exec_path: str, credentials: dict[str, str]) -> str:
    """The broker's unit; `credentials` maps credential names to the root-only files they are loaded from."""
    creds = "".join(f"LoadCredential={n}:{p}\n" for n, p in sorted(credentials.items()))
    return UNIT_TEMPLATE.format(local_port=s.local_port, credential_lines=creds, exec_path=exec_path, etc_conf=ETC_CONF)
