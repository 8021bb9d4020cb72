"""TensorRT's text calibration cache, written from the same ranges as the Q/DQ models.

    TRT-100300-EntropyCalibration2
    images: 3c010204
    /model.0/conv/Conv_output_0: 3d0b5c2a

First line: `TRT-<version number>-<calibrator>`; TensorRT 8.6.1 is 8601 (major*1000 + minor*100 + patch),
10.3.0 is 100300 (major*10000 + minor*100 + patch). Then one `tensor: scale` line per tensor, the scale
(amax / 127, symmetric INT8) as the 8 hex digits of its big-endian float32. Tensor names are the FP32 ONNX
tensor names, which TensorRT's ONNX parser keeps. The header names EntropyCalibration2 whatever method
made the ranges: it is the calibrator class that reads the cache back (edge-sdk's cache-only
IInt8EntropyCalibrator2, which DLA INT8 on TensorRT 8.6/10.x needs); TensorRT ignores a cache whose
header names another calibrator.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

from edge_sdk.quant.stats import TensorRanges

CALIBRATOR = "EntropyCalibration2"
#: Smallest scale written: TensorRT rejects zero scales (a tensor that was constant 0 during calibration).
MIN_SCALE = 1e-8


def version_number(version: str) -> int:
    """'8.6.1' -> 8601, '10.3.0' -> 100300 (the number TensorRT writes in cache headers)."""
    major, minor, patch = (int(p) for p in version.split(".")[:3])
    return major * 1000 + minor * 100 + patch if major < 10 else major * 10000 + minor * 100 + patch


def scale_hex(scale: float) -> str:
    return struct.pack(">f", scale).hex()


def cache_text(ranges: TensorRanges, version: str) -> str:
    lines = [f"TRT-{version_number(version)}-{CALIBRATOR}"]
    for name in sorted(ranges.ranges):
        amax = ranges.amax(name)
        if not math.isfinite(amax):
            continue
        lines.append(f"{name}: {scale_hex(max(amax / 127.0, MIN_SCALE))}")
    return "\n".join(lines) + "\n"


def cache_file_name(version: str) -> str:
    return f"calibration.trt{version_number(version)}.cache"


def write_cache(ranges: TensorRanges, version: str, folder: Path) -> Path:
    """Write the cache for `version` into `folder` (callers stage it; see artifacts.py)."""
    path = folder / cache_file_name(version)
    path.write_text(cache_text(ranges, version), encoding="utf-8")
    return path


def ensure_cache(build_folder: Path, version: str) -> Path:
    """The cache for the installed TensorRT `version` in a published build folder, written atomically from
    its ranges.json when build.trt_versions did not list that version."""
    from edge_sdk.atomic import write_text_atomic
    from edge_sdk.errors import BuildError

    path = build_folder / cache_file_name(version)
    if path.is_file():
        return path
    ranges_path = build_folder / "ranges.json"
    if not ranges_path.is_file():
        raise BuildError("the INT8 build has no ranges.json to write a calibration cache from", where=str(build_folder),
                         fix="run `edge-sdk build --config FILE --force`")
    write_text_atomic(path, cache_text(TensorRanges.load(ranges_path), version))
    return path
