"""`edge-sdk provision --device ...`: install the detection service on this device (or into --prefix)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_sdk.errors import ExitCode

COMMAND = "provision"
HELP = "turn this device into a supervised detection service (config, model, engine, environment, user, unit)"
EPILOG = """examples:
  sudo edge-sdk provision --device orin --config configs/orin.yaml  detect the Orin board, build, install, start
  sudo edge-sdk provision --device orin-nx --model det.onnx --source csi://0 --broker mqtt://10.0.0.2
  sudo edge-sdk provision --device cpu --config configs/demo.yaml   the demo as a service on any Linux machine
  edge-sdk provision --device cpu --config app.yaml --prefix /tmp/image --json   build an install tree
  edge-sdk provision --device orin --config app.yaml --dry-run       print every action without doing it
  sudo EDGE_SDK_BRIDGE_PASSWORD=... edge-sdk provision --device orin --config app.yaml \
      --bridge mqtts://cam-box-1@fleet.example:8883 --site plant-3 --bridge-ca fleet-ca.pem --trust-key fleet.key.pub
                                                                    a local Mosquitto bridged to the fleet's broker,
                                                                    and rollouts of bundles signed by fleet.key

The engine is the device profile's (TensorRT on every Orin, ONNX Runtime on cpu); a config that asks for
another is refused unless --engine names it. The service runs from its own environment,
/opt/edge-sdk/venv, with this edge-sdk installed into it (pip; PIP_* settings apply, e.g. an offline device:
PIP_NO_INDEX=1 PIP_FIND_LINKS=/media/wheels). Each step compares what it wants with what is there: a second
run with nothing changed changes nothing and says so. The last line says what was installed: engine,
precision and where it runs (CPU, GPU or a DLA core).
Under --prefix the service user, environment and systemctl steps are skipped (and reported so); paths
inside the installed files are the runtime ones (/etc/edge-sdk, /var/lib/edge-sdk, /opt/edge-sdk).
Exit status: 0 when provisioned (or nothing to do), 1 when a step failed (the report says which), else the
error's code (2 a bad option or config, 3 the model, ...: see `edge-sdk --help`)."""


def engine_types() -> list[str]:
    """The engine types, listed from edge_sdk/engines/backends/ without importing it: a backend module is named
    after its type (engines/registry.py checks that). Importing the registry (numpy, pydantic, every backend)
    made `edge-sdk --help` and every other command, which build this parser too, 0.3 s slower."""
    import pkgutil

    import edge_sdk

    folder = Path(edge_sdk.__file__).parent / "engines" / "backends"
    return sorted(m.name for m in pkgutil.iter_modules([str(folder)]))


def register(p: argparse.ArgumentParser) -> None:
    from edge_sdk.config.precision import PRECISIONS
    from edge_sdk.provision import DEVICES

    p.add_argument("--device", required=True, choices=DEVICES, help="device profile; `orin` detects the board")
    p.add_argument("--config", "-c", type=Path, default=None, help="the app's YAML config to install")
    p.add_argument("--model", type=Path, default=None, metavar="ONNX", help="the FP32 ONNX model (overrides model.path)")
    p.add_argument("--source", default=None, metavar="URI", help="the first camera's URI (overrides the config)")
    p.add_argument("--broker", default=None, metavar="URL", help="mqtt://[user[:password]@]host[:port] or mqtts://...")
    p.add_argument("--engine", choices=engine_types(), default=None,
                   help="default: the device profile's (tensorrt on Orin, onnxruntime on cpu); needed to install "
                        "another engine than the profile's")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="default: the config's model.precision, else the profile's (int8 on Orin, fp32 on cpu)")
    p.add_argument("--package", type=Path, default=None, metavar="WHEEL|DIR",
                   help="the edge-sdk to install into /opt/edge-sdk/venv (default: where this one came from)")
    p.add_argument("--prefix", type=Path, default=None, metavar="DIR", help="install into DIR instead of /")
    p.add_argument("--tune", action="store_true", help="apply the profile's nvpmodel mode and jetson_clocks (Orin)")
    p.add_argument("--validate-frames", type=int, default=30, metavar="N", help="frames of the smoke run (default 30)")
    p.add_argument("--dry-run", action="store_true", help="print every action without doing it")
    p.add_argument("--no-enable", action="store_true", help="install but do not enable or start the service")
    p.add_argument("--json", action="store_true", help="print the report (or the error) as JSON")
    f = p.add_argument_group("fleet (docs/fleet.md)")
    f.add_argument("--bridge", metavar="URL", help="install a local Mosquitto on 127.0.0.1 bridged to this central broker "
                                                  "(mqtts://[user@]host[:port]; password: $EDGE_SDK_BRIDGE_PASSWORD)")
    f.add_argument("--site", help="the fleet site: central topics are <site>/<device_id>/...")
    f.add_argument("--bridge-ca", type=Path, metavar="PEM", help="CA of the central broker's certificate")
    f.add_argument("--bridge-cert", type=Path, metavar="PEM", help="client certificate for the central broker")
    f.add_argument("--bridge-key", type=Path, metavar="PEM", help="its key (installed as the credential bridge-tls-key)")
    f.add_argument("--bridge-port", type=int, default=1883, metavar="N", help="the local broker's port (default 1883)")
    f.add_argument("--trust-key", type=Path, action="append", default=[], metavar="PUB",
                   help="an Ed25519 public key model bundles may be signed with (repeatable); turns rollouts on")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.errors import ConfigError
    from edge_sdk.provision import ProvisionOptions, run_provision

    if args.validate_frames < 1:
        raise ConfigError("--validate-frames must be at least 1", where="--validate-frames")
    for opt in ("bridge_ca", "bridge_cert", "bridge_key"):
        if getattr(args, opt) is not None and not getattr(args, opt).is_file():
            raise ConfigError(f"--{opt.replace('_', '-')} {getattr(args, opt)}: file not found")
    if (args.bridge_cert is None) != (args.bridge_key is None):
        raise ConfigError("--bridge-cert and --bridge-key must be given together")
    report = run_provision(ProvisionOptions(
        device=args.device, config=args.config, model=args.model, source=args.source, broker=args.broker,
        engine=args.engine, prefix=args.prefix.resolve() if args.prefix else None, dry_run=args.dry_run,
        no_enable=args.no_enable, tune=args.tune, precision=args.precision, validate_frames=args.validate_frames,
        package=args.package, bridge=args.bridge, site=args.site, bridge_ca=args.bridge_ca, bridge_cert=args.bridge_cert,
        bridge_key=args.bridge_key, bridge_local_port=args.bridge_port, trust_keys=list(args.trust_key)))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return ExitCode.FAILED if report.failed else ExitCode.OK
