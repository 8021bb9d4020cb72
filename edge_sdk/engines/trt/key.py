"""The engine cache key: everything a TensorRT engine is bound to, made by one public function.

A serialized engine runs only with the TensorRT (version and build) that built it, on the CUDA and GPU (compute
capability) it was built for; on a Jetson a JetPack upgrade changes all of these at once. Users of other tools
report engines that still load, or crash, after such an upgrade. So the key holds:

    the model:    onnx_sha256, calibration_set_sha256, calibration_cache_sha256
    the target:   tensorrt_version ("10.3.0.30": version and build), cuda_version ("12.6": major.minor of the CUDA
                  runtime TensorRT runs on), compute_capability ("8.7"), jetpack ("6.2"), l4t_release ("R36.4.3"),
                  board (the device-tree model)
    the build:    precision, dla_core, builder settings (workspace, optimization level, GPU fallback, TF32)

An engine is reused (engine cache, cache.py) and loaded (runtime.py) only when every field matches this device.

Fleet bundles carry prebuilt engines keyed by `key_digest(engine_cache_key(...))`: the key is computed from
values alone (no TensorRT, no GPU), so a bundle can be made on a machine that is not the target, from the
target's `EngineTarget` (what `edge-sdk doctor --json` reports on the device: facts.current_target()).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_sdk.engines.trt.builder_config import BuildSettings

KEY_SCHEMA = 2  # 2: + cuda_version, jetpack, builder.tf32 (schema 1 engines are rebuilt)
TARGET_FIELDS = ("tensorrt_version", "cuda_version", "compute_capability", "jetpack", "l4t_release", "board")
KEY_FIELDS = ("schema", "onnx_sha256", "calibration_set_sha256", "calibration_cache_sha256", *TARGET_FIELDS,
              "precision", "dla_core", "builder")


@dataclass(frozen=True)
class EngineTarget:
    """The software and hardware an engine is built for. None where a field does not apply (no JetPack on x86)."""

    tensorrt_version: str
    cuda_version: str | None
    compute_capability: str | None
    jetpack: str | None
    l4t_release: str | None
    board: str | None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> EngineTarget:
        def text(name: str) -> str | None:
            value = data.get(name)
            return None if value is None else str(value)

        return cls(tensorrt_version=str(data.get("tensorrt_version", "")), cuda_version=text("cuda_version"),
                   compute_capability=text("compute_capability"), jetpack=text("jetpack"),
                   l4t_release=text("l4t_release"), board=text("board"))

    def differences(self, other: EngineTarget) -> list[str]:
        """What differs from `other`, e.g. ["tensorrt_version '10.3.0.30' (engine) -> '10.16.1.11' (here)"]."""
        mine, theirs = self.as_dict(), other.as_dict()
        return [f"{f} {mine[f]!r} (engine) -> {theirs[f]!r} (here)" for f in TARGET_FIELDS if mine[f] != theirs[f]]


def cuda_major_minor(version: str | None) -> str | None:
    """"12.6.68" -> "12.6": the part of the CUDA version an engine depends on."""
    if not version:
        return None
    return ".".join(version.split(".")[:2])


def engine_cache_key(*, onnx_sha256: str, target: EngineTarget, settings: BuildSettings,
                     calibration_set_sha256: str | None = None,
                     calibration_cache_sha256: str | None = None) -> dict[str, object]:
    """The key of an engine of the model with `onnx_sha256`, built with `settings` for `target`. JSON-ready."""
    return {"schema": KEY_SCHEMA, "onnx_sha256": onnx_sha256, "calibration_set_sha256": calibration_set_sha256,
            "calibration_cache_sha256": calibration_cache_sha256, **target.as_dict(),
            "precision": settings.precision, "dla_core": settings.dla_core, "builder": settings.builder_dict()}


def key_digest(key: dict[str, object]) -> str:
    """A short, stable id of a key (sha256 of its canonical JSON, first 16 hex digits): for file and bundle names."""
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def key_target(key: dict[str, object]) -> EngineTarget:
    """The target part of a stored key."""
    return EngineTarget.from_dict(key)
