"""`edge-sdk subscribe`: watch detections arrive, and count gaps and duplicates per camera."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import TYPE_CHECKING

from edge_sdk.errors import ExitCode

if TYPE_CHECKING:
    from edge_sdk.publish.settings import BrokerSettings
    from edge_sdk.publish.subscriber import DetectionMessage

COMMAND = "subscribe"
HELP = "print detections from a broker as they arrive (readable or --json), with a gap/duplicate summary"
EPILOG = """examples:
  edge-sdk subscribe --broker 127.0.0.1:1883                        everything under edge/
  edge-sdk subscribe --broker 10.0.0.5 --device cam-box-1 --camera cam0 --class person
  edge-sdk subscribe --config app.yaml --json --count 100            broker, TLS and credentials from app.yaml
  edge-sdk subscribe --broker host:8883 --ca ca.pem --username viewer --password-env MQTT_PASSWORD
  edge-sdk subscribe --client-id dashboard-1 --qos 1 --timeout 60    persistent session: on the next start it
                                                                     also gets what was sent while it was away
  edge-sdk subscribe --broker central:1883 --prefix plant-3 --share workers --client-id worker-1 --json
                                                                     one of N consumers sharing a fleet's messages
                                                                     ($share/workers/plant-3/+/+/detections)

At exit (--count reached, --timeout, Ctrl-C) it prints per camera: messages received, unique, missing
(sequence gaps), duplicates and late arrivals. With --share, "missing" counts the messages the broker gave to
the group's other members: gaps and duplicates are a property of the whole group (docs/fleet.md).
Exit status: 0; 1 if --count was not reached within --timeout; 7 if the broker cannot be reached or refuses the
connection (the table: `edge-sdk --help`)."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="HOST[:PORT]", help="broker address (default: the config's, else 127.0.0.1:1883)")
    p.add_argument("--config", "-c", metavar="FILE", help="take broker, TLS, credentials and topic prefix from an app config")
    p.add_argument("--prefix", help="topic prefix (default: the config's, else 'edge')")
    p.add_argument("--device", action="append", metavar="ID", help="only this device (repeatable)")
    p.add_argument("--camera", action="append", metavar="NAME", help="only this camera (repeatable)")
    p.add_argument("--class", dest="classes", action="append", metavar="LABEL|ID",
                   help="only messages with a detection of this class, showing only those (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON message per line on stdout")
    p.add_argument("--count", type=int, metavar="N", help="stop after N messages")
    p.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--client-id", metavar="ID", help="fixed client id: a persistent session (QoS>=1 messages sent "
                                                    "while away are delivered on the next start)")
    p.add_argument("--qos", type=int, choices=(0, 1, 2), default=1, help="subscription QoS (default 1)")
    p.add_argument("--session-expiry", type=int, metavar="S", help="MQTT 5 session expiry with --client-id (default 3600)")
    p.add_argument("--protocol", choices=("3.1.1", "5"), help="MQTT version (default: the config's, else 5)")
    p.add_argument("--keep-duplicates", action="store_true", help="also print duplicates (marked)")
    p.add_argument("--share", metavar="GROUP", help="MQTT 5 shared subscription: consumers with the same GROUP split "
                                                    "the messages between them ($share/GROUP/...)")
    tls = p.add_argument_group("TLS and credentials")
    tls.add_argument("--ca", metavar="FILE", help="CA certificate (PEM) of the broker; turns TLS on")
    tls.add_argument("--cert", metavar="FILE", help="client certificate (PEM) for mutual TLS")
    tls.add_argument("--key", metavar="FILE", help="client private key (PEM)")
    tls.add_argument("--tls", action="store_true", help="TLS with the system's trusted CAs")
    tls.add_argument("--no-check-hostname", action="store_true", help="do not check the broker certificate's host name")
    tls.add_argument("--username", help="user name")
    tls.add_argument("--password-env", metavar="VAR", help="environment variable holding the password "
                                                           "(or the systemd credential 'mqtt-password')")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.errors import ConfigError
    from edge_sdk.publish.subscriber import DetectionSubscriber

    if args.count is not None and args.count < 1:
        raise ConfigError("--count must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise ConfigError("--timeout must be positive")
    if args.password_env and not args.username:
        raise ConfigError("--password-env needs --username")
    if args.session_expiry is not None and not args.client_id:
        raise ConfigError("--session-expiry needs --client-id (a persistent session)")
    broker, prefix = _broker(args)
    if args.share is not None and broker.protocol != "5":
        raise ConfigError("--share needs MQTT 5", fix="drop --protocol 3.1.1 (shared subscriptions are MQTT 5)")
    try:
        sub = DetectionSubscriber(broker, topic_prefix=prefix, devices=args.device, cameras=args.camera,
                                  classes=args.classes, client_id=args.client_id, qos=args.qos,
                                  persistent=bool(args.client_id), drop_duplicates=not args.keep_duplicates,
                                  share_group=args.share)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    stop: list[str] = []
    old = signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    shown = 0
    try:
        with sub:
            print(f"edge-sdk subscribe: listening on {broker.url} to {', '.join(sub.topics)}", file=sys.stderr, flush=True)
            deadline = time.monotonic() + args.timeout if args.timeout else None
            while not stop and (args.count is None or shown < args.count):
                wait = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
                if wait <= 0:
                    break
                msg = sub.get(timeout=wait)
                if msg is None:
                    continue
                print(_json_line(msg) if args.json else _readable(msg), flush=True)
                shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
    for line in sub.tracker.summary_lines() or ["no detection messages received"]:
        print(f"edge-sdk subscribe: {line}", file=sys.stderr)
    if args.share and sub.tracker.streams:
        print(f"edge-sdk subscribe: a member of share group {args.share!r}: 'missing' are the messages the broker gave "
              "to the other members", file=sys.stderr)
    if sub.invalid:
        sources = len(sub.rejections.by_source)
        print(f"edge-sdk subscribe: {sub.invalid} invalid message(s) ignored (not detection messages, or not matching "
              f"their topic; from {sources} topic(s), the first of each logged above)", file=sys.stderr)
    if args.count is not None and shown < args.count and not stop:
        print(f"edge-sdk subscribe: error: {shown} of {args.count} message(s) within {args.timeout:g} s",
              file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def _broker(args: argparse.Namespace) -> tuple[BrokerSettings, str]:
    from dataclasses import replace

    from edge_sdk.config.mqtt import MqttConfig
    from edge_sdk.errors import ConfigError
    from edge_sdk.publish.settings import BrokerSettings, TlsSettings

    prefix = "edge"
    if args.config:
        from edge_sdk.config import load_config

        cfg = load_config(args.config)
        broker = BrokerSettings.from_config(cfg.mqtt, cfg.resolve)
        prefix = cfg.mqtt.topic_prefix
    else:
        broker = BrokerSettings.from_config(MqttConfig(username=args.username, password_env=args.password_env))
    if args.broker:
        from edge_sdk.cli.options import parse_broker

        host, port = parse_broker(args.broker)
        broker = replace(broker, host=host, port=port or broker.port)
    if args.config and (args.username or args.password_env):
        from edge_sdk.config.secrets import resolve_secret

        password = resolve_secret("mqtt-password", env_var=args.password_env)
        broker = replace(broker, username=args.username or broker.username, password=password or broker.password)
    if args.ca or args.cert or args.key or args.tls or args.no_check_hostname:
        if bool(args.cert) != bool(args.key):
            raise ConfigError("--cert and --key must be given together")
        for opt, path in (("--ca", args.ca), ("--cert", args.cert), ("--key", args.key)):
            if path is not None and not _is_file(path):
                raise ConfigError(f"{opt} {path}: file not found")
        base = broker.tls or TlsSettings()
        broker = replace(broker, tls=TlsSettings(ca_file=args.ca or base.ca_file, cert_file=args.cert or base.cert_file,
                                                 key_file=args.key or base.key_file,
                                                 check_hostname=base.check_hostname and not args.no_check_hostname))
    if args.protocol:
        broker = replace(broker, protocol=args.protocol)
    if args.session_expiry is not None:
        broker = replace(broker, session_expiry_s=args.session_expiry)
    return broker, args.prefix or prefix


def _is_file(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


def _json_line(msg: DetectionMessage) -> str:
    return json.dumps(msg.raw, separators=(",", ":"))


def _readable(msg: DetectionMessage) -> str:
    t = time.strftime("%H:%M:%S", time.localtime(msg.capture_time)) + f".{int(msg.capture_time * 1000) % 1000:03d}"
    mark = "" if msg.verdict.value == "new" else f" [{msg.verdict.value}]"
    head = f"{t} {msg.device_id}/{msg.camera} frame {msg.frame_id} seq {msg.seq}{mark}: "
    if not msg.detections:
        return head + "no detections"
    dets = "; ".join(f"{d.label} {d.score:.2f} [{d.box[0]:.0f},{d.box[1]:.0f},{d.box[2]:.0f},{d.box[3]:.0f}]"
                     for d in msg.detections)
    return f"{head}{len(msg.detections)} detection(s): {dets}"
