"""`events:`, `preview:` and `homeassistant:` — tracking, zones and lines, snapshots, the live preview and
Home Assistant discovery (edge_sdk/events/). The per-frame detections topic is not affected by any of them.

    events:
      tracker: {track_buffer: 30}           # ByteTrack; a track lost this many frames ends
      update_interval_s: 5                  # at most one `update` per track this often (and on zone change)
      cameras:
        cam0:
          zones:
            driveway: {polygon: [[0, 0.6], [1, 0.6], [1, 1], [0, 1]], classes: [car, person]}
          lines:
            gate: {points: [[320, 0], [320, 480]], in_direction: right}
      snapshots: {enabled: true, publish: crop}
    preview: {enabled: true, port: 8090}    # http://127.0.0.1:8090/
    homeassistant: {enabled: true}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge_sdk.config.base import Section

NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
Anchor = Literal["bottom_center", "center", "top_center"]
Units = Literal["auto", "pixels", "normalized"]


class ObjectFilter(Section):
    """Which tracked objects a zone or line considers."""

    classes: list[str | int] | None = Field(None, description="only these classes (names or ids); null: all")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="only while the object's current score is at least this")
    min_area: float = Field(0.0, ge=0.0, description="only boxes at least this many square pixels")
    max_area: float | None = Field(None, gt=0.0, description="only boxes at most this many square pixels; null: no bound")
    anchor: Anchor = Field("bottom_center", description="the point of the box that must be inside (or cross): "
                           "bottom_center is where an object stands")

    @model_validator(mode="after")
    def _area_order(self) -> ObjectFilter:
        if self.max_area is not None and self.max_area < self.min_area:
            raise ValueError("max_area must not be below min_area")
        return self


def _units_fit(points: list[tuple[float, float]], units: Units) -> None:
    if units == "normalized" and any(not (0 <= v <= 1) for p in points for v in p):
        raise ValueError("normalized coordinates must lie in 0..1")
    if any(v < 0 for p in points for v in p):
        raise ValueError("coordinates must not be negative")


class ZoneConfig(ObjectFilter):
    polygon: list[tuple[float, float]] = Field(..., min_length=3, max_length=64,
                                               description="corners [[x, y], ...] in pixels or normalised 0..1")
    units: Units = Field("auto", description="auto: normalised if every coordinate is within 0..1, else pixels")
    inertia: int = Field(3, ge=1, le=300, description="frames an object must be inside (outside) before it has "
                                                       "entered (left): no flicker at the border")

    @model_validator(mode="after")
    def _polygon(self) -> ZoneConfig:
        _units_fit(self.polygon, self.units)
        return self


class LineConfig(ObjectFilter):
    points: list[tuple[float, float]] = Field(..., min_length=2, max_length=2,
                                              description="the line's two ends [[x1, y1], [x2, y2]], pixels or normalised")
    units: Units = Field("auto", description="auto: normalised if every coordinate is within 0..1, else pixels")
    in_direction: Literal["auto", "up", "down", "left", "right"] = Field(
        "auto", description="crossings moving this way count as `in`, the other way as `out`; auto: towards the "
                            "right-hand side of the line walked from its first point to its second as drawn on "
                            "screen (a line drawn left to right counts downward movement as in)")
    margin: float = Field(0.005, ge=0.0, le=0.2, description="dead band on each side of the line, as a fraction of "
                                                            "the frame's diagonal: jitter on the line never counts")

    @model_validator(mode="after")
    def _line(self) -> LineConfig:
        _units_fit(self.points, self.units)
        (x1, y1), (x2, y2) = self.points
        if (x1, y1) == (x2, y2):
            raise ValueError("a line needs two different points")
        return self


class CameraEventsConfig(Section):
    zones: dict[str, ZoneConfig] = Field(default_factory=dict, description="zones by name (letters, digits, - _)")
    lines: dict[str, LineConfig] = Field(default_factory=dict, description="counting lines by name (letters, digits, - _)")

    @field_validator("zones", "lines")
    @classmethod
    def _names(cls, value: dict[str, ZoneConfig] | dict[str, LineConfig]) -> dict[str, ZoneConfig] | dict[str, LineConfig]:
        import re

        bad = [k for k in value if not re.match(NAME_PATTERN, k)]
        if bad:
            raise ValueError(f"names must be 1-64 letters, digits, '-' or '_' (they are MQTT topic levels): {bad}")
        if len(value) > 32:
            raise ValueError("at most 32 zones and 32 lines per camera")
        return value


class TrackerConfig(Section):
    type: Literal["bytetrack"] = Field("bytetrack", description="the tracker: ByteTrack (Kalman motion, two-stage "
                                                              "association of high and low scores)")
    high_thresh: float = Field(0.5, ge=0.0, le=1.0, description="first association: detections scoring at least this")
    low_thresh: float = Field(0.1, ge=0.0, le=1.0, description="second association: detections in [low, high) keep "
                              "tracks alive through occlusion (only those above decode.conf_thres reach the tracker)")
    new_track_thresh: float = Field(0.6, ge=0.0, le=1.0, description="an unmatched detection scoring at least this "
                                    "starts a track")
    match_thresh: float = Field(0.8, gt=0.0, le=1.0, description="first association: largest cost 1 - IoU x score")
    track_buffer: int = Field(30, ge=1, le=10000, description="frames a lost track is kept to be found again; then it "
                              "ends (`end` event)")
    min_hits: int = Field(2, ge=1, le=100, description="consecutive frames a track needs before it is confirmed "
                          "(`new` event)")

    @model_validator(mode="after")
    def _order(self) -> TrackerConfig:
        if self.low_thresh > self.high_thresh:
            raise ValueError("low_thresh must not exceed high_thresh")
        return self


class SnapshotsConfig(Section):
    enabled: bool = Field(False, description="save the best frame of each track as JPEGs (crop and full frame)")
    path: str = Field("snapshots", min_length=1, description="folder, relative to the state directory")
    crop_size: int = Field(300, ge=32, le=4096, description="longest side of the crop in pixels")
    crop_margin: float = Field(0.15, ge=0.0, le=2.0, description="context around the box, as a fraction of its size")
    full_width: int = Field(1280, ge=0, le=8192, description="width of the full frame (boxes drawn); 0: as captured")
    quality: int = Field(85, ge=10, le=100, description="JPEG quality")
    max_count: int = Field(2000, ge=1, le=1_000_000, description="keep at most this many files; the oldest go first")
    max_mb: float = Field(500.0, gt=0, le=1_000_000, description="keep at most this many MiB of files")
    publish: Literal["none", "crop", "full"] = Field("none", description="publish the latest per class, retained, on "
                                                                        "<prefix>/<device>/<camera>/snapshot/<label>")
    queue_size: int = Field(16, ge=1, le=1024, description="encode jobs waiting; beyond it jobs are dropped (counted), "
                                                           "never the inference")
    min_interval_s: float = Field(1.0, ge=0.0, le=3600, description="a track's snapshot is re-encoded at most this "
                                                                   "often as its score improves")


class EventsConfig(Section):
    tracker: TrackerConfig = Field(default_factory=TrackerConfig, description="the multi-object tracker")
    classes: list[str | int] | None = Field(None, description="track only these classes (names or ids); null: all")
    update_interval_s: float = Field(5.0, ge=0.0, le=86400, description="at most one `update` event per track this "
                                     "often (also at once when its zones change); 0: only on zone changes")
    cameras: dict[str, CameraEventsConfig] = Field(default_factory=dict, description="zones and lines per camera name")
    snapshots: SnapshotsConfig = Field(default_factory=SnapshotsConfig, description="best-frame JPEGs of each track")


class PreviewConfig(Section):
    enabled: bool = Field(False, description="serve an annotated MJPEG stream per camera over HTTP")
    host: str = Field("127.0.0.1", min_length=1, description="address to listen on (loopback: only this machine)")
    port: int = Field(8090, ge=0, le=65535, description="port (0: any free port, logged)")
    fps: float = Field(5.0, gt=0, le=60, description="frames per second encoded while someone watches")
    max_width: int = Field(960, ge=64, le=8192, description="frames are scaled down to this width")
    quality: int = Field(75, ge=10, le=100, description="JPEG quality")
    max_clients: int = Field(8, ge=1, le=256, description="concurrent viewers")


class HomeAssistantConfig(Section):
    enabled: bool = Field(False, description="publish Home Assistant MQTT discovery (retained) for per-class counts, "
                          "zone occupancy, line crossings and online state")
    discovery_prefix: str = Field("homeassistant", min_length=1, pattern=r"^[^#+]+$",
                                  description="Home Assistant's discovery prefix")
    classes: list[str | int] | None = Field(None, description="count sensors for these classes; null: every class "
                                                             "the model has (or events.classes)")
    device_name: str | None = Field(None, min_length=1, description="the device's name in Home Assistant; default "
                                                                    "edge-sdk <device_id>")
    birth_topic: str | None = Field(None, min_length=1, pattern=r"^[^#+]+$",
                                    description="Home Assistant's birth message topic: `online` there (not retained) "
                                                "makes the device send its discovery again; default "
                                                "<discovery_prefix>/status, as Home Assistant's own default")
