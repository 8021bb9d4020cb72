"""`calibration:` — where calibration frames live, how they are captured and how they are split.

Frames live in `<root>/<profile>/` (relative to the config file): one folder per deployment profile,
filled by `edge-sdk calibrate capture` (or by copying JPEG/PNG files in). The build splits them into
calibration frames and held-out frames (never both) by a hash of their content.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from edge_sdk.config.base import Section


class CaptureConfig(Section):
    frames: int = Field(400, ge=1, le=100000,
                        description="frames `edge-sdk calibrate capture` collects in total (400: 300 to calibrate, 100 "
                                    "for the accuracy gate; with fewer the gate's figure is noisier, see its interval)")
    interval_s: float = Field(1.0, ge=0.0, le=86400.0,
                              description="minimum time between kept frames (stream time for files, wall time for cameras)")
    min_difference: float = Field(0.02, ge=0.0, le=1.0,
                                  description="a frame whose mean absolute difference (0..1, on a 32x32 grey thumbnail) "
                                              "to every recently kept frame is below this is a near-duplicate and skipped")
    compare_last: int = Field(16, ge=1, le=1000, description="how many recently kept frames a new frame is compared with")
    format: str = Field("png", pattern=r"^(png|jpg)$", description="image format of captured frames: png (lossless) or jpg")
    jpeg_quality: int = Field(95, ge=50, le=100, description="JPEG quality when format is jpg")
    camera: str | None = Field(None, description="camera (sources[].name) to capture from; default the first")
    read_timeout_s: float = Field(10.0, gt=0.0, le=600.0, description="give up when the source delivers no frame this long")


class CalibrationConfig(Section):
    root: str = Field("calibration",
                      description="folder holding one sub-folder of frames per profile (relative to the config file)")
    profile: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                                description="profile name (sub-folder of root); default the config's device_id")
    dir: str | None = Field(None, description="use this folder of JPEG/PNG frames instead of <root>/<profile>")
    holdout_dir: str | None = Field(None, description="optional separate folder of held-out frames for the accuracy gate; "
                                                      "then every frame of the main folder calibrates")
    holdout_fraction: float = Field(0.25, gt=0.0, lt=1.0,
                                    description="share of frames held out for the accuracy gate (when holdout_dir is unset)")
    min_frames: int = Field(32, ge=2, le=100000, description="fewest usable frames (calibration + held-out) the build accepts")
    min_holdout_frames: int = Field(8, ge=1, le=100000, description="fewest held-out frames the accuracy gate accepts")
    max_calibration_frames: int = Field(300, ge=1, le=100000,
                                        description="calibrate on at most this many frames (an even spread of the set)")
    max_holdout_frames: int = Field(200, ge=1, le=100000, description="evaluate the gate on at most this many held-out frames")
    max_bad_fraction: float = Field(0.1, ge=0.0, le=1.0,
                                    description="unreadable, non-image, too large or too small files are skipped "
                                                "and counted; the build fails when their share exceeds this")
    max_image_pixels: int = Field(40_000_000, ge=256, le=1_000_000_000,
                                  description="images whose header claims more pixels than this (width x height) "
                                              "are skipped and counted, never decoded (8K, 33 MP, fits the default)")
    capture: CaptureConfig = Field(default_factory=CaptureConfig, description="`edge-sdk calibrate capture` settings")

    @model_validator(mode="after")
    def _holdout_fits(self) -> CalibrationConfig:
        if self.min_holdout_frames >= self.min_frames and self.holdout_dir is None:
            raise ValueError(f"min_holdout_frames ({self.min_holdout_frames}) must be below min_frames ({self.min_frames}): "
                             "the held-out frames are part of the set")
        return self
