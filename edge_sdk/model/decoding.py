"""Pick and bind the decoder for a loaded model: the configured one, or the one auto-detection finds over every
output of a real inference; then run it once on that inference so a plugin that fails does so now, not at the
first frame."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_sdk.decode.base import BoundDecoder, DecodeModel, DecodeParams
from edge_sdk.decode.end2end import SplitLayout, split_layout
from edge_sdk.decode.layouts import Layout, ModelFacts, OutputInfo
from edge_sdk.decode.registry import PLUGIN_HOWTO, decode_function, detect, layout_named
from edge_sdk.errors import EdgeSdkError, ModelError
from edge_sdk.model.graph_facts import raw_head_outputs
from edge_sdk.model.inputs import SIDE_INPUTS
from edge_sdk.model.resolve import ResolvedModel, apply_family

log = logging.getLogger(__name__)


def first_image(outputs: Sequence[np.ndarray], batch: int, slot: int = 0) -> list[np.ndarray]:
    """The outputs of one batch slot, keeping a batch axis of 1 (outputs without the batch axis as they are)."""
    if batch == 1:
        return list(outputs)
    return [o[slot:slot + 1] if o.ndim and o.shape[0] == batch else o for o in outputs]


def output_infos(names: Sequence[str], outputs: Sequence[np.ndarray]) -> tuple[OutputInfo, ...]:
    return tuple(OutputInfo(n, tuple(int(d) for d in o.shape), o.dtype.name) for n, o in zip(names, outputs))


def choose_decoder(decode_type: str, resolved: ResolvedModel, names: Sequence[str],
                   probe: Sequence[np.ndarray]) -> tuple[BoundDecoder, ResolvedModel, str]:
    """(decoder bound to the model, the model with its family's preprocessing filled in, how it was chosen).
    `probe` is one inference's outputs, already cut to one image."""
    spec = resolved.preprocess
    outs = output_infos(names, probe)
    side = tuple(n for n in SIDE_INPUTS if any(n in f for f in resolved.prepared.fixes))
    hints = resolved.conventions.hints
    facts = ModelFacts(spec.size, len(resolved.labels) or None, resolved.conventions.strides,
                       _raw_head_outputs(resolved.path), side, hints.get("end2end", "").lower() == "true",
                       hints.get("head", ""))
    layout: Layout | None
    if decode_type == "auto":
        layout, how = detect(outs, facts)
        fn = layout.decode
        _check_pixel_boxes(layout.name, outs, probe, resolved.path)
    else:
        layout, fn = layout_named(decode_type), decode_function(decode_type)
        how = "decode.type"
    if layout is not None and layout.preprocess:
        spec = apply_family(spec, layout.preprocess, layout.family)
        if spec is not resolved.preprocess:
            resolved = replace(resolved, preprocess=spec)
    model = DecodeModel(spec.size, tuple(names), tuple(o.shape for o in outs), dict(resolved.labels),
                        resolved.conventions.strides, spec)
    name = layout.name if layout is not None else decode_type
    bound = BoundDecoder(name, fn, model)
    _try(bound, probe, decode_type, resolved.path)
    return bound, resolved, how


def _raw_head_outputs(path: Path) -> frozenset[str]:
    """raw_head_outputs of the ONNX graph; a TensorRT engine file has no graph to read (its outputs decide)."""
    import onnx

    from edge_sdk.engines.trt.plan_file import ENGINE_SUFFIXES

    if path.suffix in ENGINE_SUFFIXES:
        return frozenset()
    return raw_head_outputs(onnx.load(str(path), load_external_data=False))


def _check_pixel_boxes(layout: str, outs: Sequence[OutputInfo], probe: Sequence[np.ndarray], path: Path) -> None:
    """Boxes the layout takes as pixels look normalised when every value is within 0..1: an RT-DETR [1, K, 6]
    whose metadata does not say so, or TensorFlow's normalised ymin,xmin,ymax,xmax. Refuse rather than publish
    boxes under a pixel wide."""
    if layout == "end2end":
        boxes = probe[0][0, :, :4]
        what, fix = ("RT-DETR's cx,cy,w,h,score,class?", "set decode.type: rtdetr-topk for normalised cx,cy,w,h, or "
                     "end2end if they are pixels")
    elif layout == "end2end-split":
        found = split_layout([(o.name, o.shape, o.dtype) for o in outs])
        if not isinstance(found, SplitLayout):
            return
        boxes = probe[found.boxes][0]
        what, fix = ("TensorFlow's ymin,xmin,ymax,xmax?", "write a decoder plugin for normalised boxes "
                     "(docs/models.md), or set decode.type: end2end-split if they are pixels")
    else:
        return
    if boxes.size and 0 < float(np.abs(boxes).max()) <= 1.0:
        raise ModelError(f"the boxes of outputs {[o.name for o in outs]} are all within 0..1: normalised ({what}) "
                         "rather than x1,y1,x2,y2 in input pixels", where=str(path), fix=fix)


def _try(decoder: BoundDecoder, probe: Sequence[np.ndarray], decode_type: str, path: Path) -> None:
    try:
        decoder(list(probe), DecodeParams())
    except EdgeSdkError:
        raise
    except Exception as exc:  # a plugin's own failure: reported with what it was given
        shapes = ", ".join(str(list(o.shape)) for o in probe)
        raise ModelError(f"decoder {decoder.name!r} fails on the model's outputs ({shapes}): "
                         f"{type(exc).__name__}: {exc}", where=str(path),
                         fix=("fix the plugin (it gets every output and a DecodeContext; docs/models.md)"
                              if ":" in decode_type else f"set decode.type to the model's layout, or {PLUGIN_HOWTO}")
                         ) from exc


def describe_choice(decoder: BoundDecoder, how: str) -> str:
    return f"{decoder.name} ({how})"

