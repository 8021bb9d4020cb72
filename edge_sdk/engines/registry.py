"""Engine implementations by config `type` key. Modules are imported only when that type is used."""

from __future__ import annotations

import importlib
from typing import Any

from edge_sdk.engines.base import Engine
from edge_sdk.errors import ConfigError

# type key -> "module:factory"; the factory takes (model_path, engine_config) and returns an Engine.
ENGINES: dict[str, str] = {
    "onnxruntime": "edge_sdk.engines.onnxrt:open_onnxruntime",
    "tensorrt": "edge_sdk.engines.trt.runtime:open_tensorrt",
}


def available_engines() -> list[str]:
    return sorted(ENGINES)


def open_engine(engine_type: str, model_path: str, options: Any = None) -> Engine:
    """Open the engine registered under `engine_type` on `model_path`."""
    target = ENGINES.get(engine_type)
    if target is None:
        raise ConfigError(f"unknown engine type {engine_type!r}", where="engine.type",
                          fix=f"use one of: {', '.join(available_engines())}")
    module_name, _, factory = target.partition(":")
    module = importlib.import_module(module_name)
    engine: Engine = getattr(module, factory)(model_path, options)
    return engine
