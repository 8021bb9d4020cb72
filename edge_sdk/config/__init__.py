"""Configuration: one YAML file per deployed app, validated with pydantic (unknown keys rejected).

`load_config(path)` returns an `AppConfig` or raises `ConfigError` naming file:line, key path,
the bad value and what is allowed.

The names are loaded on first use (PEP 562), so that importing `edge_sdk.config.base` (as every engine
backend does for its config section) does not import the whole app config, which imports the backends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.config.loader import load_config, load_config_text

__all__ = ["AppConfig", "load_config", "load_config_text"]
_HOMES = {"AppConfig": "edge_sdk.config.app", "load_config": "edge_sdk.config.loader",
          "load_config_text": "edge_sdk.config.loader"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
