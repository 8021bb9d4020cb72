"""What the example apps share: the broker from `--broker`/`--config`, a client that republishes results, and
`main` (logging, SIGINT/SIGTERM as a stop event, errors as one line and exit status 1).

    def run(args: argparse.Namespace, stop: threading.Event) -> int:
        broker, prefix = broker_from_args(args)
        with Republisher(broker, "my-app") as out:
            while not stop.is_set():
                out.publish(f"{prefix}/box-1/cam0/my-topic", {"any": "json"}, retain=True)
                stop.wait(60)
        return 0

    p = argparse.ArgumentParser(...)
    add_broker_args(p)
    sys.exit(main("my_app", run, p.parse_args()))
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

from edge_sdk.errors import EdgeSdkError
from edge_sdk.publish.settings import BrokerSettings

log = logging.getLogger(__name__)


def add_broker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="HOST[:PORT]", help="broker (default: the --config's, else 127.0.0.1:1883)")
    p.add_argument("--config", "-c", metavar="FILE", help="take broker, TLS, credentials and topic prefix from the "
                                                          "daemon's app config")
    p.add_argument("--prefix", help="topic prefix (default: the --config's, else edge)")
    p.add_argument("--protocol", choices=("3.1.1", "5"), help="MQTT version (default: the --config's, else 5)")


def broker_from_args(args: argparse.Namespace) -> tuple[BrokerSettings, str]:
    """(broker, topic prefix); ConfigError (one line) for a bad --broker or --config."""
    from edge_sdk.cli.options import parse_broker

    broker, prefix = BrokerSettings(), "edge"
    if args.config:
        from edge_sdk.config import load_config

        cfg = load_config(args.config)
        broker, prefix = BrokerSettings.from_config(cfg.mqtt, cfg.resolve), cfg.mqtt.topic_prefix
    if args.broker:
        host, port = parse_broker(args.broker)
        broker = replace(broker, host=host, port=broker.port if port is None else port)
    if args.protocol:
        broker = replace(broker, protocol=args.protocol)
    return broker, args.prefix or prefix


class Republisher:
    """A plain client for an app's own results (QoS 1). Leaving waits up to `drain_s` for the broker to
    acknowledge what was published, so the last results are not lost at exit."""

    def __init__(self, broker: BrokerSettings, name: str, drain_s: float = 5.0) -> None:
        from edge_sdk.publish.connection import make_client

        self.broker = broker
        self.drain_s = drain_s
        self._client = make_client(broker, f"{name}-out-{time.time_ns()}", persistent=False, reconnect=True)
        self._pending: list[Any] = []  # MQTTMessageInfo not yet acknowledged

    def __enter__(self) -> Republisher:
        from edge_sdk.publish.connection import connect_args, explain_exception

        try:
            self._client.connect(**connect_args(self.broker, persistent=False))
        except Exception as exc:
            raise explain_exception(exc, self.broker).error(self.broker) from exc
        self._client.loop_start()
        return self

    def publish(self, topic: str, payload: dict[str, Any], *, retain: bool = False) -> None:
        self._pending = [i for i in self._pending if not i.is_published()]
        data = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        self._pending.append(self._client.publish(topic, data, qos=1, retain=retain))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        deadline = time.monotonic() + self.drain_s
        for info in self._pending:
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as err:  # not connected: paho could not queue it
                log.warning("a result could not be sent: %s", err)
        self._client.disconnect()
        self._client.loop_stop()


def main(name: str, run: Callable[[argparse.Namespace, threading.Event], int], args: argparse.Namespace) -> int:
    """Run an app until SIGINT or SIGTERM sets the stop event; a user's mistake (a bad option, an unreachable
    broker, an unwritable folder) is one line on stderr and exit status 1, not a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return run(args, stop)
    except (EdgeSdkError, ValueError, OSError) as exc:
        print(f"{name}: error: {exc.render() if isinstance(exc, EdgeSdkError) else exc}", file=sys.stderr)
        return 1
