"""`sources:` — the cameras, each by URI."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from edge_sdk.config.base import Section
from edge_sdk.errors import ConfigError
from edge_sdk.sources.options import parse_options
from edge_sdk.sources.uri import parse_uri


class SourceConfig(Section):
    name: str = Field("cam0", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="camera name used in topics")
    uri: str = Field(..., description="file://PATH, v4l2:///dev/videoN, rtsp://HOST/PATH, csi://N or gst://PIPELINE, "
                                      "with options as a query, e.g. rtsp://cam/live?transport=udp&latency=100")
    deliver_all: bool | None = Field(None,
                                       description="deliver every frame (files) or only the newest (live sources)")
    queue_size: int = Field(4, ge=1, le=256, description="frames buffered when delivering all")
    reconnect_initial_s: float = Field(0.5, gt=0, le=60, description="first reconnect delay of a live source")
    reconnect_max_s: float = Field(5.0, gt=0, le=600, description="reconnect delay cap of a live source")
    stall_timeout_s: float = Field(5.0, ge=0.1, le=600,
                                   description="a live source with no frame this long is reported stalled and reopened")
    stream_size: tuple[int, int] | None = Field(None, description="[width, height] the camera's video stream has, for "
                                                                  "the hardware decode budget (config validate, doctor); "
                                                                  "default: the URI's width/height, else 1920x1080")
    stream_fps: float | None = Field(None, gt=0, le=1000, description="frames per second the camera's video stream "
                                                                      "has, for the decode budget; default: the URI's "
                                                                      "fps, else 30")

    @field_validator("uri")
    @classmethod
    def _valid_uri(cls, value: str) -> str:
        try:
            parse_options(parse_uri(value))
        except ConfigError as exc:
            raise ValueError(exc.message + (f" ({exc.fix})" if exc.fix else "")) from None
        return value

    @model_validator(mode="after")
    def _backoff_order(self) -> SourceConfig:
        if self.reconnect_initial_s > self.reconnect_max_s:
            raise ValueError("reconnect_initial_s must not exceed reconnect_max_s")
        return self
