"""The engine cache: each engine next to a manifest saying exactly what it was built from and for.

    <out_dir>/yolo-demo.int8.gpu.engine
    <out_dir>/yolo-demo.int8.gpu.engine.json     (the manifest, written after the engine)

The manifest's `key` holds what the engine depends on (key.py: `engine_cache_key`): sha256 of the ONNX and of the
calibration set and cache, TensorRT version and build, CUDA version, compute capability, JetPack and L4T release,
board, precision, DLA core and builder settings.
An engine is reused only if every key field matches and the engine file's sha256 equals the manifest's;
otherwise it is rebuilt, with a log line naming what changed. An engine whose checksum does not match is
never loaded. Both files are written atomically, the manifest last: an engine without a manifest is never
trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.atomic import write_bytes_atomic, write_json_atomic
from edge_sdk.engines.trt.key import KEY_FIELDS
from edge_sdk.errors import EngineError

log = logging.getLogger(__name__)

MANIFEST_SCHEMA = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def engine_stem(onnx_path: Path, precision: str, dla_core: int | None) -> str:
    target = "gpu" if dla_core is None else f"dla{dla_core}"
    return f"{onnx_path.stem}.{precision}.{target}"


def manifest_path_for(engine_path: Path) -> Path:
    return engine_path.with_name(engine_path.name + ".json")


@dataclass(frozen=True)
class CacheDecision:
    reuse: bool
    reason: str  # why it is reused or rebuilt, for the log and the build report


def read_manifest(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineError("the engine has no manifest, so its origin and integrity cannot be checked",
                          where=str(path), fix="rebuild the engine with edge-sdk (build_engine / edge-sdk build)") from None
    except (OSError, ValueError) as exc:
        raise EngineError(f"unreadable engine manifest: {exc}", where=str(path),
                          fix="delete the engine and its manifest; edge-sdk rebuilds them") from None
    if not isinstance(data, dict) or not isinstance(data.get("key"), dict):
        raise EngineError("the engine manifest has no key section", where=str(path),
                          fix="delete the engine and its manifest; edge-sdk rebuilds them")
    return data


def key_changes(old: dict[str, object], new: dict[str, object]) -> list[str]:
    """What differs between two manifest keys, e.g. "tensorrt_version '8.6.2.3' -> '10.3.0.30'"."""
    changes = []
    for name in KEY_FIELDS:
        a, b = old.get(name), new.get(name)
        if isinstance(a, dict) and isinstance(b, dict):
            changes += [f"{name}.{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            changes.append(f"{name} {a!r} -> {b!r}")
    return changes


def decide(engine_path: Path, key: dict[str, object]) -> CacheDecision:
    """Whether the cached engine at `engine_path` may be reused for `key`, and why (not)."""
    manifest_path = manifest_path_for(engine_path)
    if not engine_path.exists():
        return CacheDecision(False, "no cached engine")
    if not manifest_path.exists():
        return CacheDecision(False, "cached engine has no manifest (never trusted)")
    try:
        manifest = read_manifest(manifest_path)
    except EngineError as exc:
        return CacheDecision(False, exc.message)
    old_key = manifest["key"]
    if not isinstance(old_key, dict):
        return CacheDecision(False, "cached manifest has no key")
    changes = key_changes(old_key, key)
    if changes:
        return CacheDecision(False, "changed since the cached build: " + "; ".join(changes))
    if sha256_file(engine_path) != manifest.get("engine_sha256"):
        return CacheDecision(False, "cached engine's sha256 does not match its manifest (corrupt or modified file)")
    return CacheDecision(True, "cached engine matches (same model, calibration, TensorRT, device and settings)")


def store(engine_path: Path, data: bytes, manifest: dict[str, object]) -> dict[str, object]:
    """Write engine then manifest (with the engine's sha256 and size added), both atomically."""
    manifest = dict(manifest, schema=MANIFEST_SCHEMA, engine_file=engine_path.name,
                    engine_sha256=sha256_bytes(data), engine_bytes=len(data))
    write_bytes_atomic(engine_path, data)
    write_json_atomic(manifest_path_for(engine_path), manifest, sort_keys=True)
    return manifest


def load_verified(engine_path: Path) -> tuple[bytes, dict[str, object]]:
    """The engine's bytes and manifest; raises EngineError unless the bytes match the manifest's sha256."""
    manifest = read_manifest(manifest_path_for(engine_path))
    try:
        data = engine_path.read_bytes()
    except OSError as exc:
        raise EngineError(f"cannot read the engine: {exc.strerror}", where=str(engine_path)) from None
    if sha256_bytes(data) != manifest.get("engine_sha256"):
        raise EngineError("the engine file's sha256 does not match its manifest; it will not be loaded",
                          where=str(engine_path),
                          fix="the file is corrupt or was modified: delete it and its manifest, edge-sdk rebuilds them")
    return data, manifest
