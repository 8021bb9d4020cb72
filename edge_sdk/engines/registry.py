"""Engine backends, found by convention: each module in edge_sdk/engines/backends/ is one backend.

A backend module defines its config section (a subclass of `EngineConfigBase` whose `type` is a one-value
Literal equal to the module's name), its `Engine` subclass, and `BACKEND = Backend(Config, open)`. Nothing
else names it: `engine.type` in the config schema is the discriminated union of the registered config
classes (`engine_config_union`, used by config/app.py), and `open_engine` finds the backend by that key.
Backend modules import their heavy dependency (onnxruntime, tensorrt, pycuda) only when an engine opens, so
discovering them is cheap; one whose import fails is logged and left out, not fatal to the others (as in
Frigate), and its type is then unknown to the config.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Annotated, Any, Union

from pydantic import Field

from edge_sdk.engines.base import Backend, Engine, EngineConfigBase
from edge_sdk.errors import ConfigError

log = logging.getLogger(__name__)

PLUGIN_PACKAGE = "edge_sdk.engines.backends"
DEFAULT_TYPE = "onnxruntime"


_backends: dict[str, Backend] | None = None


def backends() -> dict[str, Backend]:
    """Type key -> backend, discovered once (imports every module of edge_sdk/engines/backends/)."""
    global _backends
    if _backends is None:
        _backends = _discover()
    return _backends


def _discover() -> dict[str, Backend]:
    package = importlib.import_module(PLUGIN_PACKAGE)
    found: dict[str, Backend] = {}
    for info in pkgutil.iter_modules(package.__path__):
        name = f"{PLUGIN_PACKAGE}.{info.name}"
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            log.warning("engine backend %s left out: %s", info.name, exc)
            continue
        backend = getattr(module, "BACKEND", None)
        if not isinstance(backend, Backend):
            raise TypeError(f"{name} defines no BACKEND = Backend(...); every module there is an engine backend")
        if backend.type != info.name:
            raise TypeError(f"{name} registers type {backend.type!r}: a backend module is named after its type")
        found[backend.type] = backend
    return found


def available_engines() -> list[str]:
    return sorted(backends())


def engine_config_union() -> Any:
    """The `engine:` section's type: the registered config classes, discriminated on `type`."""
    configs = tuple(b.config for b in backends().values())
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[configs], Field(discriminator="type")]  # noqa: UP007 (a runtime tuple of classes)


def default_engine_config() -> EngineConfigBase:
    return backends()[DEFAULT_TYPE].config.model_validate({})


def open_engine(engine_type: str, model_path: str, options: EngineConfigBase | None = None) -> Engine:
    """Open the engine registered under `engine_type` on `model_path`; `options` is its config section
    (default: that section's defaults)."""
    backend = backends().get(engine_type)
    if backend is None:
        raise ConfigError(f"unknown engine type {engine_type!r}", where="engine.type",
                          fix=f"use one of: {', '.join(available_engines())}")
    if options is None:
        options = backend.config.model_validate({})
    elif not isinstance(options, backend.config):
        raise TypeError(f"engine type {engine_type!r} takes a {backend.config.__name__}, "
                        f"got a {type(options).__name__}")
    return backend.open(model_path, options)
