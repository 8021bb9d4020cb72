"""The engine cache key as one public function: computed from values alone (fleet bundles need no TensorRT or GPU),
with every field an engine depends on, and a digest that changes when any of them does."""

from __future__ import annotations

import dataclasses

import pytest

from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt.builder import settings_for
from edge_sdk.engines.trt.builder_config import Precision
from edge_sdk.engines.trt.key import (
    KEY_FIELDS,
    TARGET_FIELDS,
    EngineTarget,
    engine_cache_key,
    key_digest,
    key_target,
)

JP62_AGX = EngineTarget(tensorrt_version="10.3.0.30", cuda_version="12.6", compute_capability="8.7", jetpack="6.2",
                        l4t_release="R36.4.3", board="NVIDIA Jetson AGX Orin Developer Kit")


def key_for(target: EngineTarget = JP62_AGX, precision: Precision = "fp16") -> dict[str, object]:
    return engine_cache_key(onnx_sha256="ab" * 32, target=target, settings=settings_for(TensorRtEngineConfig(), precision))


def test_key_holds_every_field_and_is_plain_json_without_tensorrt() -> None:
    key = key_for()
    assert tuple(key) == KEY_FIELDS
    assert key["tensorrt_version"] == "10.3.0.30" and key["cuda_version"] == "12.6" and key["jetpack"] == "6.2"
    assert key_target(key) == JP62_AGX
    assert key_digest(key) == key_digest(dict(reversed(list(key.items()))))  # order does not matter
    assert len(key_digest(key)) == 16


@pytest.mark.parametrize("field", TARGET_FIELDS)
def test_an_upgrade_of_any_target_field_changes_the_digest(field: str) -> None:
    changed = dataclasses.replace(JP62_AGX, **{field: "other"})
    assert key_digest(key_for(changed)) != key_digest(key_for())
    assert JP62_AGX.differences(changed) == [f"{field} {getattr(JP62_AGX, field)!r} (engine) -> 'other' (here)"]


def test_precision_and_builder_settings_are_part_of_the_key() -> None:
    assert key_digest(key_for(precision="int8")) != key_digest(key_for())
    tf32_off = engine_cache_key(onnx_sha256="ab" * 32, target=JP62_AGX,
                                settings=dataclasses.replace(settings_for(TensorRtEngineConfig(), "fp16"), tf32=False))
    assert key_digest(tf32_off) != key_digest(key_for())
