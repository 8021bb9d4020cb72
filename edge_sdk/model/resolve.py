"""Everything the pipeline needs to know about the user's model, settled in one place: `resolve_model`.

Preprocessing, field by field, comes from the first of: the config (`model.preprocess.*`), what the model
states (`conventions.py`), the convention of the family its outputs identify (`apply_family`, after the
decoder is chosen), the default (Ultralytics: letterbox centred, pad 114, RGB, 0..1). The input's layout, dtype
and batch are the model's own. Labels come from `model.labels`, else the model, else the class ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edge_sdk.engines.model_info import ModelMetadata, read_metadata
from edge_sdk.errors import ModelError
from edge_sdk.model.conventions import Conventions, read_conventions
from edge_sdk.model.inputs import input_dtype_of
from edge_sdk.model.labels import labels_from, read_labels_file
from edge_sdk.model.prepare import DEFAULT_MIN_OPSET, PreparedModel, PrepareRequest, prepare_model
from edge_sdk.preprocess.spec import FIELDS, PreprocessSpec

log = logging.getLogger(__name__)

_SETTABLE = ("size", "resize", "align", "pad_value", "channel_order", "scale", "mean", "std")


@dataclass(frozen=True)
class ResolvedModel:
    prepared: PreparedModel
    preprocess: PreprocessSpec
    labels: dict[int, str]
    labels_origin: str
    conventions: Conventions
    metadata: ModelMetadata  # the model's metadata with `names` = the resolved labels

    @property
    def path(self) -> Path:
        return self.prepared.path

    def stated_nothing(self) -> bool:
        """True when neither the config nor the model said anything about preprocessing values."""
        return all(self.preprocess.origin.get(k) in ("default", "model input") for k in _SETTABLE if k != "size")


def resolve_model(path: str | Path, model_cfg: Any = None, *, base_dir: Path | None = None,
                  cache_dir: Path | None = None, min_opset: int = DEFAULT_MIN_OPSET,
                  strict_opset: bool = False, batch: int = 1, conventions_from: Path | None = None
                  ) -> ResolvedModel:
    """Check and fix the model (`prepare_model`), then settle its preprocessing and labels. `model_cfg` is the
    config's `model:` section (or None: everything from the model). `conventions_from`: the file whose metadata
    and sidecar to read (the FP32 model when `path` is the INT8 model built from it)."""
    source = Path(path)
    stated = Path(conventions_from) if conventions_from is not None else source
    for file in {source, stated}:
        if not file.is_file():
            raise ModelError("model file not found", where=str(file),
                             fix="set model.path in the config to an existing ONNX file (relative to the config file)")
    meta = read_metadata(stated)
    conv = read_conventions(stated, meta)
    pre_cfg = getattr(model_cfg, "preprocess", None)
    given: dict[str, object] = pre_cfg.given() if pre_cfg is not None else {}
    stated_size = conv.preprocess.get("size")
    request = PrepareRequest(size=given.get("size"), size_hint=stated_size,  # type: ignore[arg-type]
                             layout=given.get("layout"), batch=batch,  # type: ignore[arg-type]
                             min_opset=min_opset, strict_opset=strict_opset)
    prepared = prepare_model(source, request, cache_dir=cache_dir)
    spec = build_spec(prepared, given, conv)
    labels, labels_origin = _labels(getattr(model_cfg, "labels", None), conv, base_dir or stated.parent)
    return ResolvedModel(prepared, spec, labels, labels_origin, conv, replace(meta, names=labels))


def resolve_engine_file(path: str | Path, model_cfg: Any, input_name: str, input_shape: tuple[int, ...],
                        input_dtype: str, metadata: ModelMetadata, *, base_dir: Path | None = None) -> ResolvedModel:
    """`resolve_model` for a TensorRT engine file (no ONNX to check or fix): the image input as the opened engine
    declares it, the metadata the file carries (an Ultralytics header, or the ONNX an edge-sdk engine was built
    from), then the same preprocessing and labels as for an ONNX model."""
    from edge_sdk.engines.model_info import file_sha256
    from edge_sdk.model.inputs import InputFacts, layout_of

    source = Path(path)
    layout = layout_of(list(input_shape))
    if layout is None:
        raise ModelError(f"cannot tell the layout of the engine's input {input_name!r} {list(input_shape)}",
                         where=str(source), fix="set model.preprocess.layout to nchw or nhwc")
    h, w = (input_shape[2], input_shape[3]) if layout == "nchw" else (input_shape[1], input_shape[2])
    facts = InputFacts(input_name, layout, input_dtype, input_shape[0], h, w, tuple(input_shape))
    prepared = PreparedModel(source, file_sha256(source), source, facts, 0, metadata,
                             notes=("a TensorRT engine file: used as it is (no ONNX checks or fixes)",))
    conv = read_conventions(source, metadata)
    pre_cfg = getattr(model_cfg, "preprocess", None)
    given: dict[str, object] = pre_cfg.given() if pre_cfg is not None else {}
    spec = build_spec(prepared, given, conv)
    labels, labels_origin = _labels(getattr(model_cfg, "labels", None), conv, base_dir or source.parent)
    return ResolvedModel(prepared, spec, labels, labels_origin, conv, replace(metadata, names=labels))


def build_spec(prepared: PreparedModel, given: dict[str, object], conv: Conventions) -> PreprocessSpec:
    facts = prepared.input
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    for key in _SETTABLE:
        if key in given:
            values[key], origin[key] = given[key], "config"
        elif key in conv.preprocess:
            values[key], origin[key] = conv.preprocess[key], conv.preprocess_origin
        else:
            origin[key] = "default"
    values["size"] = facts.size  # what the prepared model takes (the config's or the stated size was applied)
    if origin["size"] == "default":
        origin["size"] = "model input"
    values["layout"], values["dtype"], values["batch"] = facts.layout, input_dtype_of(facts), facts.batch or 1
    for key in ("layout", "dtype", "batch"):
        origin[key] = "model input"
    if facts.dtype == "uint8":
        values.update(scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
        origin.update(scale="model input", mean="model input", std="model input")
    return PreprocessSpec(**values, origin=origin)  # type: ignore[arg-type]


def apply_family(spec: PreprocessSpec, convention: dict[str, object], family: str) -> PreprocessSpec:
    """Fill the fields nobody stated with the convention of the model's family (YOLOX, PaddleDetection ...)."""
    changes = {k: v for k, v in convention.items() if spec.origin.get(k) == "default"}
    if spec.dtype == "uint8":
        changes = {k: v for k, v in changes.items() if k not in ("scale", "mean", "std")}
    if not changes:
        return spec
    origin = {**spec.origin, **{k: f"{family} convention" for k in changes}}
    return replace(spec, **changes, origin=origin)  # type: ignore[arg-type]


def _labels(cfg_labels: str | list[str] | None, conv: Conventions, base_dir: Path) -> tuple[dict[int, str], str]:
    if isinstance(cfg_labels, list):
        return labels_from(cfg_labels), "model.labels"
    if isinstance(cfg_labels, str):
        file = Path(cfg_labels).expanduser()
        file = file if file.is_absolute() else base_dir / file
        return read_labels_file(file), f"model.labels ({file.name})"
    return dict(conv.labels), conv.labels_origin


def origin_summary(spec: PreprocessSpec) -> str:
    """Which fields came from where, e.g. `config: scale, mean; infer_cfg.yml: resize`."""
    by: dict[str, list[str]] = {}
    for key in FIELDS:
        by.setdefault(spec.origin.get(key, "default"), []).append(key)
    return "; ".join(f"{src}: {', '.join(keys)}" for src, keys in by.items())


def model_cache_dir(cfg: Any) -> Path:
    """Where fixed copies of an app's models are kept (see edge_sdk.model.prepare): `<state_dir>/models`."""
    return Path(cfg.resolve(cfg.state_dir)) / "models"
