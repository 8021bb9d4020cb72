"""OpenCV's, FFmpeg's and systemctl's own messages stay out of edge-sdk's output: a failed camera is reported once,
by edge-sdk (what, where, fix), not also as `[tcp @ 0x...]` / `[ WARN:0@...] global cap.cpp` lines, and a
provision step asking systemctl about a unit prints nothing of systemctl's. Real processes, real OpenCV, the
real systemctl (skipped where there is none)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.broker import free_port

ROOT = Path(__file__).resolve().parents[2]

OPEN_CAMERAS = """
import sys
{setup}
import cv2
from edge_sdk.errors import SourceError
from edge_sdk.sources.registry import open_source

try:
    open_source("rtsp://127.0.0.1:{port}/stream", "cam0", stall_timeout_s=2).start()
except SourceError as exc:
    print("edge-sdk said:", exc.message)
cv2.VideoCapture(97, cv2.CAP_V4L2)  # OpenCV warns about a camera index it cannot open
"""


def _run(setup: str) -> subprocess.CompletedProcess[str]:
    from edge_sdk.log import NATIVE_QUIET

    code = textwrap.dedent(OPEN_CAMERAS.format(setup=setup, port=free_port()))
    env = {k: v for k, v in os.environ.items() if k not in NATIVE_QUIET}  # as a user's shell has it
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)


def test_opencv_and_ffmpeg_lines_are_silenced_and_edge_sdk_reports_the_failure() -> None:
    raw = _run("")  # without edge-sdk's logging set up: what leaked before
    assert "[tcp @" in raw.stderr and "[ WARN:" in raw.stderr, "the leak this test guards against is not reproduced"
    done = _run("from edge_sdk.log import setup_logging; setup_logging()")
    assert "cannot open the RTSP stream" in done.stdout
    assert "[tcp @" not in done.stderr and "[ WARN:" not in done.stderr, done.stderr


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="no systemctl here")
def test_systemctl_queries_print_nothing_of_systemctls(capfd: pytest.CaptureFixture[str]) -> None:
    from edge_sdk.provision.actions import systemctl_is

    assert systemctl_is("is-enabled", "edge-sdk-no-such-unit.service") is False
    assert systemctl_is("is-active", "edge-sdk-no-such-unit.service") is False
    out, err = capfd.readouterr()
    assert out == "" and err == ""
