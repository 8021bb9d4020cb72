"""A fast app for process-level tests of the CLI: a constant 'detector' (one car per frame, 64x64 input) on a
small generated video, and a reader of a child process's stderr that waits for a line without a fixed sleep."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tests.pipeline.conftest import write_video
from tests.support.onnx_models import constant_output_model


def tiny_app(tmp_path: Path, *, frames: int = 60, realtime: bool = False, port: int | None = None,
             extra: str = "") -> Path:
    out = np.zeros((1, 4 + 2, 84), np.float32)  # 84 anchors of a 64x64 input at strides 8, 16, 32
    out[0, :4, :] = [[1], [1], [1], [1]]
    out[0, :, 0] = [32, 32, 16, 8, 0.05, 0.9]
    model = constant_output_model(tmp_path / "const.onnx", out, names={0: "person", 1: "car"})
    video = write_video(tmp_path / "clip.avi", frames)
    mqtt = f"mqtt:\n  host: 127.0.0.1\n  port: {port}\n" if port else "mqtt:\n  enabled: false\n"
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"device: cpu\ndevice_id: t1\nstate_dir: {tmp_path / 'state'}\nmodel:\n  path: {model}\n"
                   f"sources:\n  - name: cam0\n    uri: file://{video}{'?realtime=1' if realtime else ''}\n{mqtt}{extra}")
    return cfg


class StderrLines:
    """Reads a child's stderr on a thread; `wait_for` returns the first line matching, or fails at a deadline.
    The only reader of that stream: wait for the process with `proc.wait`, not `communicate`."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, match: Callable[[str], bool], timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError("the process ended first; stderr:\n" + "".join(self.lines))
            self.lines.append(line)
            if match(line):
                return line
        raise AssertionError(f"no such line within {timeout:g} s; stderr:\n" + "".join(self.lines))

    def rest(self, timeout: float = 60.0) -> str:
        """Everything up to the end of the stream."""
        self._thread.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)
