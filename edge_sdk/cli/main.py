"""Entry point of the `edge-sdk` console script: builds the parser from the cmd_* modules and turns
`EdgeSdkError` into one clear message and a non-zero exit, without a traceback."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import signal
import sys
from types import ModuleType

from edge_sdk import __version__
from edge_sdk.errors import EdgeSdkError, ExitCode, exit_code_table
from edge_sdk.signals import StopSignal, raise_on_stop_signals

EPILOG = """examples:
  edge-sdk run --config configs/demo.yaml                   run the daemon in the foreground
  edge-sdk config validate app.yaml                         check a config without running it
  edge-sdk subscribe --broker 127.0.0.1:1883 --camera cam0  watch detections arrive
  edge-sdk bench --config configs/demo.yaml --json          engine vs pipeline throughput
  edge-sdk doctor                                           what this machine can do
  edge-sdk provision --device orin --dry-run                what provisioning would do

Run `edge-sdk COMMAND --help` for each command's options and examples.

exit status (every command):
""" + exit_code_table()


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
    """Run one command; returns its exit code (errors.EXIT_CODES). SIGINT/SIGTERM are StopSignal from the first
    line on (edge_sdk/signals.py), so an early Ctrl-C, while the commands' modules load, is one line too."""
    raise_on_stop_signals()
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return ExitCode.USAGE
        from edge_sdk.log import setup_logging

        setup_logging("DEBUG" if args.verbose else None)
        code: int = args._run(args)
        return code
    except EdgeSdkError as exc:
        if getattr(args, "json", False):  # a --json caller reads stdout: the error is JSON there too
            import json

            print(json.dumps({"ok": False, "error": {"type": type(exc).__name__, "message": exc.message,
                                                     "where": exc.where, "fix": exc.fix,
                                                     "exit_code": exc.exit_code}}))
        print(f"{_name(args)}: error: {exc.render()}", file=sys.stderr)
        if args is not None and args.verbose:
            logging.getLogger("edge_sdk").exception("details")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, StopSignal) else StopSignal(signal.SIGINT)
        if args is None and _first_word(sys.argv[1:] if argv is None else argv) == "run":
            # still loading the commands: `run` stops cleanly on a stop signal at any time (exit 0)
            print(f"edge-sdk run: stopped by {stop.name} before start-up", file=sys.stderr)
            return ExitCode.OK
        print(f"{_name(args)}: interrupted ({stop.name})", file=sys.stderr)
        return stop.exit_code
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        # A command-line override assigned to a validated config field (e.g. --broker host:99999).
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"{_name(args)}: error: invalid option value: {problems}", file=sys.stderr)
        return ExitCode.USAGE


def _first_word(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _name(args: argparse.Namespace | None) -> str:
    command = getattr(args, "command", None)
    return f"edge-sdk {command}" if command else "edge-sdk"


if __name__ == "__main__":
    sys.exit(main())
