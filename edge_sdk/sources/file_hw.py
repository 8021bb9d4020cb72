"""Video files on a Jetson's hardware decoder: the choice, and the GStreamer pipeline that does it.

`file://clip.mp4` decodes with OpenCV/FFmpeg on the CPU, except where GStreamer has `nvv4l2decoder` (a Jetson with
nvidia-l4t-gstreamer) and the file is H.264 or H.265 in a container GStreamer demuxes here (MP4/MOV, MKV/WebM,
MPEG-TS): then `filesrc ! demuxer ! parser ! nvv4l2decoder ! nvvidconv` decodes it on the NVDEC engine, and the CPU
only converts BGRx to BGR (`decoder=auto`, on a Jetson: elsewhere auto never loads GStreamer for a file).
`decoder=hw` where that cannot be had is an error, never a quiet CPU decode; `decoder=sw` keeps OpenCV. On machines
without GStreamer's NVIDIA elements (the desktop GPU machine has no GStreamer at all) files decode with FFmpeg's frame
threads (pipeline/build.py: GPU_DECODER_THREADS).
"""

from __future__ import annotations

from pathlib import Path

from edge_sdk.errors import SourceError
from edge_sdk.sources.gst_pipeline import FILE_DEMUXERS, HW_DECODE, file_head
from edge_sdk.sources.gst_support import JETSON_RELEASE, has_element

#: FourCC codes OpenCV's FFmpeg backend reports, by the parser GStreamer needs for them.
_CODECS = {"h264": ("avc1", "avc3", "h264", "x264"), "h265": ("hvc1", "hev1", "hevc", "h265", "x265")}


def on_jetson() -> bool:
    return JETSON_RELEASE.exists()


def file_codec(path: Path) -> str | None:
    """"h264" or "h265" for a file of that codec, as OpenCV's FFmpeg backend reads its header; None otherwise."""
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)) if cap.isOpened() else 0
    finally:
        cap.release()
    text = fourcc.to_bytes(4, "little").decode("latin-1").strip("\0 ").lower()
    return next((codec for codec, names in _CODECS.items() if text in names), None)


def hw_head(path: Path, decoder: str, label: str) -> str | None:
    """The GStreamer head that decodes `path` on nvv4l2decoder, or None where OpenCV/FFmpeg decodes it (`decoder`
    sw, or auto where the hardware path cannot be had). `decoder=hw` that cannot be had raises SourceError."""
    if decoder == "sw" or (decoder == "auto" and not on_jetson()):
        return None  # off a Jetson, auto never loads GStreamer for a file (it would only find software decoders)
    demuxer = FILE_DEMUXERS.get(path.suffix.lower())
    why = None
    codec = None
    if not has_element("nvv4l2decoder"):
        why = "GStreamer has no nvv4l2decoder here"
    elif demuxer is None:
        why = f"no demuxer known for {path.suffix or 'a file without a suffix'} (known: {', '.join(FILE_DEMUXERS)})"
    elif (codec := file_codec(path)) is None:
        why = "the file is not H.264 or H.265 (or OpenCV cannot read its header)"
    if why is not None or demuxer is None or codec is None:
        if decoder == "hw":
            raise SourceError(f"decoder=hw: {why}", where=label,
                              fix="on a Jetson: sudo apt install nvidia-l4t-gstreamer, and an H.264/H.265 .mp4/.mkv/.ts "
                                  "file; elsewhere use decoder=auto or sw")
        return None
    return file_head(str(path), demuxer, codec, HW_DECODE)
