"""One exception hierarchy for edge-sdk.

Every user-facing error says what went wrong, where (file, key, line, URI) and what to do.
Expected runtime conditions (end of stream, timeout, broker offline) are values, not exceptions.
"""

from __future__ import annotations

from typing import Any


class EdgeSdkError(Exception):
    """Base of all edge-sdk errors. `str(err)` is the message shown to the user, without traceback."""

    exit_code = 1

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

    exit_code = 2


class ModelError(EdgeSdkError):
    """A model file is missing, corrupt, or not a detection model edge-sdk understands."""


class SourceError(EdgeSdkError):
    """A frame source cannot be opened."""


class EngineError(EdgeSdkError):
    """An inference engine failed to load or run."""


class EngineInputError(EngineError, ValueError):
    """The arrays given to `Engine.infer` do not match the engine's inputs (count, names, dtype, shape).

    Also a ValueError: a bad argument, raised before anything runs."""


class DependencyMissing(EdgeSdkError):
    """An optional dependency (tensorrt, pycuda, gi, ...) is not installed."""

    def __init__(self, package: str, *, needed_for: str, jetson: str, elsewhere: str) -> None:
        self.package = package
        super().__init__(
            f"{package} is not installed; it is needed for {needed_for}",
            fix=f"on a Jetson: {jetson}; elsewhere: {elsewhere}",
        )


class PublishError(EdgeSdkError):
    """MQTT publishing cannot be set up (bad TLS files, refused credentials, ...)."""


class CalibrationError(EdgeSdkError):
    """Calibration frames are missing, too few or unusable."""


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


class BundleError(EdgeSdkError):
    """A model bundle cannot be made, read, or trusted (bad signature, tampered file, unknown key)."""
