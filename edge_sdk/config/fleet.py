"""`fleet:` — this device as a member of a fleet: its site, the keys it trusts, and the rollout agent's bounds.

With `fleet.enabled`, the daemon runs the rollout agent (edge_sdk/fleet/agent.py): it follows the retained
`<prefix>/<device_id>/model/desired` message on the broker it publishes to (the local broker, bridged to the
central one) and reports on `<prefix>/<device_id>/model/reported`. docs/fleet.md explains the gate and the trial.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from edge_sdk.config.base import Section


class RolloutConfig(Section):
    trusted_keys: str = Field("/etc/edge-sdk/trusted-keys",
                              description="folder of trusted Ed25519 public keys (*.pub), or one key file; relative "
                                          "to the config file. Bundles signed by any other key are refused")
    recent_frames: int = Field(16, ge=2, le=256, description="recent camera frames kept for the gate and smoke run")
    min_frames: int = Field(4, ge=1, le=256, description="a rollout waits for at least this many recent frames")
    frame_interval_s: float = Field(1.0, gt=0, le=3600, description="keep one recent frame every this many seconds")
    min_agreement_map50: float = Field(50.0, ge=0, le=100,
                                       description="FP32 gate: mAP50 (0..100) of the new model's detections scored "
                                                   "against the running model's on the recent frames, at least")
    max_detection_ratio: float = Field(3.0, ge=1, le=100,
                                       description="gate: detections per frame of the new model on the recent frames "
                                                   "within [1/x, x] times the running model's (when that is not ~0)")
    trial_max_detection_ratio: float = Field(3.0, ge=1, le=100,
                                             description="trial: live detections per frame of the new model within "
                                                         "[1/x, x] times the old model's just before the swap")
    trial_s: float = Field(30.0, ge=0, le=86400, description="after the swap, live figures are watched this long")
    min_fps_ratio: float = Field(0.7, gt=0, le=1, description="trial: the new model's fps at least this times the old")
    min_trial_frames: int = Field(3, ge=1, le=100000, description="trial: results of the new model needed to judge")
    trial_max_s: float = Field(120.0, gt=0, le=86400,
                               description="trial: without min_trial_frames results of the new model by then, roll back")
    download_timeout_s: float = Field(300.0, gt=0, le=86400, description="bundle download time limit")
    max_bundle_mb: float = Field(4096.0, gt=0, le=1_000_000, description="larger bundles are refused")
    keep_bundles: int = Field(3, ge=2, le=100, description="installed bundles kept (the running and previous ones included)")

    @model_validator(mode="after")
    def _frames(self) -> RolloutConfig:
        if self.min_frames > self.recent_frames:
            raise ValueError("min_frames must not exceed recent_frames")
        return self


class FleetConfig(Section):
    enabled: bool = Field(False, description="run the rollout agent (needs mqtt.enabled)")
    site: str | None = Field(None, pattern=r"^[^#+/\s]+$", description="the site this device belongs to (reported; "
                                                                     "central topics are <site>/<device_id>/...)")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description="model rollouts")
