"""Read what a detection ONNX model says about itself: I/O, class names, input size, strides.

Ultralytics-style metadata_props: `names` (a dict, as JSON or as a Python-literal dict), `imgsz`,
`stride`. Reading is done with the `onnx` package and never executes anything from the file.
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.errors import ConfigError, ModelError


@dataclass(frozen=True)
class ModelMetadata:
    names: dict[int, str] = field(default_factory=dict)
    imgsz: tuple[int, int] | None = None
    strides: tuple[int, ...] = ()
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def num_classes(self) -> int | None:
        return len(self.names) or None

    def label(self, class_id: int) -> str:
        return self.names.get(class_id, str(class_id))

    def class_ids(self, names: list[str | int] | None, where: str = "decode.classes") -> frozenset[int] | None:
        """Class names or ids from a config key as ids (None: all); ConfigError naming `where` for an unknown name."""
        if names is None:
            return None
        by_name = {v: k for k, v in self.names.items()}
        ids = set()
        for n in names:
            if isinstance(n, int):
                ids.add(n)
            elif n in by_name:
                ids.add(by_name[n])
            else:
                known = ", ".join(self.names.values()) or "(the model lists no class names)"
                raise ConfigError(f"unknown class {n!r}", where=where, fix=f"use one of: {known}")
        return frozenset(ids)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)  # Ultralytics writes Python reprs; literal_eval never runs code
        except (ValueError, SyntaxError):
            return text


def parse_metadata(props: dict[str, str]) -> ModelMetadata:
    names_raw = _parse_value(props["names"]) if "names" in props else {}
    names: dict[int, str] = {}
    if isinstance(names_raw, dict):
        names = {int(k): str(v) for k, v in names_raw.items()}
    elif isinstance(names_raw, list):
        names = dict(enumerate(str(v) for v in names_raw))
    imgsz_raw = _parse_value(props["imgsz"]) if "imgsz" in props else None
    imgsz: tuple[int, int] | None = None
    if isinstance(imgsz_raw, list) and len(imgsz_raw) == 2:
        imgsz = (int(imgsz_raw[0]), int(imgsz_raw[1]))
    elif isinstance(imgsz_raw, int):
        imgsz = (imgsz_raw, imgsz_raw)
    stride_raw = _parse_value(props["stride"]) if "stride" in props else []
    strides = tuple(int(s) for s in stride_raw) if isinstance(stride_raw, list) else (
        (int(stride_raw),) if isinstance(stride_raw, int) else ())
    return ModelMetadata(names=names, imgsz=imgsz, strides=strides, raw=dict(props))


def read_metadata(path: str | Path) -> ModelMetadata:
    """Read metadata_props of an ONNX file without loading its weights."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for corrupt files
        raise ModelError(f"cannot read ONNX model: {exc}", where=str(path),
                         fix="re-export the model or check that the file was copied completely") from exc
    return parse_metadata({p.key: p.value for p in model.metadata_props})


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
