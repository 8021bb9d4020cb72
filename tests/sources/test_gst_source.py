"""GStreamer sources through real pipelines (videotestsrc), by each read path this machine has.

The OpenCV path needs an OpenCV built with GStreamer (JetPack's); pip's wheels have none, so here it is
skipped, and asking for it must be a clear DependencyMissing. CSI needs nvarguscamerasrc (Jetson only).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from edge_sdk.errors import DependencyMissing, SourceError
from edge_sdk.frame import CaptureStatus
from edge_sdk.sources import Source, open_source
from edge_sdk.sources.gst_pipeline import csi_head
from edge_sdk.sources.gst_support import backend_available, has_element

pytestmark = pytest.mark.gstreamer
BACKENDS = [pytest.param(name, marks=pytest.mark.skipif(not backend_available(name), reason=f"no {name} GStreamer path here"))
            for name in ("opencv", "gi", "launch")]


def gst(pipeline: str, backend: str, **kwargs: object) -> Source:
    return open_source(f"gst://{pipeline}", "gst", defaults={"backend": backend}, **kwargs)  # type: ignore[arg-type]


def first_frame(src: Source) -> np.ndarray:
    status, frame = src.read(timeout=10.0)
    assert status is CaptureStatus.OK and frame is not None
    return frame.image


@pytest.mark.parametrize("backend", BACKENDS)
def test_pixels_are_exact_at_a_width_with_row_padding(backend: str) -> None:
    # 321 * 3 bytes is not a multiple of 4: GStreamer pads each row; the padding must not shear the image
    pipeline = ("videotestsrc is-live=true pattern=solid-color foreground-color=0xff305070 ! "
                "video/x-raw,width=321,height=241,framerate=30/1 ! appsink")
    with gst(pipeline, backend) as src:
        image = first_frame(src)
        assert src.snapshot_health().backend == f"gst-{backend}"
    assert image.shape == (241, 321, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - [0x70, 0x50, 0x30]).max() <= 2


def test_gi_and_launch_paths_give_the_same_frame() -> None:
    if not (backend_available("gi") and backend_available("launch")):
        pytest.skip("needs both the gi and the gst-launch paths")
    pipeline = "videotestsrc pattern=smpte num-buffers=1 ! video/x-raw,width=333,height=100"
    images = []
    for backend in ("gi", "launch"):
        with gst(pipeline, backend) as src:
            images.append(first_frame(src))
    assert images[0].shape == (100, 333, 3) and np.array_equal(images[0], images[1])
    assert len(np.unique(images[0].reshape(-1, 3), axis=0)) > 5  # really the colour bars, not a flat frame


@pytest.mark.parametrize("backend", BACKENDS)
def test_live_stream_flows_and_reopens_after_its_end(backend: str) -> None:
    pipeline = "videotestsrc is-live=true num-buffers=10 ! video/x-raw,width=64,height=48,framerate=30/1"
    with gst(pipeline, backend, reconnect=None) as src:
        got = 0
        deadline = time.monotonic() + 20
        while src.snapshot_health().reconnects < 1 or got <= 12:
            assert time.monotonic() < deadline, f"no reopen: {src.snapshot_health()}"
            got += src.read(timeout=1.0)[0] is CaptureStatus.OK
        assert src.is_flowing(2.0)
        health = src.snapshot_health()
    assert health.reconnects >= 1 and health.frames > 10 and "end of stream" in (health.last_error or "")


@pytest.mark.parametrize("backend", BACKENDS)
def test_broken_pipeline_is_a_clear_error(backend: str) -> None:
    src = gst("videotestsrc ! nosuchelement ! appsink", backend)
    with pytest.raises(SourceError) as info:
        src.start()
    assert "nosuchelement" in str(info.value) and "gst-launch-1.0 -v" in (info.value.fix or "")
    src.close()


@pytest.mark.parametrize("backend", ["opencv", "gi", "launch"])
def test_forcing_a_missing_path_is_an_error_not_a_fallback(backend: str) -> None:
    if backend_available(backend):
        pytest.skip(f"the {backend} path exists here")
    src = gst("videotestsrc ! appsink", backend)
    with pytest.raises(DependencyMissing) as info:
        src.start()
    assert "on a Jetson" in (info.value.fix or "")


def test_csi_pipeline_text() -> None:
    head = csi_head(1, 1920, 1080, 30, 2, None, 960, 540)
    assert head.startswith("nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM),width=1920,height=1080,"
                           "framerate=30/1,format=NV12 ! nvvidconv flip-method=2 ! ")
    assert head.endswith("video/x-raw,width=960,height=540,format=BGRx")
    assert "sensor-mode=3" in csi_head(0, 1280, 720, 60, 0, 3)


@pytest.mark.skipif(has_element("nvarguscamerasrc"), reason="a Jetson with nvarguscamerasrc: CSI can open here")
def test_csi_without_argus_says_what_is_missing() -> None:
    src = open_source("csi://0?width=1280&height=720")
    with pytest.raises(SourceError) as info:
        src.start()
    assert "nvarguscamerasrc" in info.value.message and "nvidia-l4t-gstreamer" in (info.value.fix or "")
    assert info.value.where == "csi://0?width=1280&height=720"
    src.close()
