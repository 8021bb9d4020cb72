"""The hardware video decode budget: do the configured cameras fit the board's decoder (NVDEC)?

NVIDIA publishes each Orin's decoder capacity as streams of 1080p30 H.265 at once (AGX Orin 22, Orin NX 16 GB 18,
Orin Nano 11: `nvdec_1080p30` in device_configs/). A camera's load is its stream's pixels per second in those units:
width x height x fps / (1920 x 1080 x 30), so one 4K30 camera counts 4 and a 1080p15 one 0.5. The cameras that load
the hardware decoder are compressed network streams: every `rtsp://` source (decoded by nvv4l2decoder on a Jetson)
and `gst://` pipelines that name a hardware decoder. CSI cameras go through the ISP, USB (V4L2) cameras and video
files through the CPU: they are not counted.

A stream's size and rate come from the source's `stream_size` / `stream_fps`, else the URI's width/height/fps, else
1920x1080 at 30 fps (said as assumed). H.264 decodes slower than H.265 on these boards: a budget that fits in H.265
units may still be tight for H.264 cameras. `edge-sdk config validate` and `edge-sdk doctor --config` warn when
the total exceeds the capacity; it never stops the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge_sdk.device.checks import Check
from edge_sdk.sources.options import parse_options
from edge_sdk.sources.uri import parse_uri

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.config.source import SourceConfig
    from edge_sdk.device.profiles import DeviceProfile

UNIT = 1920 * 1080 * 30.0  # pixels per second of one 1080p30 stream
HARDWARE_DECODERS = ("nvv4l2decoder", "nvdec", "omxh264dec", "omxh265dec")


@dataclass(frozen=True)
class StreamLoad:
    camera: str
    width: int
    height: int
    fps: float
    assumed: bool  # size or rate not stated: 1920x1080 at 30 fps taken

    @property
    def units(self) -> float:
        """This stream in 1080p30 streams."""
        return self.width * self.height * self.fps / UNIT


def hardware_decoded(src: SourceConfig) -> bool:
    """Whether the board's video decoder decodes this camera (see the module docstring)."""
    uri = parse_uri(src.uri)
    if uri.scheme in ("rtsp", "rtsps"):
        return True
    return uri.scheme == "gst" and any(name in uri.target for name in HARDWARE_DECODERS)


def stream_load(src: SourceConfig) -> StreamLoad:
    """The stream's size and rate: stated in the config, else in the URI, else assumed 1080p30."""
    uri = parse_uri(src.uri)
    options = parse_options(uri) if uri.scheme not in ("rtsp", "rtsps") else {}  # an RTSP query is the camera's
    width, height = src.stream_size or (options.get("width"), options.get("height"))
    fps = src.stream_fps or options.get("fps")
    assumed = not (width and height and fps)
    return StreamLoad(src.name, int(width or 1920), int(height or 1080), float(fps or 30.0), assumed)


def decode_loads(cfg: AppConfig) -> list[StreamLoad]:
    return [stream_load(s) for s in cfg.sources if hardware_decoded(s)]


def check_decode_budget(cfg: AppConfig, profile: DeviceProfile) -> Check:
    """OK when the hardware-decoded cameras fit the profile's decoder, WARN with what to change when not."""
    capacity = profile.nvdec_1080p30
    loads = decode_loads(cfg)
    total = sum(s.units for s in loads)
    data: dict[str, object] = {"capacity_1080p30": capacity, "load_1080p30": round(total, 2),
                               "streams": [{"camera": s.camera, "width": s.width, "height": s.height, "fps": s.fps,
                                            "units": round(s.units, 2), "assumed": s.assumed} for s in loads]}
    if capacity is None:
        return Check("decode budget", "OK", f"n/a (profile {profile.name} has no hardware video decoder)", data=data)
    assumed = [s.camera for s in loads if s.assumed]
    note = f"; assumed 1080p30 for {', '.join(assumed)} (set sources[].stream_size/stream_fps)" if assumed else ""
    detail = (f"{len(loads)} hardware-decoded camera(s) = {total:.1f} x 1080p30 of the {profile.name}'s "
              f"{capacity} (H.265){note}")
    if total > capacity:
        return Check("decode budget", "WARN", detail + ": more than the decoder does; frames will come late or be "
                     "dropped", f"fewer cameras, lower stream resolution or fps (each camera's sub-stream), or a "
                     f"board with more decode capacity; the budget is {capacity} x 1080p30", data)
    return Check("decode budget", "OK", detail, data=data)
