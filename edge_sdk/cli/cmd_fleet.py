"""`edge-sdk fleet status`: every device's model, rollout state, fps, cameras and last report."""

from __future__ import annotations

import argparse
import json

COMMAND = "fleet"
HELP = "the fleet as its devices report it (model version, precision, rollout, fps, cameras, last seen)"
EPILOG = """examples:
  edge-sdk fleet status --broker central.example:1883                   every site and device, as a table
  edge-sdk fleet status --broker central.example:1883 --site plant-3 --json
  edge-sdk fleet status --config app.yaml --site edge                   one device's own broker (no bridge)

It reads the retained <site>/<device>/model/reported, stats, status and bridge messages (what the bridge maps
from each device's edge/<device>/...); a device that never reported is not listed. See docs/fleet.md."""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)
    s = sub.add_parser("status", help="print the fleet's reported state")
    s.add_argument("--broker", metavar="HOST[:PORT]", help="the central broker (default: the config's, else 127.0.0.1:1883)")
    s.add_argument("--config", "-c", metavar="FILE", help="take broker, TLS and credentials from an app config")
    s.add_argument("--site", default="+", help="only this site (default: all; on a broker without a bridge: the prefix)")
    s.add_argument("--wait", type=float, default=3.0, metavar="S", help="collect for at most S seconds (default 3)")
    s.add_argument("--json", action="store_true", help="one JSON document: a list of devices")
    s.add_argument("--username", help="user name")
    s.add_argument("--password-env", metavar="VAR", help="environment variable holding the password")
    s.add_argument("--ca", metavar="FILE", help="CA certificate (PEM) of the broker; turns TLS on")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from edge_sdk.cli.cmd_subscribe import _broker
    from edge_sdk.errors import ConfigError
    from edge_sdk.fleet.status import collect, table

    if args.wait <= 0:
        raise ConfigError("--wait must be positive")
    if any(c in args.site for c in "/#") or not args.site:
        raise ConfigError(f"--site {args.site!r}: one topic level, without '/' or '#'")
    for name in ("cert", "key", "tls", "no_check_hostname", "protocol", "session_expiry"):
        setattr(args, name, None)
    args.prefix = None
    broker, _prefix = _broker(args)
    broker = replace(broker, connect_timeout_s=min(broker.connect_timeout_s, args.wait + 2))
    rows = collect(broker, args.site, wait_s=args.wait)
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=2))
    else:
        print(table(rows) if rows else f"no device has reported on {broker.url} (site {args.site})")
    return 0
