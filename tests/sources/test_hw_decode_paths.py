"""The Jetson hardware decoder paths (nvv4l2decoder + nvvidconv) for files and RTSP: when each is chosen, the exact
pipeline text, and the file path run end to end through this machine's real GStreamer with the two NVIDIA elements
replaced by software ones (avdec_h264 ! videoconvert): demuxing, parsing, every frame delivered in order, the end of
the file, looping. There is no nvv4l2decoder here: `has_element` and the Jetson check are stood in for the choice;
nothing here proves the NVIDIA elements themselves work (that is `edge-sdk selftest` on a Jetson)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus
from edge_sdk.sources import file_hw, open_source, rtsp
from edge_sdk.sources.gst_pipeline import HW_DECODE, file_head, rtsp_head
from edge_sdk.sources.gst_support import backend_available, has_element

SAMPLE = Path(__file__).resolve().parents[2] / "samples/demo.mp4"
SOFTWARE_DECODE = "avdec_h264 ! videoconvert ! video/x-raw,format=BGRx"  # stands in for HW_DECODE here


def jetson(monkeypatch: pytest.MonkeyPatch, *, nvdec: bool = True) -> None:
    """This machine as a Jetson with (or without) nvv4l2decoder: the choice only, no NVIDIA element."""
    monkeypatch.setattr(file_hw, "on_jetson", lambda: True)
    monkeypatch.setattr(file_hw, "has_element", lambda name: nvdec and name == "nvv4l2decoder")
    monkeypatch.setattr(rtsp, "has_element", lambda name: nvdec and name == "nvv4l2decoder")


def test_the_file_pipeline_text_on_a_jetson(monkeypatch: pytest.MonkeyPatch) -> None:
    jetson(monkeypatch)
    head = file_hw.hw_head(SAMPLE, "auto", "cam")
    assert head == (f'filesrc location="{SAMPLE}" ! qtdemux ! h264parse ! nvv4l2decoder ! nvvidconv ! '
                    "video/x-raw,format=BGRx")
    assert file_head("/v/a b.mkv", "matroskademux", "h265") == \
        'filesrc location="/v/a b.mkv" ! matroskademux ! h265parse ! nvv4l2decoder ! nvvidconv ! video/x-raw,format=BGRx'
    assert file_hw.hw_head(SAMPLE, "sw", "cam") is None  # sw keeps OpenCV/FFmpeg


def test_where_the_hardware_path_cannot_be_had_auto_decodes_on_the_cpu_and_hw_is_an_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jetson(monkeypatch, nvdec=False)
    assert file_hw.hw_head(SAMPLE, "auto", "cam") is None
    with pytest.raises(SourceError, match="nvv4l2decoder") as info:
        file_hw.hw_head(SAMPLE, "hw", "cam")
    assert "nvidia-l4t-gstreamer" in (info.value.fix or "")
    jetson(monkeypatch)
    odd = tmp_path / "clip.avi"
    odd.write_bytes(SAMPLE.read_bytes())
    assert file_hw.hw_head(odd, "auto", "cam") is None
    with pytest.raises(SourceError, match=r"no demuxer known for \.avi"):
        file_hw.hw_head(odd, "hw", "cam")
    monkeypatch.setattr(file_hw, "on_jetson", lambda: False)
    assert file_hw.hw_head(SAMPLE, "auto", "cam") is None  # off a Jetson auto never asks GStreamer


def test_rtsp_on_a_jetson_decodes_on_nvv4l2decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    jetson(monkeypatch)
    opts = {"backend": "auto", "decoder": "auto"}
    assert rtsp.plan(opts, "cam") == ("gst", True)
    head = rtsp_head("rtsp://10.0.0.7/s", transport="tcp", latency_ms=200, timeout_s=5, hw_decoder=True, codec="h265")
    assert head.endswith(f"! rtph265depay ! h265parse ! {HW_DECODE}") and head.startswith('rtspsrc location="rtsp://')
    src = open_source("rtsp://10.0.0.7/s?codec=h265", "door")
    inner = src.reader._make_inner()  # type: ignore[attr-defined]
    assert f"rtph265depay ! h265parse ! {HW_DECODE}" in inner.head


@pytest.mark.skipif(not has_element("avdec_h264") or not has_element("qtdemux"), reason="no gst-libav/qtdemux here")
@pytest.mark.parametrize("backend", ["gi", "launch"])
def test_a_file_through_the_hardware_pipeline_shape_delivers_every_frame_then_ends(
        monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    if not backend_available(backend):
        pytest.skip(f"no GStreamer {backend} path here")
    jetson(monkeypatch)
    monkeypatch.setattr(file_hw, "HW_DECODE", SOFTWARE_DECODE)
    monkeypatch.setattr("edge_sdk.sources.gst.choose_backend", lambda _b: backend)
    cap = cv2.VideoCapture(str(SAMPLE))
    reference = []
    while (got := cap.read())[0]:
        reference.append(got[1])
    with open_source(f"file://{SAMPLE}", "cam0") as src:  # a slow consumer: the pipeline waits, nothing drops
        assert src.snapshot_health().backend.startswith("gst-nvv4l2decoder")
        frames = []
        while (read := src.read(timeout=10.0))[0] is CaptureStatus.OK:
            assert read[1] is not None
            frames.append(read[1].image)
        assert read[0] is CaptureStatus.EOS
    assert len(frames) == len(reference) == 300
    diffs = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(frames, reference)]
    assert max(diffs) < 3.0  # the same H.264 decode; videoconvert's and swscale's BGR differ by rounding only


@pytest.mark.skipif(not has_element("avdec_h264") or not backend_available("gi"), reason="no gst-libav or gi here")
def test_a_looping_file_on_the_hardware_pipeline_shape_starts_again(monkeypatch: pytest.MonkeyPatch) -> None:
    jetson(monkeypatch)
    monkeypatch.setattr(file_hw, "HW_DECODE", SOFTWARE_DECODE)
    with open_source(f"file://{SAMPLE}?loop=1", "cam0") as src:
        ids = [frame.frame_id for _ in range(330) if (frame := src.read(timeout=10.0)[1]) is not None]
    assert ids == list(range(330))
