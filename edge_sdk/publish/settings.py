"""Resolved connection and publishing settings: config paths made absolute, secrets looked up.

`BrokerSettings` is all a client needs to reach a broker (the publisher, `edge-sdk subscribe`, apps);
`PublisherSettings` adds what the daemon's publisher needs. Both come from `AppConfig` through
`from_config`, or are built directly (CLI, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edge_sdk.config.secrets import credential_path, resolve_secret
from edge_sdk.errors import PublishError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.config.mqtt import MqttConfig, TlsConfig

PASSWORD_CREDENTIAL = "mqtt-password"
TLS_KEY_CREDENTIAL = "mqtt-tls-key"


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str | None = None  # None: the system's trusted CAs
    cert_file: str | None = None
    key_file: str | None = None
    check_hostname: bool = True

    @classmethod
    def from_config(cls, tls: TlsConfig, resolve: Callable[[str], Path]) -> TlsSettings:
        return cls(ca_file=_pem_file("ca_file", tls.ca_file, resolve),
                   cert_file=_pem_file("cert_file", tls.cert_file, resolve),
                   key_file=_pem_file("key_file", tls.key_file, resolve, credential=TLS_KEY_CREDENTIAL),
                   check_hostname=tls.check_hostname)


def _pem_file(key: str, configured: str | None, resolve: Callable[[str], Path], *,
              credential: str | None = None) -> str | None:
    """A TLS file from the config (checked to exist), or the systemd credential of that name if present."""
    cred = credential_path(credential) if credential else None
    if cred is not None:
        return str(cred)
    if configured is None:
        return None
    path = resolve(configured)
    if not path.is_file():
        raise PublishError("TLS file not found", where=f"mqtt.tls.{key}: {path}",
                           fix="give an existing PEM file (relative paths are relative to the config file)")
    return str(path)


@dataclass(frozen=True)
class BrokerSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    protocol: Literal["3.1.1", "5"] = "5"
    transport: Literal["tcp", "websockets"] = "tcp"
    username: str | None = None
    password: str | None = None
    tls: TlsSettings | None = None
    keepalive_s: int = 30
    connect_timeout_s: float = 5.0
    session_expiry_s: int = 3600

    @property
    def url(self) -> str:
        scheme = ("wss" if self.tls else "ws") if self.transport == "websockets" else ("mqtts" if self.tls else "mqtt")
        return f"{scheme}://{self.host}:{self.port}"

    @classmethod
    def from_config(cls, mqtt: MqttConfig, resolve: Callable[[str], Path] = Path) -> BrokerSettings:
        password = None
        if mqtt.username:
            password = resolve_secret(PASSWORD_CREDENTIAL, env_var=mqtt.password_env, inline=mqtt.password)
            if mqtt.password_env and password is None:
                raise PublishError(f"the environment variable {mqtt.password_env} (mqtt.password_env) is not set",
                                   where="mqtt.password_env",
                                   fix=f"export {mqtt.password_env}=..., or provide the systemd credential "
                                       f"'{PASSWORD_CREDENTIAL}'")
        tls = TlsSettings.from_config(mqtt.tls, resolve) if mqtt.tls is not None else None
        return cls(host=mqtt.host, port=mqtt.port, protocol=mqtt.protocol, transport=mqtt.transport,
                   username=mqtt.username, password=password, tls=tls, keepalive_s=mqtt.keepalive_s,
                   connect_timeout_s=mqtt.connect_timeout_s, session_expiry_s=mqtt.session_expiry_s)


@dataclass(frozen=True)
class PublisherSettings:
    broker: BrokerSettings
    device_id: str
    client_id: str
    topic_prefix: str = "edge"
    qos: int = 1
    max_inflight: int = 64
    batch_s: float = 0.0  # group messages for this long (SpoolWriter)
    drain_timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    spool_path: Path | None = None  # None: in memory
    spool_max_bytes: int = 256 << 20
    spool_max_age_s: float = 7 * 24 * 3600.0
    model_name: str = "model"

    @classmethod
    def from_config(cls, cfg: AppConfig) -> PublisherSettings:
        m = cfg.mqtt
        state = cfg.resolve(cfg.state_dir)
        spool_path = None
        if m.spool.enabled:
            p = Path(m.spool.path).expanduser()
            spool_path = p if p.is_absolute() else state / p
        return cls(broker=BrokerSettings.from_config(m, cfg.resolve), device_id=cfg.device_id,
                   client_id=m.client_id or f"edge-sdk-{cfg.device_id}", topic_prefix=m.topic_prefix, qos=m.qos,
                   max_inflight=m.max_inflight, batch_s=m.batch_ms / 1000.0, drain_timeout_s=m.drain_timeout_s,
                   reconnect_min_s=m.reconnect_min_s, reconnect_max_s=m.reconnect_max_s, spool_path=spool_path,
                   spool_max_bytes=max(1, int(m.spool.max_mb * (1 << 20))), spool_max_age_s=float(m.spool.max_age_s),
                   model_name=cfg.model_name)
