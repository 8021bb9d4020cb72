"""Health figures a watchdog and the stats topic rely on: stalled flag, is_flowing, reconnects, giving up."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

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


def _wait_status(src: Any, status: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        src.read(timeout=0.2)  # the consumer keeps taking frames: a stall is the source's, not back-pressure
        health = src.snapshot_health()
        if health.status == status:
            return health
    raise AssertionError(f"status {status!r} not reached: {src.snapshot_health()}")


def test_a_named_pipe_whose_writer_stops_says_stalled_and_online_again_when_it_resumes(tmp_path: Path) -> None:
    """A non-live source is never reopened, so it went on saying `online` while the watchdog saw it stall."""
    import os
    import shutil
    import signal
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing (it is in scripts/apt-packages.txt)")
    pipe = tmp_path / "cam.ts"
    os.mkfifo(pipe)
    writer = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
                               "-t", "120", "-c:v", "mpeg2video", "-f", "mpegts", "-y", str(pipe)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        with open_source(f"file://{pipe}", "pipe", stall_timeout_s=1.0) as src:
            assert not src.live
            _wait_status(src, "online")
            writer.send_signal(signal.SIGSTOP)  # the writer stops; the pipe stays open: no error, no end
            stalled = _wait_status(src, "stalled")
            assert stalled.stalled and not src.is_flowing(1.0)
            assert stalled.status_reason is not None and "no frame for more than 1 s" in stalled.status_reason
            writer.send_signal(signal.SIGCONT)
            assert _wait_status(src, "online").state == "streaming"
    finally:
        writer.kill()
        writer.wait(10)


def test_a_file_held_back_by_a_slow_consumer_is_not_stalled(clip: Path) -> None:
    """Back-pressure is not a stall: frames wait in the queue for the consumer, so the source stays online."""
    with open_source(f"file://{clip}", "file", stall_timeout_s=0.5) as src:
        assert src.read(timeout=10.0)[0] is CaptureStatus.OK
        end = time.monotonic() + 1.5  # three stall timeouts without taking a frame
        while time.monotonic() < end:
            health = src.snapshot_health()
            assert health.status == "online" and not health.stalled, health
            assert src.is_flowing(0.5), "frames waiting for the consumer: the camera delivers (the watchdog is fed)"
            time.sleep(0.1)


def test_a_file_at_its_end_delivers_until_its_queued_frames_are_taken(clip: Path) -> None:
    """The end of a file with frames still queued (a slow engine behind it) is not a camera that stopped: the demo
    logged 'no camera delivered a frame within 5 s' while its last frames went through the engine."""
    with open_source(f"file://{clip}", "clip", stall_timeout_s=0.5) as src:
        taken = 0
        deadline = time.monotonic() + 30
        while (health := src.snapshot_health()).state != "eos":  # a slow consumer: 2 frames always left queued
            assert time.monotonic() < deadline, "the capture never reached the end of the clip"
            if health.frames - taken > 2 and src.read(timeout=1.0)[0] is CaptureStatus.OK:
                taken += 1
            time.sleep(0.01)
        assert taken < 25, "frames are still queued at the end"
        end = time.monotonic() + 1.0  # two stall timeouts after the last frame was decoded
        while time.monotonic() < end:
            assert src.is_flowing(0.5)
            time.sleep(0.1)
        while src.read(timeout=1.0)[0] is CaptureStatus.OK:
            pass
        assert not src.is_flowing(0.5), "ended and drained: no longer delivering"
