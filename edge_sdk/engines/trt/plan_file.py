"""Engine files: edge-sdk's own (with a manifest), and engines a user already has.

| origin | file | known before TensorRT reads it |
|---|---|---|
| edge-sdk | `.engine` + `.engine.json` manifest | the whole cache key (key.py), checked against this device |
| trtexec | `trtexec --saveEngine=x.engine`: the bare serialized plan | nothing: TensorRT checks version and GPU |
| ultralytics | `format=engine`: 4-byte little-endian length, JSON metadata, the plan | names, imgsz, stride, half, int8 |

TensorRT refuses a plan of another TensorRT version or GPU when it deserializes it, in its log only; `explain`
turns those log lines into one error that says which version or GPU the engine is for and what to do. A plan
built on another model of GPU with the same compute capability loads with a warning only ("Using an engine plan
file across different models of devices"): edge-sdk refuses it unless `engine.allow_other_device` says so,
because its tactics were timed on the other GPU.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.engines.trt import cache
from edge_sdk.errors import EngineError

Origin = Literal["edge-sdk", "trtexec", "ultralytics"]
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")  # what edge-sdk opens as an engine file rather than an ONNX model
OTHER_DEVICE_WARNING = "across different models of devices"
_MAX_HEADER = 1 << 20


@dataclass(frozen=True)
class PlanFile:
    path: Path
    data: bytes  # the serialized TensorRT plan, without any header
    origin: Origin
    manifest: dict[str, object] | None = None  # edge-sdk's manifest
    metadata: dict[str, object] = field(default_factory=dict)  # the Ultralytics header's JSON

    @property
    def key(self) -> dict[str, object]:
        key = self.manifest.get("key") if self.manifest else None
        return key if isinstance(key, dict) else {}

    @property
    def precision(self) -> str:
        """The engine's precision as far as the file says: the manifest's, Ultralytics' int8/half flags, else unknown."""
        if self.manifest is not None:
            return str(self.key.get("precision", "unknown"))
        if self.metadata.get("int8"):
            return "int8"
        return "fp16" if self.metadata.get("half") else "unknown"


def ultralytics_header(raw: bytes) -> tuple[dict[str, object], int] | None:
    """(metadata, offset of the plan) when `raw` starts with Ultralytics' length-prefixed JSON header."""
    if len(raw) < 6:
        return None
    length = struct.unpack_from("<i", raw, 0)[0]
    if not 2 <= length <= min(_MAX_HEADER, len(raw) - 4) or raw[4:5] != b"{":
        return None
    try:
        meta = json.loads(raw[4:4 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return (meta, 4 + length) if isinstance(meta, dict) else None


def read_plan(path: str | Path) -> PlanFile:
    """Read an engine file of any origin; an edge-sdk engine is verified against its manifest's sha256."""
    path = Path(path)
    if cache.manifest_path_for(path).exists():
        data, manifest = cache.load_verified(path)
        return PlanFile(path, data, "edge-sdk", manifest)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EngineError("engine file not found", where=str(path), fix="check model.path") from None
    except OSError as exc:
        raise EngineError(f"cannot read the engine: {exc.strerror}", where=str(path)) from None
    header = ultralytics_header(raw)
    if header is not None:
        meta, offset = header
        data = raw[offset:]
        if not data:
            raise EngineError("the Ultralytics engine file holds metadata but no TensorRT plan", where=str(path),
                              fix="export it again (yolo export format=engine)")
        return PlanFile(path, data, "ultralytics", None, meta)
    if not raw:
        raise EngineError("the engine file is empty", where=str(path), fix="build or copy it again")
    return PlanFile(path, raw, "trtexec")


def explain(plan: PlanFile, errors: str, version: str, gpu: str) -> EngineError:
    """One clear error from TensorRT's log of a failed deserialization (version or device mismatch, not a plan)."""
    rebuild = ("rebuild it here: give edge-sdk the ONNX model (engine.type tensorrt builds and caches it), or "
               f"trtexec --onnx=MODEL.onnx --saveEngine={plan.path.name}")
    if plan.origin == "ultralytics":
        rebuild += f", or yolo export format=engine on this device (TensorRT {version})"
    version_tag = re.search(r"Current Version: (\d+), Serialized Engine Version: (\d+)", errors)
    expecting = re.search(r"expecting library version ([\d.]+) got ([\d.]+)", errors)
    if expecting or version_tag or "Version tag does not match" in errors:
        built = expecting.group(2) if expecting else (f"serialization version {version_tag.group(2)}" if version_tag
                                                     else "another version")
        return EngineError(f"the engine was built with TensorRT {built}; this is TensorRT {version}, which cannot "
                           f"load it", where=str(plan.path), fix=rebuild)
    compute = re.search(r"expecting compute ([\d.]+) got compute ([\d.]+)", errors)
    if compute or "incompatible device" in errors:
        built_for = f"compute capability {compute.group(2)}" if compute else "another GPU"
        return EngineError(f"the engine was built for {built_for}; this GPU ({gpu}) is "
                           f"{compute.group(1) if compute else 'different'}", where=str(plan.path), fix=rebuild)
    if "Magic tag does not match" in errors or "magicTag" in errors:
        return EngineError(f"not a TensorRT engine ({plan.origin} file): TensorRT {version} does not recognise its "
                           "header", where=str(plan.path),
                           fix="pass a plan saved by TensorRT (trtexec --saveEngine, or an Ultralytics .engine), "
                               "or the ONNX model")
    return EngineError(f"TensorRT {version} cannot deserialize the engine: {errors}", where=str(plan.path),
                       fix=rebuild)


def other_device_error(plan: PlanFile, gpu: str) -> EngineError:
    return EngineError(f"the engine was built on another model of GPU than this {gpu} (TensorRT warns that its "
                       "speed and correctness are not assured there)", where=str(plan.path),
                       fix="rebuild it on this device, or set engine.allow_other_device: true to run it anyway")


def plan_metadata(path: str | Path) -> ModelMetadata:
    """What an engine file says about its model (names, imgsz, stride) without reading the plan: an Ultralytics
    header's JSON, or the metadata of the ONNX an edge-sdk engine was built from; nothing for a bare plan."""
    from edge_sdk.engines.model_info import parse_metadata, read_metadata

    path = Path(path)
    manifest_path = cache.manifest_path_for(path)
    if manifest_path.exists():
        onnx_path = cache.read_manifest(manifest_path).get("onnx_path")
        if isinstance(onnx_path, str) and Path(onnx_path).is_file():
            return read_metadata(onnx_path)
        return ModelMetadata()
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            length = struct.unpack("<i", head)[0] if len(head) == 4 else 0
            body = f.read(length) if 2 <= length <= _MAX_HEADER else b""
    except OSError as exc:
        raise EngineError(f"cannot read the engine: {exc.strerror}", where=str(path)) from None
    header = ultralytics_header(head + body)
    if header is None:
        return ModelMetadata()
    meta = header[0]
    return parse_metadata({k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
