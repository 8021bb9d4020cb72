"""Whatever arrives from the broker is checked here before anything else looks at it.

Anyone who can publish to the broker can send anything: `"seq": Infinity`, a `schema_version` of `1e400`,
JSON nested ten thousand deep, a 50 MB payload, a message whose payload names another camera than its topic.
The subscriber (`DetectionSubscriber` and so every app built on it) runs each message through these checks
inside one guard: a bad message is counted and logged once per source, and never reaches the network thread
as an exception (which would kill it, and with a persistent session kill it again on every restart, as the
broker redelivers the unacknowledged message).

- `load_json(payload)`: a JSON object of at most `MAX_PAYLOAD` bytes, at most `MAX_DEPTH` levels deep,
  without NaN/Infinity (written or reached by overflow, like 1e400).
- `field_*`: typed, bounded field readers (`InvalidMessage`, a ValueError, names the field and what is wrong).
- `check_envelope(topic, message)`: the fields every per-camera message carries (device_id, camera, seq,
  message_id) are in range and agree with the topic the message came on.
- `Rejections`: counts bad messages per source (topic), logs the first of each, remembers a bounded number.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import re
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_PAYLOAD = 1 << 20  # bytes; a detection message with 100 detections is ~20 KB
MAX_DEPTH = 16  # a detection message is 4 levels deep
MAX_SEQ = (1 << 63) - 1
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidMessage(ValueError):
    """A message that is not what its topic promises; the text says which field and why."""


def _constant(name: str) -> Any:
    raise InvalidMessage(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidMessage(f"number {text[:20]} is out of range")
    return value


def load_json(payload: bytes, max_bytes: int = MAX_PAYLOAD, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The JSON object in `payload`, checked for size, depth and non-finite numbers."""
    if len(payload) > max_bytes:
        raise InvalidMessage(f"payload of {len(payload)} bytes is larger than {max_bytes}")
    try:
        data = json.loads(payload, parse_constant=_constant, parse_float=_finite)
    except RecursionError:
        raise InvalidMessage(f"JSON nested more than {max_depth} levels deep") from None
    except InvalidMessage:
        raise
    except ValueError as exc:  # not JSON, not UTF-8, an integer of thousands of digits
        raise InvalidMessage(f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise InvalidMessage(f"not a JSON object but {type(data).__name__}")
    _check_depth(data, max_depth)
    return data


def _check_depth(data: Any, max_depth: int) -> None:
    """Iterative (no recursion to exhaust): every container at most `max_depth` levels down."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise InvalidMessage(f"JSON nested more than {max_depth} levels deep")
        children = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))


def field_int(raw: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidMessage(f"{key} must be an integer, got {_show(value)}")
    if not lo <= value <= hi:
        raise InvalidMessage(f"{key} {_show(value)} is outside {lo}..{hi}")
    return value


def field_float(raw: dict[str, Any], key: str) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidMessage(f"{key} must be a finite number, got {_show(value)}")
    return float(value)


def field_str(raw: dict[str, Any], key: str, max_len: int = 256) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise InvalidMessage(f"{key} must be a non-empty string of at most {max_len} characters, got {_show(value)}")
    return value


def field_name(raw: dict[str, Any], key: str) -> str:
    """A name that is also a topic level (device, camera, zone, line): 1-64 letters, digits, '-' or '_'."""
    value = raw.get(key)
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidMessage(f"{key} {_show(value)} is not 1-64 letters, digits, '-' or '_'")
    return value


def field_list(raw: dict[str, Any], key: str, max_len: int) -> list[Any]:
    value = raw.get(key)
    if not isinstance(value, list) or len(value) > max_len:
        raise InvalidMessage(f"{key} must be a list of at most {max_len} items, got {_show(value)}")
    return value


def field_dict(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise InvalidMessage(f"{key} must be an object, got {_show(value)}")
    return value


def check_schema_version(raw: dict[str, Any], newest: int) -> None:
    version = field_int(raw, "schema_version", 1, MAX_SEQ)
    if version > newest:
        raise InvalidMessage(f"schema_version {version} is newer than this SDK's {newest}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Envelope(Protocol):
    @property
    def device_id(self) -> str: ...

    @property
    def camera(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def message_id(self) -> str: ...


def check_envelope(topic: str, m: _Envelope) -> None:
    """The fields every per-camera message carries: ids in the topic alphabet, seq a positive integer below
    2**63, a message id, and device and camera equal to the topic's (`<prefix>/<device>/<camera>/<kind>`)."""
    for name, value in (("device_id", m.device_id), ("camera", m.camera)):
        if not isinstance(value, str) or not _ID.match(value):
            raise InvalidMessage(f"{name} {_show(value)} is not 1-64 letters, digits, '-' or '_'")
    if isinstance(m.seq, bool) or not isinstance(m.seq, int) or not 1 <= m.seq <= MAX_SEQ:
        raise InvalidMessage(f"seq {_show(m.seq)} is not an integer in 1..2**63-1")
    if not isinstance(m.message_id, str) or not 1 <= len(m.message_id) <= 128:
        raise InvalidMessage(f"message_id {_show(m.message_id)} is not a string of 1-128 characters")
    levels = topic.split("/")
    if len(levels) >= 3 and (levels[-3], levels[-2]) != (m.device_id, m.camera):
        raise InvalidMessage(f"the payload names {m.device_id}/{m.camera}, the topic {levels[-3]}/{levels[-2]}")


class Rejections:
    """Bad messages counted per source (topic); the first of each source is logged, the rest only counted."""

    def __init__(self, max_sources: int = 1024) -> None:
        self.total = 0
        self.by_source: collections.OrderedDict[str, int] = collections.OrderedDict()
        self.max_sources = max_sources

    def add(self, topic: str, exc: BaseException) -> None:
        self.total += 1
        source = topic if len(topic) <= 200 else topic[:197] + "..."
        count = self.by_source.pop(source, 0) + 1
        self.by_source[source] = count
        while len(self.by_source) > self.max_sources:
            self.by_source.popitem(last=False)
        if count == 1:
            why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            log.warning("ignoring an invalid message on %s: %s (more from there are counted, not logged)",
                        source, why[:300])
