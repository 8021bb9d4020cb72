"""Configuration: one YAML file per deployed app, validated with pydantic (unknown keys rejected).

`load_config(path)` returns an `AppConfig` or raises `ConfigError` naming file:line, key path,
the bad value and what is allowed.
"""

from edge_sdk.config.app import AppConfig
from edge_sdk.config.loader import load_config, load_config_text

__all__ = ["AppConfig", "load_config", "load_config_text"]
