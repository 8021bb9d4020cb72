"""YAML with line numbers: `parse_yaml` returns the data and where each key path is, for errors that say
`file:line`. Used by the app config (config/loader.py) and the device profiles (device/profiles.py)."""

from __future__ import annotations

from typing import Any

import yaml

from edge_sdk.config.safe_yaml import load_bounded
from edge_sdk.errors import ConfigError

Loc = tuple[str | int, ...]


def _line_map(node: yaml.Node, path: Loc, out: dict[Loc, int], source: str) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"key {'.'.join(map(str, path + (key,)))!r} appears twice (first on line {seen[key]})",
                                  where=f"{source}:{line}", fix="keep one of them")
            seen[key] = line
            out[path + (key,)] = line
            _line_map(value_node, path + (key,), out, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[path + (i,)] = item.start_mark.line + 1
            _line_map(item, path + (i,), out, source)


def parse_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    """The data of a YAML document and the line of each key path; bounded against alias bombs and deep nesting
    (safe_yaml.py)."""
    data, node = load_bounded(text, source)
    lines: dict[Loc, int] = {}
    if node is not None:
        _line_map(node, (), lines, source)
    return data, lines
