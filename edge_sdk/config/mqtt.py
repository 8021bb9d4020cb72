"""`mqtt:` — where detections are published, how, and with which credentials."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_sdk.config.base import Section


class TlsConfig(Section):
    ca_file: str | None = Field(None, description="CA certificate (PEM) that signed the broker's certificate")
    cert_file: str | None = Field(None, description="client certificate (PEM) for mutual TLS")
    key_file: str | None = Field(None, description="client private key (PEM); may come from credentials instead")
    check_hostname: bool = Field(True, description="verify that the broker's certificate names the host")

    @model_validator(mode="after")
    def _cert_needs_key(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class SpoolConfig(Section):
    enabled: bool = Field(True, description="keep unacknowledged messages on disk while the broker is away")
    path: str = Field("spool/mqtt.sqlite", description="spool database (SQLite, WAL); relative to the state directory")
    max_mb: int = Field(256, ge=1, le=1_000_000, description="size bound; the oldest messages are dropped beyond it")
    max_age_s: int = Field(7 * 24 * 3600, ge=1, description="age bound in seconds; older messages are dropped")


class MqttConfig(Section):
    enabled: bool = Field(True, description="publish detections over MQTT")
    host: str = Field("127.0.0.1", min_length=1, description="broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="broker port (1883 plain, 8883 TLS)")
    protocol: Literal["3.1.1", "5"] = Field("5", description="MQTT protocol version")
    transport: Literal["tcp", "websockets"] = Field("tcp", description="transport")
    client_id: str | None = Field(None, description="client id; default edge-sdk-<device_id>")
    topic_prefix: str = Field("edge", min_length=1, description="topics are <prefix>/<device_id>/...")
    qos: Literal[0, 1, 2] = Field(1, description="QoS of detection messages")
    keepalive_s: int = Field(30, ge=5, le=3600, description="keepalive interval in seconds")
    session_expiry_s: int = Field(3600, ge=0, description="MQTT 5 session expiry; the broker keeps our session this long")
    username: str | None = Field(None, description="user name")
    password: str | None = Field(None, description="password; prefer password_env or the credential 'mqtt-password'")
    password_env: str | None = Field(None, description="environment variable holding the password")
    tls: TlsConfig | None = Field(None, description="TLS settings; absent means plain TCP")
    stats_interval_s: float = Field(10.0, gt=0, le=3600, description="period of the stats topic")
    spool: SpoolConfig = Field(default_factory=SpoolConfig, description="disk spool for unacknowledged messages")
    reconnect_min_s: float = Field(0.5, gt=0, le=60, description="first reconnect delay")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="reconnect delay cap (exponential backoff with jitter)")

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttConfig:
        if (self.password or self.password_env) and not self.username:
            raise ValueError("a password (password or password_env) must come with a username")
        if self.password and self.password_env:
            raise ValueError("give either password or password_env, not both")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self
