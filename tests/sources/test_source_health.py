"""Health figures a watchdog and the stats topic rely on: stalled flag, is_flowing, reconnects, giving up."""

from __future__ import annotations

import time

import pytest

from edge_sdk.frame import CaptureStatus
from edge_sdk.sources import ReconnectPolicy, open_source
from edge_sdk.sources.gst_support import backend_available
from tests.sources.rtsp_server import RtspServer


def test_backoff_doubles_from_half_a_second_up_to_the_cap() -> None:
    policy = ReconnectPolicy()
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


@pytest.mark.gstreamer
@pytest.mark.parametrize("backend", ["gi", "launch"])
def test_a_pipeline_that_goes_quiet_is_flagged_stalled_and_reopened(backend: str) -> None:
    if not backend_available(backend):
        pytest.skip(f"no {backend} GStreamer path here")
    # a live source at one frame per 4 s, no error and no end of stream: only the stall timeout notices
    pipeline = "gst://videotestsrc is-live=true ! video/x-raw,width=32,height=24,framerate=1/4"
    with open_source(pipeline, "slow", stall_timeout_s=1.0, defaults={"backend": backend}) as src:
        assert src.read(timeout=10.0)[0] is CaptureStatus.OK
        assert src.is_flowing()
        deadline = time.monotonic() + 10
        flagged, states = False, set()
        while time.monotonic() < deadline and not (flagged and src.snapshot_health().reconnects):
            health = src.snapshot_health()
            states.add(health.state)
            if health.stalled:
                flagged = True
                assert not src.is_flowing()
            time.sleep(0.05)
        health = src.snapshot_health()
    assert flagged and "reconnecting" in states, states
    assert health.reconnects >= 1 and "stalled" in (health.last_error or "")


@pytest.mark.gstreamer
def test_a_source_that_cannot_come_back_gives_up_with_error(rtsp_server: RtspServer) -> None:
    src = open_source(f"{rtsp_server.url}?backend=gst&timeout=2", "gone", reconnect=ReconnectPolicy(0.1, 0.2, max_attempts=2))
    with src:
        assert src.read(timeout=10.0)[0] is CaptureStatus.OK
        rtsp_server.kill()
        deadline = time.monotonic() + 20
        status = CaptureStatus.OK
        while status is not CaptureStatus.ERROR and time.monotonic() < deadline:
            status = src.read(timeout=0.5)[0]
        health = src.snapshot_health()
    assert status is CaptureStatus.ERROR and health.state == "error" and health.reconnects == 0
    assert health.last_error and not src.is_flowing(60.0)
