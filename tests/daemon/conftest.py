from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.conftest import const_model  # noqa: F401  (a fixture the tests here use)

ROOT = Path(__file__).resolve().parents[2]


class StallableCamera:
    """A 'camera' that can be unplugged without closing: ffmpeg writes a paced MJPEG stream into a named pipe
    that the daemon reads as `file://<fifo>`; SIGSTOP on ffmpeg stalls the stream (the reader blocks, no
    frames arrive), SIGCONT resumes it."""

    def __init__(self, fifo: Path, fps: int = 15, seconds: int = 120) -> None:
        self.fifo = fifo
        os.mkfifo(fifo)
        self.proc = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi",
             "-i", f"testsrc=size=160x120:rate={fps}", "-t", str(seconds), "-c:v", "mjpeg", "-f", "mpjpeg",
             "-y", str(fifo)])

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture()
def camera(tmp_path: Path) -> Iterator[StallableCamera]:
    cam = StallableCamera(tmp_path / "camera.mjpeg")
    try:
        yield cam
    finally:
        cam.close()


def start_daemon(config: Path, env_extra: dict[str, str], *extra_args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    env.pop("INVOCATION_ID", None)
    return subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(config),
                             *extra_args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop_daemon(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err
