"""Broker step: a real MQTT CONNECT to the configured broker. Unreachable is a warning (the service spools
and reconnects); refused credentials are a failure."""

from __future__ import annotations

import threading
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.provision.actions import StepResult
from edge_sdk.provision.context import Context
from edge_sdk.provision.steps import Step


def check_broker(cfg: AppConfig, password: str | None, timeout_s: float = 5.0) -> StepResult:
    """CONNACK success within `timeout_s`, under a client id of its own (never the service's)."""
    if not cfg.mqtt.enabled:
        return StepResult("broker", "skipped", "mqtt.enabled is false")
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    m = cfg.mqtt
    where = f"{m.host}:{m.port}"
    done = threading.Event()
    outcome: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-sdk-provision-{cfg.device_id}",
                         protocol=mqtt.MQTTv5 if m.protocol == "5" else mqtt.MQTTv311)
    if m.username:
        client.username_pw_set(m.username, password)
    if m.tls is not None:
        client.tls_set(ca_certs=None if m.tls.ca_file is None else str(cfg.resolve(m.tls.ca_file)))

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        outcome.append(str(reason))
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=10)
    except OSError as exc:
        return StepResult("broker", "warning", f"cannot reach {where}: {exc} (the service spools until it can)")
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            return StepResult("broker", "warning", f"no CONNACK from {where} within {timeout_s:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
    if outcome and outcome[0] != "Success":
        return StepResult("broker", "failed", f"{where} refused the connection: {outcome[0]}")
    return StepResult("broker", "ok", f"MQTT CONNECT to {where} accepted")


def run(ctx: Context) -> None:
    if ctx.staged is None or ctx.composed is None:
        return
    ctx.report.add(check_broker(ctx.staged, ctx.composed.secrets.get("mqtt-password")))


STEP = Step("broker", run, "install")
