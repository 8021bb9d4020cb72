"""Class labels: from the model's metadata, a labels file (`model.labels`) or an inline list.

Accepted forms: a list of names (index = class id), a mapping {id: name} (JSON, YAML or a Python-literal dict,
as Ultralytics writes), or text with one name per line (blank lines and `#` comments skipped).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import yaml

from edge_sdk.config.safe_yaml import load_bounded
from edge_sdk.errors import ConfigError

#: Metadata keys exporters put class names under, in the order they are tried.
LABEL_KEYS = ("names", "labels", "classes", "class_names", "label_list", "character")


def parse_value(text: str) -> Any:
    """A metadata value as JSON, else a Python literal (Ultralytics writes reprs; literal_eval runs no code),
    else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text


def labels_from(value: Any) -> dict[int, str]:
    """Class names from a list, a mapping or newline-separated text; {} when `value` holds none."""
    if isinstance(value, str):
        parsed = parse_value(value)
        if not isinstance(parsed, str):
            return labels_from(parsed)
        lines = [ln.strip() for ln in value.splitlines()]
        names = [ln for ln in lines if ln and not ln.startswith("#")]
        return dict(enumerate(names)) if len(names) > 1 or "\n" in value else {}
    if isinstance(value, (list, tuple)):
        return {i: str(v) for i, v in enumerate(value)}
    if isinstance(value, dict):
        try:
            return {int(k): str(v) for k, v in value.items()}
        except (TypeError, ValueError):
            return {}
    return {}


def labels_from_metadata(props: dict[str, str]) -> tuple[dict[int, str], str]:
    """(labels, the key they came from) from ONNX metadata_props; ({}, "") when none is there."""
    for key in LABEL_KEYS:
        if key in props:
            names = labels_from(props[key])
            if names:
                return names, key
    return {}, ""


def read_labels_file(path: Path) -> dict[int, str]:
    """Labels from a file: a JSON or YAML list/mapping, or one name per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("labels file not found", where=str(path),
                          fix="set model.labels to an existing file (relative to the config file) or remove it "
                              "to use the model's own labels") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the labels file: {exc}", where=str(path)) from None
    value: Any = text
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        try:
            value = json.loads(text) if path.suffix.lower() == ".json" else load_bounded(text, str(path))[0]
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"malformed labels file: {exc}", where=str(path),
                              fix="write a list of names, a mapping {id: name}, or one name per line") from None
        if isinstance(value, dict) and "names" in value:  # an Ultralytics dataset YAML
            value = value["names"]
    names = labels_from(value)
    if not names and isinstance(value, str) and value.strip():
        names = {0: value.strip()}
    if not names:
        raise ConfigError("the labels file holds no class names", where=str(path),
                          fix="write one name per line (line 1 = class 0), or a JSON/YAML list")
    return names
