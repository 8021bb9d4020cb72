"""Secrets from systemd credentials, the environment, or (least preferred) the config file itself.

Order: `$CREDENTIALS_DIRECTORY/<name>` (systemd LoadCredential=), then the named environment
variable, then the inline value.
"""

from __future__ import annotations

import os
from pathlib import Path


def credential_path(name: str) -> Path | None:
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / name
    return path if path.is_file() else None


def resolve_secret(name: str, *, env_var: str | None = None, inline: str | None = None) -> str | None:
    """The secret `name` from credentials, then `env_var`, then `inline`; None if none is set."""
    path = credential_path(name)
    if path is not None:
        return path.read_text(encoding="utf-8").rstrip("\n")
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    return inline

