"""Taking frames from several cameras in turn (`RoundRobin`), with real file sources and a real RTSP source
whose server is not there: the silent camera neither blocks the others nor ends the stream."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_sdk.frame import CaptureStatus
from edge_sdk.sources import ReconnectPolicy, Source, open_source
from edge_sdk.sources.round_robin import RoundRobin
from edge_sdk.sources.rtsp import rtsp_answers
from tests.sources.rtsp_server import RtspServer, free_port


def _folder(path: Path, n: int, value: int) -> Path:
    path.mkdir()
    for i in range(n):
        cv2.imwrite(str(path / f"f{i:03d}.png"), np.full((24, 32, 3), value, np.uint8))
    return path


def test_frames_are_taken_in_turn_and_ended_sources_leave(tmp_path: Path) -> None:
    a = open_source(f"file://{_folder(tmp_path / 'a', 3, 10)}", "a")
    b = open_source(f"file://{_folder(tmp_path / 'b', 5, 20)}", "b")
    down = open_source(f"rtsp://127.0.0.1:{free_port()}/cam?timeout=1", "down", reconnect=ReconnectPolicy(0.1, 0.5))
    ended: list[tuple[str, CaptureStatus]] = []
    with a, b:
        down.start(retry=True)  # never delivers: reconnecting in the background
        try:
            frames = RoundRobin([a, down, b], on_end=lambda src, status: ended.append((src.camera, status)))
            got = []
            while (frame := frames.next(3.0)) is not None:  # None: only the silent camera is left
                got.append(frame.camera)
            health = down.snapshot_health()
        finally:
            down.close()
    assert got == ["a", "b", "a", "b", "a", "b", "b", "b"]
    assert ended == [("a", CaptureStatus.EOS), ("b", CaptureStatus.EOS)] and [s.camera for s in frames.active] == ["down"]
    assert health.status == "reconnecting" and "no answer from 127.0.0.1" in (health.status_reason or "")


def test_rtsp_probe_tells_a_listening_server_from_none(rtsp_server: RtspServer) -> None:
    assert rtsp_answers(f"rtsp://user:pw@127.0.0.1:{rtsp_server.port}/cam") == (True, None)
    answers, why = rtsp_answers(f"rtsp://127.0.0.1:{free_port()}/cam")
    assert not answers and why is not None and "Connection refused" in why


def test_a_camera_down_at_start_comes_up_when_its_server_does(tmp_path: Path) -> None:
    server = RtspServer()
    src: Source = open_source(f"{server.url}?backend=gst&timeout=2", "late", reconnect=ReconnectPolicy(0.5, 5.0))
    src.start(retry=True)
    try:
        assert src.snapshot_health().status == "reconnecting"
        server.start()
        status, frame = src.read(timeout=20.0)
        while status is CaptureStatus.TIMEOUT:
            status, frame = src.read(timeout=20.0)
        health = src.snapshot_health()
    finally:
        src.close()
        server.stop()
    assert status is CaptureStatus.OK and frame is not None and health.status == "online", health
