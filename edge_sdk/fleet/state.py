"""What the rollout agent keeps on disk (under `<state_dir>/fleet/`), so a restart runs what was rolled out.

    active.json    the model the fleet rolled out and the daemon runs (absent: the config's own model)
    attempt.json   a rollout between its swap and the end of its trial (a daemon that dies there comes
                   back on the previous model, and the attempt is reported as rolled back)
    last.json      the last desired bundle handled and how it ended (a retained desired message that failed
                   is not tried again on every reconnect; a new one is)
    bundles/       installed, verified bundles; downloads/  partial downloads

Every file is written atomically. `active_override(cfg)` is applied by the daemon to every config it loads
(start and SIGHUP), and only if the active model file still has the sha256 recorded when it was verified.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from edge_sdk.atomic import write_json_atomic
from edge_sdk.config.app import AppConfig

log = logging.getLogger(__name__)


class FleetState:
    def __init__(self, cfg: AppConfig) -> None:
        self.root = cfg.resolve(cfg.state_dir) / "fleet"
        self.bundles = self.root / "bundles"
        self.downloads = self.root / "downloads"

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.root / name, exc)
            return None
        return data if isinstance(data, dict) else None

    def _write(self, name: str, data: dict[str, Any] | None) -> None:
        path = self.root / name
        if data is None:
            path.unlink(missing_ok=True)
        else:
            write_json_atomic(path, data)

    @property
    def active(self) -> dict[str, Any] | None:
        return self._read("active.json")

    @active.setter
    def active(self, data: dict[str, Any] | None) -> None:
        self._write("active.json", data)

    @property
    def attempt(self) -> dict[str, Any] | None:
        return self._read("attempt.json")

    @attempt.setter
    def attempt(self, data: dict[str, Any] | None) -> None:
        self._write("attempt.json", data)

    @property
    def last(self) -> dict[str, Any] | None:
        return self._read("last.json")

    @last.setter
    def last(self, data: dict[str, Any] | None) -> None:
        self._write("last.json", data)


def active_override(cfg: AppConfig) -> AppConfig:
    """`cfg` with the rolled-out model in place of the configured one, when fleet rollouts are on and the
    active model file is intact; otherwise `cfg` unchanged (logged when the record is unusable)."""
    if not cfg.fleet.enabled:
        return cfg
    active = FleetState(cfg).active
    if active is None:
        return cfg
    from edge_sdk.fleet.bundle import sha256_file

    path = Path(str(active.get("model_path", "")))
    try:
        intact = path.is_file() and sha256_file(path) == active.get("model_sha256")
    except OSError:
        intact = False
    if not intact:
        log.error("the rolled-out model %s is missing or changed on disk: running the configured model %s instead",
                  path, cfg.model.path)
        return cfg
    model = cfg.model.model_copy(update={"path": str(path), "name": active.get("name") or cfg.model.name,
                                         "precision": active.get("precision", "fp32")})
    return cfg.model_copy(update={"model": model})
