"""Calibration statistics of the tensors the Q/DQ forms quantize, collected by edge-sdk (MinMax and Percentile).

onnxruntime.quantization's calibrators record every float tensor of the model and rebuild each Percentile
histogram with np.histogram over explicit bin edges (a binary search per value): on the demo model 273 tensors,
57 M values a frame, about 0.6 CPU-s a frame for the histograms alone, 815 CPU-s for a whole build of 300 frames
where NNCF's quantization took 55. Here:
- only the tensors a form quantizes are recorded (the preflight's dry run lists them: the inputs of its
  QuantizeLinear nodes), as extra outputs of one ONNX Runtime session whose threads do not spin while idle
  (spinning burns CPU on a shared or busy machine and buys nothing here);
- MinMax: each tensor's smallest and largest value over all frames, as ORT's MinMax calibrator computes them;
- Percentile (symmetric, as the build asks ORT for it): the histogram of |x| ORT's collector keeps (2048 uniform
  bins over the first frame's |x| range, extended by whole bins when a later frame goes past its end; here the
  range starts at 0 rather than at the first frame's smallest |x|, which is 0 or next to it for activations) and
  the same threshold (the bin edge where the cumulative share reaches the percentile, clipped to the tensor's
  signed min and max over every value), filled with np.bincount on at most `SAMPLE` evenly strided values of
  each tensor and frame (every value of the small maps; 1 in a few of the large early ones, whose tails still
  hold hundreds of values above the threshold over a calibration set).
Entropy stays with ORT's collector (stats.py).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.calibration.dataset import FrameFile
from edge_sdk.calibration.progress import Progress

#: Values of one tensor and frame the Percentile histogram takes at most (an even stride over the tensor).
SAMPLE = 1 << 17
BINS = 2048


class AbsHistogram:
    """ORT's HistogramCollector.collect_absolute_value for one tensor, on uniform bins with np.bincount."""

    def __init__(self, bins: int = BINS) -> None:
        self.bins = bins
        self.counts: np.ndarray | None = None
        self.width = 1.0
        self.lo = math.inf  # signed min and max of every value seen
        self.hi = -math.inf

    def add(self, values: np.ndarray, sample: int = SAMPLE) -> None:
        flat = values.reshape(-1)
        if not flat.size:
            return
        self.lo, self.hi = min(self.lo, float(flat.min())), max(self.hi, float(flat.max()))
        a = np.abs(flat[:: max(1, flat.size // sample)])
        top = float(a.max())
        if self.counts is None:  # bins over [0, the first frame's largest |x|]
            self.width = top / self.bins if top > 0 else 1.0 / self.bins
            self.counts = np.zeros(self.bins, np.int64)
        if top > self.width * self.counts.size:  # more whole bins, as ORT's np.arange extension
            extra = int(math.ceil(top / self.width)) - self.counts.size + 1
            self.counts = np.concatenate([self.counts, np.zeros(extra, np.int64)])
        a *= np.float32(1.0 / self.width)
        idx = a.astype(np.int32)
        np.minimum(idx, self.counts.size - 1, out=idx)
        self.counts += np.bincount(idx, minlength=self.counts.size)

    def percentile_range(self, percentile: float) -> tuple[float, float]:
        if self.counts is None or not self.counts.sum():
            return 0.0, 0.0
        cdf = np.cumsum(self.counts / self.counts.sum())
        edge = self.width * int(np.searchsorted(cdf, percentile / 100.0))
        return max(-edge, self.lo), min(edge, self.hi)


def _session(model_path: Path, tensors: list[str], threads: int, tmp: Path) -> Any:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    present = {o.name for o in model.graph.output}
    model.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in tensors if t not in present)
    path = tmp / "calibration.onnx"
    onnx.save(model, str(path))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def collect(model_path: Path, frames: Sequence[FrameFile], input_name: str, load: Callable[[FrameFile], np.ndarray],
            tensors: set[str], method: str, percentile: float, *, bins: int = BINS, threads: int = 0,
            progress: bool = True) -> dict[str, tuple[float, float]]:
    """[lo, hi] of each of `tensors` over `frames` (each made the model's input by `load`) by `method`
    ("minmax" or "percentile")."""
    names = sorted(tensors)
    hists = {t: AbsHistogram(bins) for t in names}
    with tempfile.TemporaryDirectory(prefix="edge-sdk-calib-") as tmp:
        session = _session(model_path, names, threads, Path(tmp))
        with Progress(len(frames), f"calibrating ({method})", enabled=progress) as bar:
            for f in frames:
                outs = session.run(names, {input_name: load(f)})
                for t, value in zip(names, outs):
                    if method == "percentile":
                        hists[t].add(value)
                    elif value.size:
                        h = hists[t]
                        h.lo, h.hi = min(h.lo, float(value.min())), max(h.hi, float(value.max()))
                bar.update(1)
    if method == "percentile":
        return {t: h.percentile_range(percentile) for t, h in hists.items() if h.counts is not None}
    return {t: (h.lo, h.hi) for t, h in hists.items() if h.lo <= h.hi}
