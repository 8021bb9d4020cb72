"""GStreamer pipeline text: the CSI and RTSP heads, and the BGR sink tail each read path needs.

A pipeline is a head that produces raw video (`nvarguscamerasrc ... ! nvvidconv ! video/x-raw,format=BGRx`)
plus a tail that the read path owns: `videoconvert ! video/x-raw,format=BGR ! appsink` for OpenCV and gi
(one buffer, dropping older ones, not synced to the clock), `... ! fdsink` for the gst-launch path.
"""

from __future__ import annotations

APPSINK_NAME = "edge_sdk_appsink"  # OpenCV finds a manual pipeline's sink by "appsink" in its name
FDSINK_NAME = "edge_sdk_fdsink"
_SINKS = ("appsink", "fdsink", "fakesink", "autovideosink", "xvimagesink", "ximagesink", "glimagesink", "filesink")


def quote(value: str) -> str:
    """A property value quoted for gst-launch syntax (URLs with `&`, paths with spaces)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def appsink_tail(every_frame: bool = False) -> str:
    """The BGR appsink: live sources keep only the newest frame; `every_frame` (files) holds up to 4 and blocks the
    pipeline until they are read, so none is lost."""
    keep = "drop=false max-buffers=4" if every_frame else "drop=true max-buffers=1"
    return f"videoconvert ! video/x-raw,format=BGR ! appsink name={APPSINK_NAME} {keep} sync=false emit-signals=false"


def fdsink_tail(fd: int) -> str:
    return f"videoconvert ! video/x-raw,format=BGR ! fdsink name={FDSINK_NAME} fd={fd} sync=false"


def user_head(pipeline: str) -> str:
    """A gst:// pipeline without its final sink, if it ends in one (`... ! appsink` is the documented form)."""
    parts = [p.strip() for p in pipeline.split("!")]
    if len(parts) > 1 and parts[-1].split(" ")[0] in _SINKS:
        parts = parts[:-1]
    return " ! ".join(parts)


def csi_head(sensor_id: int, width: int, height: int, fps: int, flip: int, sensor_mode: int | None = None,
             out_width: int | None = None, out_height: int | None = None) -> str:
    """nvarguscamerasrc at the sensor size and rate, through nvvidconv (flip, optional scale) to BGRx."""
    mode = f" sensor-mode={sensor_mode}" if sensor_mode is not None else ""
    return (f"nvarguscamerasrc sensor-id={sensor_id}{mode} ! "
            f"video/x-raw(memory:NVMM),width={width},height={height},framerate={fps}/1,format=NV12 ! "
            f"nvvidconv flip-method={flip} ! "
            f"video/x-raw,width={out_width or width},height={out_height or height},format=BGRx")


#: Demuxer per file suffix for the hardware-decoded file path (a suffix not listed: OpenCV/FFmpeg decodes it).
FILE_DEMUXERS = {".mp4": "qtdemux", ".mov": "qtdemux", ".m4v": "qtdemux", ".3gp": "qtdemux", ".mkv": "matroskademux",
                 ".webm": "matroskademux", ".ts": "tsdemux", ".m2ts": "tsdemux", ".mts": "tsdemux"}
#: The hardware decoder and converter of a Jetson: NVMM frames out of nvv4l2decoder, to BGRx in system memory.
HW_DECODE = "nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx"


def file_head(path: str, demuxer: str, codec: str, decode: str = HW_DECODE) -> str:
    """A video file demuxed and parsed on the CPU and decoded by `decode` (the Jetson's hardware decoder)."""
    return f"filesrc location={quote(path)} ! {demuxer} ! {codec}parse ! {decode}"


def rtsp_head(url: str, *, transport: str, latency_ms: int, timeout_s: float, hw_decoder: bool, codec: str) -> str:
    """rtspsrc over TCP or UDP with a jitter buffer of `latency_ms`, decoded by nvv4l2decoder or decodebin."""
    tcp_timeout_us = int(timeout_s * 1e6)
    src = (f"rtspsrc location={quote(url)} protocols={transport} latency={latency_ms} drop-on-latency=true "
           f"tcp-timeout={tcp_timeout_us} timeout={tcp_timeout_us}")
    if hw_decoder:
        return f"{src} ! rtp{codec}depay ! {codec}parse ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx"
    return f"{src} ! decodebin"
