"""Compare an engine's outputs with ONNX Runtime FP32 on the same frames, with stated tolerances.

Two measures, per frame, over all frames:
- raw outputs: an element is close if |got - ref| <= rtol * |ref| + atol_frac * max|ref| (max over that
  output tensor); the fraction of close elements must reach `min_close`;
- detections (after the same decoder and NMS): the fraction of reference detections matched by a detection
  of the same class with IoU >= `iou` must reach `min_recall`, and the engine may add at most
  `max_extra` (fraction of the reference count, at least 1) unmatched detections.

FP16 engines are held to the raw and detection measures; INT8 engines only to the detection measure (INT8
moves raw scores by design; what matters is that the same objects are found).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_sdk.decode.base import DecodeParams, Decoder, Detections
from edge_sdk.tracking.assign import iou_matrix


@dataclass(frozen=True)
class Tolerance:
    name: str
    rtol: float | None  # None: raw outputs are not compared
    atol_frac: float
    min_close: float
    iou: float
    min_recall: float
    max_extra: float

    def describe(self) -> str:
        raw = (f"raw: |d| <= {self.rtol:g}*|ref| + {self.atol_frac:g}*max|ref| for >= {self.min_close:.1%} of elements; "
               if self.rtol is not None else "raw: not compared; ")
        return (raw + f"detections: >= {self.min_recall:.0%} of ORT's matched (same class, IoU >= {self.iou:g}), "
                f"extra <= {self.max_extra:.0%}")


FP16 = Tolerance("fp16", rtol=0.02, atol_frac=0.02, min_close=0.999, iou=0.8, min_recall=0.95, max_extra=0.05)
INT8 = Tolerance("int8", rtol=None, atol_frac=0.0, min_close=0.0, iou=0.7, min_recall=0.90, max_extra=0.10)
FP32 = Tolerance("fp32", rtol=1e-3, atol_frac=1e-3, min_close=0.9999, iou=0.95, min_recall=0.99, max_extra=0.01)
TOLERANCES = {"fp16": FP16, "int8": INT8, "fp32": FP32}


@dataclass(frozen=True)
class Comparison:
    ok: bool
    close_fraction: float | None
    max_abs_diff: float | None
    recall: float
    ref_detections: int
    got_detections: int
    extra: int
    tolerance: Tolerance

    def describe(self) -> str:
        raw = (f"raw close {self.close_fraction:.4%} (max |d| {self.max_abs_diff:.4g}); "
               if self.close_fraction is not None and self.max_abs_diff is not None else "")
        return (f"{raw}detections matched {self.recall:.1%} of {self.ref_detections} (engine {self.got_detections}, "
                f"{self.extra} extra) [tolerance {self.tolerance.name}: {self.tolerance.describe()}]")

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "close_fraction": self.close_fraction, "max_abs_diff": self.max_abs_diff,
                "recall": self.recall, "ref_detections": self.ref_detections, "got_detections": self.got_detections,
                "extra": self.extra, "tolerance": self.tolerance.name, "rule": self.tolerance.describe()}


def match(ref: Detections, got: Detections, iou: float) -> int:
    """Greedy one-to-one matches of `ref` detections (best score first) by same class and IoU >= iou."""
    ious = iou_matrix(ref.boxes, got.boxes)
    used = np.zeros(len(got), bool)
    matched = 0
    for i in np.argsort(-ref.scores):
        cand = (got.class_ids == ref.class_ids[i]) & ~used & (ious[i] >= iou)
        if cand.any():
            j = int(np.argmax(np.where(cand, ious[i], -1.0)))
            used[j] = True
            matched += 1
    return matched


def compare(ref_outputs: Sequence[Sequence[np.ndarray]], got_outputs: Sequence[Sequence[np.ndarray]],
            decoder: Decoder, params: DecodeParams, tol: Tolerance) -> Comparison:
    """Compare per-frame outputs (lists of tensors per frame) of the reference and the engine."""
    close = total = 0
    max_diff = 0.0
    ref_n = got_n = matched = 0
    for ref, got in zip(ref_outputs, got_outputs):
        if tol.rtol is not None:
            for r, g in zip(ref, got):
                r32, g32 = np.asarray(r, np.float32), np.asarray(g, np.float32).reshape(r.shape)
                d = np.abs(g32 - r32)
                bound = tol.rtol * np.abs(r32) + tol.atol_frac * float(np.abs(r32).max(initial=0.0))
                close += int((d <= bound).sum())
                total += d.size
                max_diff = max(max_diff, float(d.max(initial=0.0)))
        ref_det, got_det = decoder(list(ref), params), decoder(list(got), params)
        ref_n += len(ref_det)
        got_n += len(got_det)
        matched += match(ref_det, got_det, tol.iou)
    recall = matched / ref_n if ref_n else (1.0 if got_n == 0 else 0.0)
    extra = got_n - matched
    fraction = close / total if total else None
    ok = recall >= tol.min_recall and extra <= max(1, int(tol.max_extra * ref_n))
    if fraction is not None:
        ok = ok and fraction >= tol.min_close
    return Comparison(ok, fraction, max_diff if tol.rtol is not None else None, recall, ref_n, got_n, extra, tol)
