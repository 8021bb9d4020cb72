"""Secrets out of everything edge-sdk logs, publishes or prints: the one redaction helper.

    from edge_sdk.redact import redact, mask_secrets
    redact("rtsp://admin:hunter2@cam/live?token=abc")   # 'rtsp://admin:***@cam/live?token=***'
    mask_secrets({"mqtt": {"password": "pw"}})          # {'mqtt': {'password': '***'}}

`redact(text)` masks, anywhere in a text (a URI, a GStreamer pipeline, an error message, a log line):
- the password of a URL's `user:password@` (the user name stays: it says which account is used);
- the value of secret query parameters (`?password=`, `&token=`, `key=`, `auth=`, `signature=`, ...);
- the value of secret GStreamer properties (`user-pw=`, `proxy-pw=`, `password=`).
`mask_secrets(data)` walks a config dump (dicts, lists) and masks the values of secret keys (`password`,
`secret`, `token`, ...) and redacts every string. Both are idempotent and never raise. The logging setup
(`edge_sdk/log.py`) runs every log line through `redact`, as a last line of defence.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "access_key",
                 "private_key", "credential")
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@\"'<>]*):[^\s/@\"'<>]+@")
_QUERY_SECRET = re.compile(
    r"([?&;](?:password|passwd|pwd|pass|passphrase|token|access_token|auth|authorization|key|apikey|api_key|"
    r"secret|sig|signature|credential|credentials)=)[^&#\s\"'<>]+", re.IGNORECASE)
_PROPERTY_SECRET = re.compile(r"(\b(?:user-pw|proxy-pw|password|passwd|passphrase)\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s!\"'&;]+)",
                              re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every URL password, secret query value and secret GStreamer property masked."""
    if not text or not isinstance(text, str):
        return text
    if "@" in text:
        text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(rf"\1{MASK}", text)
        text = _PROPERTY_SECRET.sub(rf"\1{MASK}", text)
    return text


def is_secret_key(key: object) -> bool:
    """Whether a config key names a secret value (`password`, `mqtt_token`, `api_key`, ...); not `password_env`,
    which names where the secret is, nor `key_file`, a path."""
    name = str(key).lower()
    if name.endswith(("_env", "_file", "_path")):
        return False
    return any(word in name for word in _SECRET_WORDS)


def mask_secrets(data: Any) -> Any:
    """A copy of `data` (dicts, lists, strings, scalars) with secret keys' values masked and strings redacted."""
    if isinstance(data, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else mask_secrets(v)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_secrets(v) for v in data]
    if isinstance(data, str):
        return redact(data)
    return data
