"""The daemon's side of fleet rollouts: the rolled-out model in place of the configured one, the rollout
agent started beside the pipeline, and its swap requests served on the run loop through the reload path.

Without `fleet.enabled` every method is a no-op and the daemon behaves as if this did not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from edge_sdk.config.app import AppConfig
from edge_sdk.daemon.reload import ConfigSource, reload_config
from edge_sdk.errors import EdgeSdkError
from edge_sdk.frame import FrameResult
from edge_sdk.pipeline.build import ModelBundle, open_model
from edge_sdk.pipeline.pipeline import Pipeline

if TYPE_CHECKING:
    from edge_sdk.fleet.agent import RolloutAgent, SwapQueue

log = logging.getLogger(__name__)


class FleetLink:
    def __init__(self, cfg: AppConfig, configured: AppConfig, config_source: ConfigSource | None) -> None:
        self.cfg = cfg  # with the rolled-out model, if any
        self.configured = configured  # as the config file says
        self.config_source = config_source
        self.agent: RolloutAgent | None = None
        self.swaps: SwapQueue | None = None

    @classmethod
    def open(cls, cfg: AppConfig, config_source: ConfigSource | None) -> FleetLink:
        if not cfg.fleet.enabled:
            return cls(cfg, cfg, config_source)
        from edge_sdk.fleet.state import active_override

        source: ConfigSource | None = config_source
        if config_source is not None:
            load: Callable[[], AppConfig]
            if callable(config_source):
                load = config_source
            else:
                from edge_sdk.config import load_config

                path = str(config_source)

                def load() -> AppConfig:
                    return load_config(path)

            def source() -> AppConfig:  # SIGHUP keeps the rolled-out model
                return active_override(load())

        return cls(active_override(cfg), cfg, source)

    def open_model(self) -> ModelBundle:
        """The model to start with; a rolled-out model that fails to open falls back to the configured one."""
        try:
            return open_model(self.cfg)
        except EdgeSdkError as exc:
            if self.cfg is self.configured:
                raise
            log.error("the rolled-out model %s does not open (%s): starting with the configured model %s",
                      self.cfg.model.path, exc.message, self.configured.model.path)
            self.cfg = self.configured
            return open_model(self.cfg)

    def start(self, pipeline: Pipeline) -> None:
        if not self.cfg.fleet.enabled:
            return
        if not self.cfg.mqtt.enabled:
            log.warning("fleet.enabled needs mqtt.enabled: the rollout agent is not started")
            return
        from edge_sdk.fleet.agent import RolloutAgent, SwapQueue

        self.swaps = SwapQueue()
        self.agent = RolloutAgent(self.cfg, self.swaps, lambda: pipeline.parts.engine.info.model_sha256).start()

    def observe(self, result: FrameResult) -> None:
        if self.agent is not None:
            self.agent.observe(result)

    def serve_swaps(self, cfg: AppConfig, pipeline: Pipeline) -> AppConfig:
        """On the run loop: apply the agent's model swaps through the reload path; returns the config in force."""
        if self.swaps is None or self.agent is None:
            return cfg
        while (req := self.swaps.take()) is not None:
            wanted = cfg.model_copy(update={"model": req.model})
            outcome, cfg = reload_config(lambda w=wanted: w, cfg, pipeline)  # type: ignore[misc]
            swapped = outcome.ok and "model" in outcome.applied
            log.info("rollout: %s", outcome.summary())
            req.finish(swapped, outcome.error or ("; ".join(outcome.needs_restart) if not swapped else ""))
            self.agent.cfg = cfg
        return cfg

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
            self.agent = None
