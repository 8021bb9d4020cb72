"""RTSP against a real gst-rtsp-server on loopback that the tests kill, restart and freeze.

Each read path is exercised: OpenCV's FFmpeg backend, and GStreamer (rtspsrc ! decodebin, software decode:
there is no nvv4l2decoder here) through PyGObject's appsink and through a gst-launch-1.0 child process.
"""

from __future__ import annotations

import time

import pytest

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus, Frame
from edge_sdk.sources import ReconnectPolicy, Source, open_source
from edge_sdk.sources.gst_support import backend_available, opencv_info
from tests.sources.rtsp_server import RtspServer, free_port

pytestmark = pytest.mark.gstreamer
PATHS = [
    pytest.param("backend=ffmpeg", id="ffmpeg",
                 marks=pytest.mark.skipif(not opencv_info().get("ffmpeg"), reason="OpenCV without FFmpeg")),
    pytest.param("backend=gst&gst_backend=gi", id="gst-gi",
                 marks=pytest.mark.skipif(not backend_available("gi"), reason="no PyGObject with Gst here")),
    pytest.param("backend=gst&gst_backend=launch", id="gst-launch",
                 marks=pytest.mark.skipif(not backend_available("launch"), reason="no gst-launch-1.0 here")),
]
RETURN_DEADLINE_S = 5.0  # the promise: frames flow again within 5 s of the server's return


def rtsp(server: RtspServer, query: str, stall_s: float = 3.0) -> Source:
    return open_source(f"{server.url}?{query}", "door", stall_timeout_s=stall_s, reconnect=ReconnectPolicy(0.5, 5.0))


def frame_after(src: Source, since: float, within: float) -> Frame | None:
    """The first frame captured after `since` (monotonic), waiting at most `within` seconds from now."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        _status, frame = src.read(timeout=0.2)
        if frame is not None and frame.t_capture_mono > since:
            return frame
    return None


def wait_for(predicate: object, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("query", PATHS)
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_frames_flow(rtsp_server: RtspServer, query: str, transport: str) -> None:
    with rtsp(rtsp_server, f"{query}&transport={transport}") as src:
        frames = [f for f in (frame_after(src, 0.0, 10.0) for _ in range(5)) if f is not None]
        health = src.snapshot_health()
        facts = src.reader.describe()
    assert len(frames) == 5 and frames[-1].image.shape == (240, 320, 3)
    assert frames[-1].image.std() > 10  # a real picture, not a flat frame
    assert health.state == "streaming" and health.reconnects == 0 and not health.stalled
    assert (facts["transport"], facts["width"], facts["height"]) == (transport, 320, 240)


@pytest.mark.parametrize("query", PATHS)
def test_server_restart_frames_return_within_5s_and_the_reconnect_is_counted(rtsp_server: RtspServer, query: str) -> None:
    with rtsp(rtsp_server, query) as src:
        assert frame_after(src, 0.0, 10.0) is not None
        rtsp_server.kill()
        assert wait_for(lambda: src.snapshot_health().state == "reconnecting", 10.0), src.snapshot_health()
        time.sleep(1.0)  # down for a while: reconnect attempts fail and back off
        assert not src.is_flowing(0.9)
        rtsp_server.start()
        back = time.monotonic()
        frame = frame_after(src, back, RETURN_DEADLINE_S)
        health = src.snapshot_health()
    assert frame is not None, f"no frame within {RETURN_DEADLINE_S} s of the server's return: {health}"
    assert health.reconnects == 1 and health.last_error
    assert health.frames > 1 and src.is_flowing(60.0) is False  # closed now: no longer flowing


@pytest.mark.parametrize("query", PATHS)
def test_frozen_server_is_noticed_as_stalled_then_recovered(rtsp_server: RtspServer, query: str) -> None:
    with rtsp(rtsp_server, query, stall_s=2.0) as src:
        assert frame_after(src, 0.0, 10.0) is not None
        rtsp_server.freeze()  # sockets stay open, nothing arrives, no error: only a timeout can notice
        saw_stall = wait_for(lambda: src.snapshot_health().stalled and not src.is_flowing(1.0), 15.0)
        # FFmpeg may hand out a few frames it still holds, one per read timeout, before its read fails
        reopening = wait_for(lambda: src.snapshot_health().state == "reconnecting", 20.0)
        rtsp_server.thaw()
        thawed = time.monotonic()
        frame = frame_after(src, thawed, 15.0)
        health = src.snapshot_health()
    assert saw_stall and reopening and frame is not None, health
    assert health.reconnects >= 1 and not health.stalled


def test_unreachable_server_is_a_clear_error_without_the_password() -> None:
    url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/cam?timeout=2"
    for query in ("&backend=ffmpeg", "&backend=gst"):
        src = open_source(url + query, "door")
        with pytest.raises(SourceError) as info:
            src.start()
        src.close()
        text = str(info.value)
        assert "hunter2" not in text and "admin:***@127.0.0.1" in text and info.value.fix, text
        assert src.read(timeout=0.1)[0] is CaptureStatus.TIMEOUT  # never started: nothing, no crash


def test_hardware_decoder_asked_for_where_there_is_none_is_an_error_not_a_cpu_fallback() -> None:
    from edge_sdk.sources.gst_support import has_element

    if has_element("nvv4l2decoder"):
        pytest.skip("nvv4l2decoder exists here")
    src = open_source("rtsp://127.0.0.1:9/cam?decoder=hw")
    with pytest.raises(SourceError, match="nvv4l2decoder") as info:
        src.start()
    assert "nvidia-l4t-gstreamer" in (info.value.fix or "") and info.value.where == "rtsp://127.0.0.1:9/cam?decoder=hw"
    src.close()
