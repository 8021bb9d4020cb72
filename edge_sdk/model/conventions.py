"""What exporters write about preprocessing and labels, read into one shape (`Conventions`).

Known conventions, tried in this order (a later one never overrides what an earlier one said):
- PaddleDetection: `infer_cfg.yml` beside the model (what `tools/export_model.py` writes, kept with the ONNX
  that paddle2onnx made from it): `Preprocess` (Resize target_size/keep_ratio, LetterBoxResize,
  NormalizeImage mean/std/is_scale, Permute), `label_list`, `arch`, `fpn_stride`. PaddleDetection decodes
  images to RGB.
- Ultralytics: metadata `imgsz`, `stride`, `names`, `task`, `head` (author "Ultralytics", or imgsz + names +
  stride): RGB, 0..1; letterbox centred with pad 114, except RT-DETR (`head: RTDETRDecoder`), which Ultralytics
  stretches; without `head` (before 8.4) the output layout decides (`rtdetr`: stretch; the others: letterbox).
- Labels under other metadata keys: `labels`, `classes`, `class_names`, `label_list`, `character` (RapidAI).

What no convention states is left to the config, then to the detected family's convention, then to the
default (see `edge_sdk/model/resolve.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.config.safe_yaml import load_bounded
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.errors import ConfigError
from edge_sdk.model.labels import labels_from, labels_from_metadata

log = logging.getLogger(__name__)

PADDLE_SIDECAR = "infer_cfg.yml"
#: What every Ultralytics export expects: RGB, /255, NCHW; its geometry depends on the head (below).
ULTRALYTICS: dict[str, object] = {"channel_order": "rgb", "scale": 1.0 / 255.0, "mean": (0.0, 0.0, 0.0),
                                  "std": (1.0, 1.0, 1.0)}
#: Ultralytics' predictors letterbox (centred, grey 114), except RT-DETR's, which stretches (scaleFill).
ULTRALYTICS_LETTERBOX: dict[str, object] = {"resize": "letterbox", "align": "center", "pad_value": 114}
ULTRALYTICS_RTDETR: dict[str, object] = {"resize": "stretch"}


@dataclass(frozen=True)
class Conventions:
    """Preprocessing fields, labels and hints that the model (or a file exported with it) states."""

    preprocess: dict[str, object] = field(default_factory=dict)  # PreprocessSpec field -> value
    preprocess_origin: str = ""  # e.g. "Ultralytics metadata", "infer_cfg.yml"
    labels: dict[int, str] = field(default_factory=dict)
    labels_origin: str = ""
    strides: tuple[int, ...] = ()
    exporter: str = ""  # "ultralytics", "paddledetection" or ""
    hints: dict[str, str] = field(default_factory=dict)  # e.g. arch, task, end2end


def is_ultralytics(meta: ModelMetadata) -> bool:
    raw = meta.raw
    author = (raw.get("author", "") + " " + raw.get("description", "")).lower()
    return "ultralytics" in author or all(k in raw for k in ("imgsz", "stride", "names"))


def read_conventions(model_path: Path, meta: ModelMetadata) -> Conventions:
    """Everything the model file and its PaddleDetection sidecar state. Never fails on a malformed sidecar:
    it is logged and ignored (the config can state the same)."""
    pre: dict[str, object] = {}
    origin = ""
    labels: dict[int, str] = {}
    labels_origin = ""
    strides: tuple[int, ...] = meta.strides if len(meta.strides) > 1 else ()
    exporter = ""
    hints: dict[str, str] = {}
    sidecar = model_path.parent / PADDLE_SIDECAR
    paddle = _read_sidecar(sidecar)
    if paddle is not None:
        exporter, origin = "paddledetection", f"{sidecar.name} (PaddleDetection)"
        pre.update(_paddle_preprocess(paddle))
        labels = labels_from(paddle.get("label_list") or [])
        labels_origin = f"{sidecar.name} label_list" if labels else ""
        if isinstance(paddle.get("fpn_stride"), list):
            strides = tuple(int(s) for s in paddle["fpn_stride"])
        if paddle.get("arch"):
            hints["arch"] = str(paddle["arch"])
    if is_ultralytics(meta):
        exporter = exporter or "ultralytics"
        origin = origin or "Ultralytics metadata"
        if meta.imgsz is not None:
            pre.setdefault("size", meta.imgsz)
        geometry: dict[str, object] = {}  # without the head's name (before 8.4) the output layout tells
        if "head" in meta.raw:
            geometry = ULTRALYTICS_RTDETR if meta.raw["head"] == "RTDETRDecoder" else ULTRALYTICS_LETTERBOX
        for key, value in {**ULTRALYTICS, **geometry}.items():
            pre.setdefault(key, value)
        for key in ("task", "end2end", "batch", "head"):
            if key in meta.raw:
                hints[key] = meta.raw[key]
    elif meta.imgsz is not None:
        pre.setdefault("size", meta.imgsz)
        origin = origin or "metadata imgsz"
    if not labels:
        labels, key = labels_from_metadata(meta.raw)
        labels_origin = f"metadata {key!r}" if labels else ""
    return Conventions(pre, origin, labels, labels_origin, strides, exporter, hints)


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = load_bounded(path.read_text(encoding="utf-8"), str(path))[0]
    except (OSError, UnicodeDecodeError, ConfigError) as exc:
        log.warning("ignoring %s: %s (set model.preprocess and model.labels in the config instead)", path, exc)
        return None
    if not isinstance(data, dict):
        log.warning("ignoring %s: not a PaddleDetection infer_cfg (no mapping at the top)", path)
        return None
    return data


def _paddle_preprocess(cfg: dict[str, Any]) -> dict[str, object]:
    """PreprocessSpec fields from PaddleDetection's `Preprocess` list (images are decoded to RGB)."""
    out: dict[str, object] = {"channel_order": "rgb", "scale": 1.0}
    for op in cfg.get("Preprocess") or []:
        if not isinstance(op, dict):
            continue
        kind = op.get("type")
        size = op.get("target_size")
        if kind == "Resize" and op.get("keep_ratio"):  # resizes, then PadStride pads bottom and right with 0
            out.update(resize="letterbox", align="top-left", pad_value=0)
        elif kind == "Resize":
            out["resize"] = "stretch"
        elif kind == "LetterBoxResize":
            out.update(resize="letterbox", align="center", pad_value=128)  # PaddleDetection pads with 127.5
        elif kind == "NormalizeImage":
            is_scale = bool(op.get("is_scale", True))
            out["scale"] = 1.0 / 255.0 if is_scale else 1.0
            if op.get("norm_type", "mean_std") == "mean_std":
                if isinstance(op.get("mean"), list) and len(op["mean"]) == 3:
                    out["mean"] = tuple(float(v) for v in op["mean"])
                if isinstance(op.get("std"), list) and len(op["std"]) == 3:
                    out["std"] = tuple(float(v) for v in op["std"])
        elif kind == "Permute":
            out["layout"] = "nchw"
        if isinstance(size, list) and len(size) == 2:
            out["size"] = (int(size[0]), int(size[1]))
        elif isinstance(size, int):
            out["size"] = (size, size)
    return out
