"""Load YAML configs with line numbers, so validation errors read `file:line: key.path: message`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge_sdk.config.app import AppConfig
from edge_sdk.config.yaml_lines import Loc, parse_yaml
from edge_sdk.errors import ConfigError
from edge_sdk.redact import MASK, is_secret_key, mask_secrets


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
        loc, _, union = _walk(tuple(err["loc"]))
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):  # `type:` names no registered section
            loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "type")).strip("'"))
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
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            parts = [_tag_problem(where, key, err, [str(_tag(c)) for c in union])]
        elif err["type"] == "extra_forbidden":
            parts = [f"{where}: {key}: unknown key"]
            suggestion = _closest_key(_walk(tuple(err["loc"])[:-1])[1], str(loc[-1]))
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


def _tag_problem(where: str, key: str, err: Any, allowed: list[str]) -> str:
    import difflib

    ctx = err.get("ctx") or {}
    if err["type"] == "union_tag_not_found":
        return f"{where}: {key}: missing [allowed: {', '.join(allowed)}]"
    tag = str(ctx.get("tag", ""))
    close = difflib.get_close_matches(tag, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{where}: {key}: unknown type {tag!r}{hint} [allowed: {', '.join(allowed)}]"


def _walk(raw: Loc) -> tuple[Loc, type[Any] | None, list[Any]]:
    """A pydantic error location as the key path written in the YAML, the model class found at its end, and
    the sections of the union found there (if it ends at a union field).

    Pydantic puts a discriminated union's tag into the location (`engine.tensorrt.slots` for `engine: {type:
    tensorrt, slots: ...}`): after a field whose type is a union of several sections, the next part is the tag;
    it picks the section (for "did you mean") and is left out of the path shown."""
    from typing import get_args

    shown: list[str | int] = []
    model: Any = AppConfig
    union: list[Any] = []
    for part in raw:
        if union:
            tagged = next((c for c in union if _tag(c) == part), None)
            union = []
            if tagged is not None:
                model = tagged
                continue
        shown.append(part)
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            model = None
            continue
        candidates = [field.annotation, *get_args(field.annotation)]
        for arg in list(candidates):
            candidates.extend(get_args(arg))
        models = list(dict.fromkeys(c for c in candidates if hasattr(c, "model_fields")))
        model = models[0] if len(models) == 1 else None
        union = models if len(models) > 1 else []
    return tuple(shown), model, union


def _tag(model: Any) -> Any:
    field = model.model_fields.get("type")
    return field.default if field is not None else None


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
