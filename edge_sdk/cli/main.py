"""Entry point of the `edge-sdk` console script: builds the parser from the cmd_* modules and turns
`EdgeSdkError` into one clear message and a non-zero exit, without a traceback."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from types import ModuleType

from edge_sdk import __version__
from edge_sdk.errors import EdgeSdkError

EPILOG = """examples:
  edge-sdk run --config configs/demo.yaml                   run the daemon in the foreground
  edge-sdk config validate app.yaml                         check a config without running it
  edge-sdk subscribe --broker 127.0.0.1:1883 --camera cam0  watch detections arrive
  edge-sdk bench --config configs/demo.yaml --json          engine vs pipeline throughput
  edge-sdk doctor                                           what this machine can do
  edge-sdk provision --device orin --dry-run                what provisioning would do

Run `edge-sdk COMMAND --help` for each command's options and examples."""


def _commands() -> list[ModuleType]:
    import edge_sdk.cli as pkg

    mods = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"edge_sdk.cli.{info.name}"))
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-sdk", description="Detection models from ONNX to a supervised service on Jetson Orin (or any CPU).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"edge-sdk {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _commands():
        p = sub.add_parser(mod.COMMAND, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           epilog=getattr(mod, "EPILOG", None), formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.register(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from edge_sdk.log import setup_logging

    setup_logging("DEBUG" if args.verbose else None)
    _interruptible()
    try:
        code: int = args._run(args)
        return code
    except EdgeSdkError as exc:
        if getattr(args, "json", False):  # a --json caller reads stdout: the error is JSON there too
            import json

            print(json.dumps({"ok": False, "error": {"type": type(exc).__name__, "message": exc.message,
                                                     "where": exc.where, "fix": exc.fix,
                                                     "exit_code": exc.exit_code}}))
        print(f"edge-sdk {args.command}: error: {exc.render()}", file=sys.stderr)
        if args.verbose:
            logging.getLogger("edge_sdk").exception("details")
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"edge-sdk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        # A command-line override assigned to a validated config field (e.g. --broker host:99999).
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"edge-sdk {args.command}: error: invalid option value: {problems}", file=sys.stderr)
        return 2


def _interruptible() -> None:
    """SIGINT (Ctrl-C, `kill -INT`) raises KeyboardInterrupt in every command, also when the parent started us
    with SIGINT ignored (a shell's background job, `nohup ... &`, some CI runners): Python keeps an inherited
    SIG_IGN, and then `calibrate capture` or `subscribe` could not be interrupted at all."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():  # signal handlers: main thread only
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
