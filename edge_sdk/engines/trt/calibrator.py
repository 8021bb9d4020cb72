"""The calibration cache, and the cache-only calibrator that DLA INT8 needs on TensorRT 8.6 and 10.x.

The INT8 step (edge_sdk/quant/) writes TensorRT's text calibration cache next to the Q/DQ model:

    TRT-100300-EntropyCalibration2
    images: 3c010a14
    /model.0/conv/Conv_output_0: 3d0b5c2a

(one `tensor: scale` line per tensor, the scale as the hex of its float32 bits). On the GPU, TensorRT takes
INT8 scales from the Q/DQ nodes; DLA on 8.6/10.x takes them from an INT8 calibrator, so edge-sdk gives it
one that only returns this cache. It never calibrates on the device: if TensorRT asks it for a batch, the
cache lacks scales and the build is refused (`CacheOnlyCalibrator.asked_for_data`).
"""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.engines.trt.version import TrtVersion
from edge_sdk.errors import CalibrationError

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger(__name__)

_HEADER = re.compile(r"^TRT-(\d+)-(\w+)$")
_LINE = re.compile(r"^(?P<name>.+): (?P<hex>[0-9a-fA-F]{8})$")


def lib_version_number(version: TrtVersion) -> int:
    """The number TensorRT writes in a cache header: 8602 for 8.6.2, 100300 for 10.3.0."""
    if version.major < 10:
        return version.major * 1000 + version.minor * 100 + version.patch
    return version.major * 10000 + version.minor * 100 + version.patch


def read_calibration_cache(path: Path, version: TrtVersion | None = None) -> tuple[bytes, dict[str, float]]:
    """Read and check a calibration cache; returns its bytes and the scales by tensor name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CalibrationError(f"cannot read the calibration cache: {exc.strerror}", where=str(path),
                               fix="run the INT8 step (edge-sdk build) to write it") from None
    lines = data.decode("ascii", errors="replace").splitlines()
    header = _HEADER.match(lines[0].strip()) if lines else None
    if header is None:
        raise CalibrationError("not a TensorRT calibration cache (the first line should be like "
                               "'TRT-100300-EntropyCalibration2')", where=f"{path}:1",
                               fix="pass the .cache file written by the INT8 step, not the Q/DQ model or images")
    if header.group(2) != "EntropyCalibration2":
        raise CalibrationError(f"calibration cache algorithm is {header.group(2)}; DLA needs EntropyCalibration2",
                               where=f"{path}:1", fix="re-run the INT8 step")
    scales: dict[str, float] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        m = _LINE.match(line.strip())
        if m is None:
            raise CalibrationError(f"malformed line {line[:80]!r}; expected '<tensor>: <8 hex digits>'",
                                   where=f"{path}:{number}", fix="re-run the INT8 step to rewrite the cache")
        scale = struct.unpack(">f", bytes.fromhex(m.group("hex")))[0]
        if not scale > 0 or scale != scale:
            raise CalibrationError(f"tensor {m.group('name')!r} has scale {scale}; scales must be positive",
                                   where=f"{path}:{number}", fix="re-run the INT8 step")
        scales[m.group("name")] = scale
    if not scales:
        raise CalibrationError("the calibration cache holds no scales", where=str(path), fix="re-run the INT8 step")
    if version is not None and int(header.group(1)) != lib_version_number(version):
        log.warning("calibration cache %s was written for TensorRT %s, this is %s (%d); TensorRT may reject it",
                    path, header.group(1), version.text, lib_version_number(version))
    return data, scales


class CacheOnlyCalibrator:
    """Holds the TensorRT calibrator object and whether TensorRT asked it for data (it must not)."""

    def __init__(self, cache: bytes) -> None:
        self.cache = cache
        self.asked_for_data = False
        self.calibrator: trt.IInt8EntropyCalibrator2 = _make_calibrator(self)


def _make_calibrator(owner: CacheOnlyCalibrator) -> trt.IInt8EntropyCalibrator2:
    import tensorrt as trt

    class _CacheOnly(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int]:
            # Only reached when the cache misses scales. An empty list ends calibration (as None does).
            owner.asked_for_data = True
            log.error("TensorRT asked for calibration data for %s: the calibration cache lacks their scales",
                      ", ".join(names))
            return []

        def read_calibration_cache(self) -> bytes:
            return owner.cache

        def write_calibration_cache(self, cache: memoryview | bytes) -> None:
            return None  # the cache is the INT8 step's; never rewritten on the device

    return _CacheOnly()
