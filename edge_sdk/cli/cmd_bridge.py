"""`edge-sdk bridge config|runtime`: the local Mosquitto bridged to the fleet's central broker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_sdk.fleet.bridge import BridgeSettings

COMMAND = "bridge"
HELP = "the local Mosquitto's bridge to the central broker: print its config, or finish it at service start"
EPILOG = """examples:
  edge-sdk bridge config --site plant-3 --device cam-box-1 --central mqtts://fleet.example:8883 --ca ca.pem \\
      --username cam-box-1                         the static mosquitto.conf (no secret in it)
  edge-sdk bridge config --site lab --device d1 --central mqtt://127.0.0.1:1883   (plain TCP, for a test bench)
  edge-sdk bridge runtime --config /etc/edge-sdk/broker/mosquitto.conf --out /run/edge-sdk-broker/mosquitto.conf
                                                   what the broker's unit runs before mosquitto starts: adds
                                                   remote_password / bridge_keyfile from systemd credentials

Topics: local edge/<device>/# goes out to <site>/<device>/# on the central broker; <site>/<device>/model/desired
comes in to edge/<device>/model/desired. See docs/fleet.md."""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bridge_command", metavar="ACTION", required=True)
    c = sub.add_parser("config", help="print the static mosquitto.conf of the local bridged broker")
    c.add_argument("--site", required=True, help="the site: central topics are <site>/<device>/...")
    c.add_argument("--device", required=True, metavar="ID", help="the device id (the app config's device_id)")
    c.add_argument("--central", required=True, metavar="URL", help="mqtts://host[:port] (TLS) or mqtt://host[:port]")
    c.add_argument("--ca", metavar="FILE", help="CA of the central broker's certificate (default: the system's CAs)")
    c.add_argument("--cert", metavar="FILE", help="client certificate (its key: the credential bridge-tls-key)")
    c.add_argument("--username", help="user on the central broker (the password: the credential bridge-password)")
    c.add_argument("--prefix", default="edge", help="the daemon's topic prefix (default edge)")
    c.add_argument("--port", type=int, default=1883, help="the local listener's port on 127.0.0.1 (default 1883)")
    c.add_argument("--queue-messages", type=int, default=200_000, help="bridge queue limit in messages (default 200000)")
    c.add_argument("--queue-mb", type=int, default=512, help="bridge queue limit in MiB (default 512; 0: none)")
    c.add_argument("--persistence", default="/var/lib/edge-sdk-broker", metavar="DIR", help="persistence folder")
    c.add_argument("--protocol", choices=("mqttv311", "mqttv50"), default="mqttv311", help="bridge protocol")
    c.add_argument("--try-private", action="store_true", help="Mosquitto-to-Mosquitto bridge marker (loop guard)")
    r = sub.add_parser("runtime", help="write the runtime config: the static one plus secrets from systemd credentials")
    r.add_argument("--config", required=True, metavar="FILE", help="the static mosquitto.conf")
    r.add_argument("--out", required=True, metavar="FILE", help="where mosquitto reads its config (0600)")
    r.add_argument("--owner", metavar="USER", help="give the file to this user (the broker's)")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.errors import ConfigError

    try:
        if args.bridge_command == "config":
            from edge_sdk.fleet.bridge import render_config

            print(render_config(settings_from_args(args)), end="")
            return 0
        return _runtime(args)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def settings_from_args(args: argparse.Namespace) -> BridgeSettings:
    from edge_sdk.fleet.bridge import BridgeSettings
    from edge_sdk.provision.compose import parse_broker

    central = parse_broker(args.central)
    if central.get("password"):
        from edge_sdk.errors import ConfigError

        raise ConfigError("--central must not carry a password", fix="put it in the credential bridge-password")
    return BridgeSettings(site=args.site, device_id=args.device, central_host=central["host"],
                          central_port=central["port"], local_prefix=args.prefix, local_port=args.port,
                          username=args.username or central.get("username"), ca_file=args.ca, cert_file=args.cert,
                          tls="tls" in central, protocol=args.protocol, try_private=args.try_private,
                          max_queued_messages=args.queue_messages, max_queued_bytes=args.queue_mb << 20,
                          persistence_dir=args.persistence)


def _runtime(args: argparse.Namespace) -> int:
    import pwd

    from edge_sdk.errors import ConfigError
    from edge_sdk.fleet.bridge import write_runtime_config

    owner = None
    if args.owner:
        try:
            entry = pwd.getpwnam(args.owner)
        except KeyError:
            raise ConfigError(f"--owner {args.owner}: no such user", fix="install mosquitto (it makes the user)") from None
        owner = (entry.pw_uid, entry.pw_gid)
    static = Path(args.config)
    if not static.is_file():
        raise ConfigError("the broker's static config does not exist", where=str(static),
                          fix="re-run edge-sdk provision with --bridge")
    write_runtime_config(static, Path(args.out), owner=owner)
    return 0
