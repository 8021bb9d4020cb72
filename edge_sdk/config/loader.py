"""Load YAML configs with line numbers, so validation errors read `file:line: key.path: message`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge_sdk.config.app import AppConfig
from edge_sdk.errors import ConfigError
from edge_sdk.redact import MASK, is_secret_key, mask_secrets

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


def _describe_allowed(err: Any) -> str:
    ctx = err.get("ctx") or {}
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if "expected" in ctx:
        return f"allowed: {ctx['expected']}"
    for bound in ("ge", "gt", "le", "lt"):
        if bound in ctx:
            sym = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[bound]
            return f"must be {sym} {ctx[bound]}"
    return ""


def _redact(loc: Loc, value: Any) -> Any:
    """Never echo secrets: secret keys' values are masked, and so are secrets inside URIs and pipelines."""
    if loc and is_secret_key(loc[-1]):
        return MASK
    return mask_secrets(value)


def _closest_key(model: type[Any] | None, key: str) -> str | None:
    import difflib

    if model is None:
        return None
    fields = list(getattr(model, "model_fields", {}))
    match = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    return match[0] if match else None


def format_validation_error(exc: ValidationError, lines: dict[Loc, int], source: str) -> ConfigError:
    messages = []
    for err in exc.errors():
        loc: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("onnxruntime", "tensorrt")))
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        key = ".".join(str(p) for p in loc) or "(top level)"
        where = f"{source}:{line}" if line else source
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        parts = [f"{where}: {key}: {msg}"]
        if err["type"] == "extra_forbidden":
            parts = [f"{where}: {key}: unknown key"]
            suggestion = _closest_key(_model_at(loc[:-1]), str(loc[-1]))
            if suggestion:
                parts.append(f"(did you mean {suggestion!r}?)")
        elif err["type"] != "missing" and not isinstance(value, dict):
            parts.append(f"(got {_redact(loc, value)!r})")
        allowed = _describe_allowed(err)
        if allowed and err["type"] != "extra_forbidden" and not err["type"].endswith(("_than", "_equal")):
            parts.append(f"[{allowed}]")
        messages.append(" ".join(parts))
    count = len(messages)
    return ConfigError(f"{count} problem{'s' if count > 1 else ''} in the config:\n  " + "\n  ".join(messages),
                       fix="correct the keys above; `edge-sdk config schema` lists every key with its bounds")


def _model_at(loc: Loc) -> type[Any] | None:
    """The pydantic model class found at a key path of AppConfig (for 'did you mean' hints)."""
    from typing import get_args

    model: Any = AppConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *get_args(ann)]
        for arg in list(candidates):
            candidates.extend(get_args(arg))
        model = next((c for c in candidates if hasattr(c, "model_fields")), None)
        if model is None:
            return None
    return model  # type: ignore[no-any-return]


def parse_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"malformed YAML: {exc.problem}", where=where,
                          fix="check indentation and quoting around that line") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", where=source) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _line_map(node, (), lines, source)
    return data, lines


def load_config_text(text: str, source: str = "<config>", base_dir: Path | None = None) -> AppConfig:
    data, lines = parse_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping of keys to values", where=source)
    try:
        cfg = AppConfig.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc, lines, source) from None
    cfg.base_dir = (base_dir or Path.cwd()).resolve()
    return cfg


def load_config(path: str | Path) -> AppConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", where=str(p),
                          fix="pass an existing file, e.g. --config configs/demo.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", where=str(p)) from None
    return load_config_text(text, str(p), p.parent)
