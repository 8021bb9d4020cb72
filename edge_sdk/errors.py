"""One exception hierarchy for edge-sdk, and the one table of exit codes every command uses.

Every user-facing error says what went wrong, where (file, key, line, URI) and what to do.
Expected runtime conditions (end of stream, timeout, broker offline) are values, not exceptions.
Each error class carries its exit code (`ExitCode`), so the same mistake exits the same way from every
command: a missing model is 3 from `config validate`, `run`, `bench` and `build` alike. `edge-sdk --help` and
the README print `EXIT_CODES`.
"""

from __future__ import annotations

import enum
from typing import Any


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    MODEL = 3
    INPUT = 4
    DEPENDENCY = 5
    DEVICE = 6
    BROKER = 7
    INTERRUPTED = 130  # 128 + SIGINT; a SIGTERM gives 128 + 15 = 143


#: What each exit code means, in the order `edge-sdk --help` and the README list them.
EXIT_CODES: dict[int, str] = {
    ExitCode.OK: "success; also `run` stopped by SIGINT/SIGTERM (a clean stop) or at the end of its source",
    ExitCode.FAILED: "the work ran and failed: a selftest or doctor check, the INT8 accuracy gate, an engine "
                     "build or inference, the pipeline",
    ExitCode.USAGE: "bad command line, or a config file or value that is invalid",
    ExitCode.MODEL: "the model is missing, unreadable or not a detector edge-sdk can run; a model bundle cannot be "
                    "read, trusted or made",
    ExitCode.INPUT: "a camera, video or the calibration frames cannot be opened or are unusable",
    ExitCode.DEPENDENCY: "an optional dependency is missing (tensorrt, pycuda, gi, ...): the message says how to "
                         "install it",
    ExitCode.DEVICE: "this device cannot do what was asked (no GPU, no DLA core, too little memory)",
    ExitCode.BROKER: "the MQTT broker is unreachable, refuses the credentials, or TLS cannot be set up",
    ExitCode.INTERRUPTED: "interrupted by SIGINT (Ctrl-C); 143 for SIGTERM (other commands than `run`)",
}


#: Exit codes of mistakes a restart cannot fix: a bad config or option, a missing or unusable model, files that
#: cannot be opened, a missing dependency, a device that cannot do what was asked. The systemd unit lists them in
#: RestartPreventExitStatus=, so systemd does not start the service again and again on a bad config (it ends
#: `failed` at once, the reason in the journal). 1 (the work failed), 7 (the broker: it may come back) and signals
#: are restarted.
NO_RESTART_EXIT_CODES: tuple[ExitCode, ...] = (ExitCode.USAGE, ExitCode.MODEL, ExitCode.INPUT, ExitCode.DEPENDENCY,
                                               ExitCode.DEVICE)


def exit_code_table() -> str:
    """The table as text (for `--help`)."""
    return "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())


class EdgeSdkError(Exception):
    """Base of all edge-sdk errors. `str(err)` is the message shown to the user, without traceback."""

    exit_code: int = ExitCode.FAILED

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        parts = []
        if self.where:
            parts.append(f"{self.where}: ")
        parts.append(self.message)
        if self.fix:
            parts.append(f"\n  fix: {self.fix}")
        return "".join(parts)


class ConfigError(EdgeSdkError):
    """A configuration file or option is invalid."""

    exit_code = ExitCode.USAGE


class ModelError(EdgeSdkError):
    """A model file is missing, corrupt, or not a detection model edge-sdk understands."""

    exit_code = ExitCode.MODEL


class SourceError(EdgeSdkError):
    """A frame source cannot be opened."""

    exit_code = ExitCode.INPUT


class EngineError(EdgeSdkError):
    """An inference engine failed to load or run."""


class EngineInputError(EngineError, ValueError):
    """The arrays given to `Engine.infer` do not match the engine's inputs (count, names, dtype, shape).

    Also a ValueError: a bad argument, raised before anything runs."""


class DependencyMissing(EdgeSdkError):
    """An optional dependency (tensorrt, pycuda, gi, ...) is not installed."""

    exit_code = ExitCode.DEPENDENCY

    def __init__(self, package: str, *, needed_for: str, jetson: str, elsewhere: str) -> None:
        self.package = package
        super().__init__(
            f"{package} is not installed; it is needed for {needed_for}",
            fix=f"on a Jetson: {jetson}; elsewhere: {elsewhere}",
        )


class PublishError(EdgeSdkError):
    """MQTT publishing cannot be set up (bad TLS files, refused credentials, an unreachable broker, ...)."""

    exit_code = ExitCode.BROKER


class CalibrationError(EdgeSdkError):
    """Calibration frames are missing, too few or unusable."""

    exit_code = ExitCode.INPUT


class BuildError(EdgeSdkError):
    """Quantization or engine build failed, or the accuracy gate refused the result."""


class GateFailed(BuildError):
    """The accuracy gate refused the INT8 model; `report` is the full build report (written beside it)."""

    def __init__(self, message: str, report: dict[str, Any], *, where: str | None = None, fix: str | None = None) -> None:
        self.report = report
        super().__init__(message, where=where, fix=fix)


class CheckFailed(EdgeSdkError):
    """A check on this device ran and its result is wrong (a selftest step: engine outputs beyond tolerance, a
    cache not reused). Not a mistake in the input; `data` (figures, paths) goes into the report."""

    def __init__(self, message: str, data: dict[str, object] | None = None) -> None:
        self.data = data or {}
        super().__init__(message)


class DeviceError(EdgeSdkError):
    """The device (board, DLA core, GPU) cannot do what was asked."""

    exit_code = ExitCode.DEVICE


class BundleError(EdgeSdkError):
    """A model bundle cannot be made, read, or trusted (bad signature, tampered file, unknown key)."""

    exit_code = ExitCode.MODEL
