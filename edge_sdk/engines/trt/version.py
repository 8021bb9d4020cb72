"""Which TensorRT is installed, and which of edge-sdk's three API paths it takes.

| path | TensorRT (JetPack) | network | precision | I/O at run time |
|---|---|---|---|---|
| "8.6" | 8.6.x (6.0) | EXPLICIT_BATCH flag | INT8/FP16 flags | bindings, execute_async_v2 |
| "10" | 10.x (6.1/6.2: 10.3; 7.2: 10.16) | explicit batch default | INT8/FP16 flags; DLA INT8: calib. cache | I/O tensors, v3 |
| "11" | 11.x (7.2.2+, AGX Orin) | STRONGLY_TYPED | tensor types; ONNX converted to FP16 | I/O tensors, execute_async_v3 |

Within a path the versions differ in what the device offers, not in the API edge-sdk calls: 10.3 (JetPack 6.2)
and 10.16 (JetPack 7.2) are both path "10", but 10.16 has no DLA on Orin (`TrtVersion.dla_supported`).

`require_tensorrt()` is the one place that imports TensorRT on purpose; it turns every way of not having
it (not installed, libraries missing, only `tensorrt-stubs` installed) into one DependencyMissing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from edge_sdk.device.jetpack import dla_on_orin
from edge_sdk.errors import DependencyMissing, DeviceError
from edge_sdk.lazy import missing

log = logging.getLogger(__name__)

ApiPath = Literal["8.6", "10", "11"]
API_PATHS: tuple[ApiPath, ...] = ("8.6", "10", "11")


@dataclass(frozen=True)
class Features:
    """What edge-sdk does differently on each API path (decided by version, never by probing)."""

    path: ApiPath
    explicit_batch_flag: bool  # create_network needs 1 << NetworkDefinitionCreationFlag.EXPLICIT_BATCH
    strongly_typed: bool  # 1 << STRONGLY_TYPED; no INT8/FP16 flags exist; ONNX converted to FP16
    precision_flags: bool  # BuilderFlag.INT8 / FP16
    dla_calibrator: bool  # DLA INT8 takes its scales from a calibration cache (IInt8EntropyCalibrator2)
    progress_monitor: bool  # IBuilderConfig.progress_monitor (IProgressMonitor)
    io_tensor_api: bool  # named I/O tensors and execute_async_v3 (else bindings and execute_async_v2)
    parser_node_names: bool  # ParserError.node_name() (8.6 gives only the node index)


FEATURES: dict[ApiPath, Features] = {
    "8.6": Features("8.6", explicit_batch_flag=True, strongly_typed=False, precision_flags=True,
                    dla_calibrator=True, progress_monitor=False, io_tensor_api=False, parser_node_names=False),
    "10": Features("10", explicit_batch_flag=False, strongly_typed=False, precision_flags=True,
                   dla_calibrator=True, progress_monitor=True, io_tensor_api=True, parser_node_names=True),
    "11": Features("11", explicit_batch_flag=False, strongly_typed=True, precision_flags=False,
                   dla_calibrator=False, progress_monitor=True, io_tensor_api=True, parser_node_names=True),
}


@dataclass(frozen=True)
class TrtVersion:
    text: str  # as TensorRT reports it, e.g. "10.3.0.30"
    major: int
    minor: int
    patch: int

    @property
    def triple(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def short(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def path(self) -> ApiPath:
        return api_path(self)

    @property
    def features(self) -> Features:
        return FEATURES[self.path]

    @property
    def dla_supported(self) -> bool:
        """Whether this TensorRT can build for DLA at all on Jetson Orin (the board must still have DLA cores):
        8.6 and 10.0-10.7 yes, 10.8+ and 11.0-11.3 no, 11.4+ yes (edge_sdk/device/jetpack.py)."""
        return dla_on_orin(self.text)


def parse_version(text: str) -> TrtVersion:
    m = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        raise ValueError(f"not a TensorRT version: {text!r}")
    return TrtVersion(text=text.strip(), major=int(m.group(1)), minor=int(m.group(2)), patch=int(m.group(3) or 0))


def api_path(version: TrtVersion) -> ApiPath:
    """The API path for a version; versions edge-sdk cannot drive raise DeviceError with the upgrade to make."""
    if version.major == 8 and version.minor >= 6:
        return "8.6"
    if version.major == 10:
        return "10"
    if version.major >= 11:
        if version.major > 11:
            log.warning("TensorRT %s is newer than edge-sdk knows (11.x); using the 11.x path", version.text)
        return "11"
    raise DeviceError(f"TensorRT {version.text} is not supported (edge-sdk drives 8.6, 10.x and 11.x)",
                      fix="upgrade to JetPack 6 or later (TensorRT 8.6 on JetPack 6.0, 10.3 on JetPack 6.1/6.2)")


def _missing(detail: str) -> DependencyMissing:
    return missing("tensorrt", needed_for="engine type tensorrt (building and running engines)", detail=detail)


def require_tensorrt() -> TrtVersion:
    """Import TensorRT and return its version, or raise DependencyMissing saying how to get it."""
    try:
        import tensorrt as trt
    except (ImportError, OSError) as exc:  # OSError: libnvinfer.so missing behind an installed wheel
        raise _missing(f"import failed: {exc}") from exc
    version = getattr(trt, "__version__", None)
    if not isinstance(version, str) or not hasattr(trt, "Builder"):
        # `tensorrt-stubs` installs a bare `tensorrt/` folder of .pyi files that imports as an empty namespace.
        where = list(getattr(trt, "__path__", []))
        raise _missing(f"only type stubs or an incomplete package found at {', '.join(map(str, where)) or '?'}")
    return parse_version(version)


def installed_version() -> TrtVersion | None:
    """The TensorRT version, or None where it is absent (for doctor and selftest)."""
    try:
        return require_tensorrt()
    except DependencyMissing:
        return None
