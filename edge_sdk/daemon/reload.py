"""SIGHUP: reload the config file and apply what can be applied live.

Applied without a restart: the model, engine and decode sections (a new engine is loaded beside the running
one and swapped in between two inferences; the MQTT session is kept), the log level, and the daemon's
watchdog/status figures. Everything else (mqtt, sources, pipeline, device_id, ...) needs a restart: the
reload says so clearly, and keeps running with the old values for those sections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge_sdk.config.app import AppConfig
from edge_sdk.errors import EdgeSdkError
from edge_sdk.pipeline.build import open_model
from edge_sdk.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)

LIVE_SECTIONS = ("model", "engine", "decode", "logging", "daemon")
ENGINE_SECTIONS = ("model", "engine")


@dataclass
class ReloadOutcome:
    ok: bool
    applied: list[str] = field(default_factory=list)
    needs_restart: list[str] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"reload failed, still running the previous config: {self.error}"
        parts = [f"applied: {', '.join(self.applied) or 'nothing changed'}"]
        if self.needs_restart:
            parts.append(f"changed but needs a restart (systemctl restart edge-sdk): {', '.join(self.needs_restart)}")
        return "reload " + "; ".join(parts)


def changed_sections(old: AppConfig, new: AppConfig) -> list[str]:
    a, b = old.model_dump(), new.model_dump()
    return [n for n in AppConfig.model_fields if a.get(n) != b.get(n)]


ConfigSource = str | Path | Callable[[], AppConfig]


def reload_config(source: ConfigSource, current: AppConfig, pipeline: Pipeline) -> tuple[ReloadOutcome, AppConfig]:
    """Load the config (a path, or a callable that loads it with the command line's overrides), apply the
    live sections to `pipeline`; returns the outcome and the config now in force."""
    from edge_sdk.config import load_config

    try:
        new = source() if callable(source) else load_config(str(source))
    except EdgeSdkError as exc:
        return ReloadOutcome(False, error=str(exc)), current
    changed = changed_sections(current, new)
    outcome = ReloadOutcome(True)
    outcome.needs_restart = [c for c in changed if c not in LIVE_SECTIONS]
    live = [c for c in changed if c in LIVE_SECTIONS]
    # Values that need a restart stay as they are in the running config.
    applied = current.model_copy(update={c: getattr(new, c) for c in live})
    if any(c in live for c in ENGINE_SECTIONS + ("decode",)):
        try:
            bundle = open_model(applied)
        except EdgeSdkError as exc:
            return ReloadOutcome(False, error=str(exc)), current
        try:
            old_engine = pipeline.swap_engine(bundle.engine, bundle.decoder, bundle.params, bundle.metadata,
                                              bundle.preprocess, name=applied.model_name)
        except ValueError as exc:
            bundle.engine.close()
            outcome.needs_restart += [c for c in ENGINE_SECTIONS if c in live]
            live = [c for c in live if c not in ENGINE_SECTIONS and c != "decode"]
            log.warning("the new model cannot be swapped in live (%s): restart the service to use it", exc)
            applied = current.model_copy(update={c: getattr(new, c) for c in live})
        else:
            old_engine.close()
            log.info("engine swapped: %s %s on %s", bundle.path.name, bundle.engine.info.precision,
                     bundle.engine.info.device)
    if "logging" in live:
        logging.getLogger("edge_sdk").setLevel(applied.logging.level)
    outcome.applied = live
    return outcome, applied
