"""Calibration statistics: the range of every float tensor of the FP32 model over the calibration frames.

The build collects MinMax and Percentile statistics itself over the tensors its forms quantize (collect.py, the
same statistics in a fraction of the CPU time); Entropy, and callers that name no tensors, use
onnxruntime.quantization's calibrators. Every frame is preprocessed with the run-time letterbox and fed one at a
time (memory stays flat however many frames there are). One
`TensorRanges` then feeds everything: the TensorRT-form Q/DQ model, the CPU-form Q/DQ model and the
TensorRT calibration cache, so all three agree.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.calibration.dataset import FrameFile
from edge_sdk.calibration.images import read_image
from edge_sdk.calibration.progress import Progress
from edge_sdk.errors import CalibrationError, ModelError
from edge_sdk.preprocess.letterbox import letterbox

if TYPE_CHECKING:
    from edge_sdk.preprocess.spec import PreprocessSpec

log = logging.getLogger(__name__)

ORT_METHOD_NAMES = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


@dataclass(frozen=True)
class StatsSettings:
    method: str  # minmax, entropy, percentile
    percentile: float = 99.999
    histogram_bins: int = 2048
    entropy_quantized_bins: int = 128  # TensorRT's entropy calibration also uses 128 quantized bins

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"method": self.method}
        if self.method != "minmax":
            d["histogram_bins"] = self.histogram_bins
        if self.method == "percentile":
            d["percentile"] = self.percentile
        if self.method == "entropy":
            d["entropy_quantized_bins"] = self.entropy_quantized_bins
        return d


@dataclass
class TensorRanges:
    """Calibrated [lo, hi] of each tensor by name, and the method that produced them."""

    method: str
    ranges: dict[str, tuple[float, float]]

    def amax(self, name: str) -> float:
        lo, hi = self.ranges[name]
        return max(abs(lo), abs(hi))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "tensors": {k: [lo, hi] for k, (lo, hi) in sorted(self.ranges.items())}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorRanges:
        return cls(str(data["method"]), {k: (float(v[0]), float(v[1])) for k, v in data["tensors"].items()})

    def write_ort_cache(self, path: Path) -> Path:
        """Write the ranges in onnxruntime.quantization's calibration-cache JSON (quantize_static reads it)."""
        from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData, save_tensors_data

        data = {k: TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for k, (lo, hi) in self.ranges.items()}
        save_tensors_data(TensorsData(CalibrationMethod[ORT_METHOD_NAMES[self.method]], data), path)
        return path

    def save(self, path: Path) -> None:
        from edge_sdk.atomic import write_json_atomic

        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> TensorRanges:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def preprocess_file(frame: FrameFile, how: PreprocessSpec | tuple[int, int]) -> np.ndarray:
    """A frame file as the model input, exactly as at run time: by the model's PreprocessSpec (what
    edge_sdk.model.resolve settled: resize, pad, channel order, scale, mean/std, layout), or letterboxed to
    (height, width) with the default spec."""
    img = read_image(frame.path)
    if img is None:
        raise CalibrationError("frame became unreadable during the build", where=str(frame.path),
                               fix="do not change the calibration folder while a build runs")
    if isinstance(how, tuple):
        x, _ = letterbox(img, how)
        return x
    from edge_sdk.preprocess import preprocess

    return preprocess(img, how)[0]


class _OneFrame:
    """A CalibrationDataReader that yields one input dict, then None."""

    def __init__(self, feed: dict[str, np.ndarray]) -> None:
        self._feed: dict[str, np.ndarray] | None = feed

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed, self._feed = self._feed, None
        return feed


def iter_inputs(frames: Sequence[FrameFile], size: PreprocessSpec | tuple[int, int]) -> Iterator[np.ndarray]:
    for f in frames:
        yield preprocess_file(f, size)


def collect_ranges(model_path: Path, frames: Sequence[FrameFile], input_name: str, size: PreprocessSpec | tuple[int, int],
                   settings: StatsSettings, *, progress: bool = True, tensors: set[str] | None = None,
                   threads: int = 0) -> TensorRanges:
    """The range of each tensor over `frames`: with `tensors` (those the forms quantize) and MinMax or Percentile,
    edge-sdk's collector (collect.py); otherwise onnxruntime.quantization's calibrator over every float tensor."""
    if tensors is not None and settings.method in ("minmax", "percentile"):
        from edge_sdk.quant.collect import collect

        found = collect(model_path, frames, input_name, lambda f: preprocess_file(f, size), tensors, settings.method,
                        settings.percentile, bins=settings.histogram_bins, threads=threads, progress=progress)
        return TensorRanges(settings.method, found)
    return _ort_ranges(model_path, frames, input_name, size, settings, progress)


def _ort_ranges(model_path: Path, frames: Sequence[FrameFile], input_name: str, size: PreprocessSpec | tuple[int, int],
                settings: StatsSettings, progress: bool) -> TensorRanges:
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    from edge_sdk.quant.entropy import QuietHistogramCollector

    method = ORT_METHOD_NAMES[settings.method]
    options: dict[str, Any] = {"symmetric": settings.method == "percentile"}
    if settings.method != "minmax":
        options.update(num_bins=settings.histogram_bins, num_quantized_bins=settings.entropy_quantized_bins,
                       percentile=settings.percentile)
    with tempfile.TemporaryDirectory(prefix="edge-sdk-calib-") as tmp:
        try:
            calibrator = create_calibrator(model_path, None, augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                                           calibrate_method=CalibrationMethod[method], extra_options=options)
        except Exception as exc:  # ORT raises InvalidGraph, Fail, ValueError, ...
            raise ModelError(f"onnxruntime.quantization cannot prepare the model for calibration: {exc}",
                             where=str(model_path)) from exc
        if settings.method != "minmax":
            calibrator.collector = QuietHistogramCollector(
                method=settings.method, symmetric=options["symmetric"], num_bins=settings.histogram_bins,
                num_quantized_bins=settings.entropy_quantized_bins, percentile=settings.percentile, scenario="same")
        with Progress(len(frames), f"calibrating ({settings.method})", enabled=progress) as bar:
            for x in iter_inputs(frames, size):
                with contextlib.redirect_stdout(io.StringIO()):
                    calibrator.collect_data(_OneFrame({input_name: x}))
                bar.update(1)
        log.info("computing %s ranges of the calibrated tensors", settings.method)
        data = calibrator.compute_data()
    ranges: dict[str, tuple[float, float]] = {}
    for name, td in data.items():
        lo, hi = td.range_value
        ranges[name] = (float(np.min(lo)), float(np.max(hi)))
    return TensorRanges(settings.method, ranges)
