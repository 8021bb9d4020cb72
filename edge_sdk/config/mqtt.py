"""`mqtt:` — where detections are published, how, and with which credentials.

Secrets never need to be in the file: the password comes from `$CREDENTIALS_DIRECTORY/mqtt-password`
(systemd `LoadCredential=`), then `password_env`, then `password`; the TLS key from the credential
`mqtt-tls-key`, then `tls.key_file`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge_sdk.config.base import Section


class TlsConfig(Section):
    ca_file: str | None = Field(None, description="CA certificate (PEM) that signed the broker's certificate; "
                                                   "absent: the system's trusted CAs")
    cert_file: str | None = Field(None, description="client certificate (PEM) for mutual TLS")
    key_file: str | None = Field(None, description="client private key (PEM); the credential 'mqtt-tls-key' wins over it")
    check_hostname: bool = Field(True, description="verify that the broker's certificate names the host we connect to")

    @model_validator(mode="after")
    def _cert_needs_key(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class SpoolConfig(Section):
    enabled: bool = Field(True, description="keep unacknowledged messages on disk (SQLite, WAL) so they survive "
                                            "broker outages and daemon restarts; false keeps them in memory only")
    path: str = Field("spool/mqtt.sqlite", min_length=1,
                      description="spool database; relative to the state directory")
    max_mb: float = Field(256.0, gt=0, le=1_000_000,
                          description="bound on the stored messages in MiB; beyond it the oldest are dropped (and counted)")
    max_age_s: float = Field(7 * 24 * 3600, gt=0, le=366 * 24 * 3600,
                             description="messages older than this many seconds are dropped (and counted)")


class MqttConfig(Section):
    enabled: bool = Field(True, description="publish detections over MQTT")
    host: str = Field("127.0.0.1", min_length=1, description="broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="broker port (1883 plain, 8883 TLS)")
    protocol: Literal["3.1.1", "5"] = Field("5", description="MQTT protocol version")
    transport: Literal["tcp", "websockets"] = Field("tcp", description="transport")
    client_id: str | None = Field(None, min_length=1, max_length=128,
                                  description="client id (the broker keeps our session under it); default edge-sdk-<device_id>")
    topic_prefix: str = Field("edge", min_length=1, pattern=r"^[^#+]+$",
                              description="topics are <prefix>/<device_id>/...; no MQTT wildcards")
    qos: Literal[0, 1, 2] = Field(1, description="QoS of detection messages (1: at least once; 2: exactly once per "
                                                 "connection, at least once across reconnects)")
    keepalive_s: int = Field(30, ge=5, le=3600, description="keepalive interval in seconds")
    session_expiry_s: int = Field(3600, ge=0, le=4294967295,
                                  description="MQTT 5 session expiry; the broker keeps our session this long after a disconnect")
    max_inflight: int = Field(64, ge=1, le=65535,
                              description="messages sent but not yet acknowledged, at most (MQTT 5: also capped by the "
                                          "broker's receive maximum)")
    batch_ms: float = Field(0.0, ge=0, le=1000,
                            description="group detection messages: after the first of a group wait this long for "
                                        "more, then store and send them together (one spool transaction and one "
                                        "wake-up of the broker and each subscriber per group instead of per "
                                        "message; frees CPU for the engine on a saturated CPU, adds up to this much "
                                        "capture-to-broker latency). 0: each message at once")
    connect_timeout_s: float = Field(5.0, gt=0, le=120, description="TCP/TLS connect and CONNACK timeout")
    drain_timeout_s: float = Field(5.0, ge=0, le=600,
                                   description="on shutdown, how long to keep sending spooled messages before going "
                                               "offline (what is left stays in the spool for the next start)")
    username: str | None = Field(None, min_length=1, description="user name")
    password: str | None = Field(None, description="password; prefer password_env or the credential 'mqtt-password'")
    password_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="environment variable holding the password")
    tls: TlsConfig | None = Field(None, description="TLS settings; absent means plain TCP")
    stats_interval_s: float = Field(10.0, gt=0, le=3600, description="period of the stats topic")
    spool: SpoolConfig = Field(default_factory=SpoolConfig, description="disk spool for unacknowledged messages")
    reconnect_min_s: float = Field(0.5, gt=0, le=60,
                                   description="first reconnect delay; each failed attempt doubles it (jitter: a random "
                                               "draw between half the delay and the delay)")
    reconnect_max_s: float = Field(30.0, gt=0, le=3600, description="reconnect delay cap; reconnects go on forever")

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttConfig:
        if (self.password or self.password_env) and not self.username:
            raise ValueError("a password (password or password_env) must come with a username")
        if self.password and self.password_env:
            raise ValueError("give either password or password_env, not both")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self
