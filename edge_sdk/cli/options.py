"""Options several commands share, parsed once: `--broker HOST[:PORT]` (run, bench, doctor, subscribe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_sdk.errors import ConfigError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

BROKER_HELP = "MQTT broker HOST[:PORT] (overrides mqtt.host and mqtt.port); [::1]:1883 for IPv6"


def parse_broker(text: str) -> tuple[str, int | None]:
    """`HOST`, `HOST:PORT`, `:PORT` (127.0.0.1) or `[IPv6]:PORT` as (host, port or None); ConfigError if not."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ("x" if rest else "")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if port and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise ConfigError(f"--broker {text!r}: the port must be a number 1..65535", fix="e.g. --broker 127.0.0.1:1883")
    return host or "127.0.0.1", int(port) if port else None


def apply_broker(cfg: AppConfig, text: str | None) -> None:
    """Point the config's MQTT at `--broker` (when given)."""
    if text:
        host, port = parse_broker(text)
        cfg.mqtt.host = host
        if port is not None:
            cfg.mqtt.port = port
