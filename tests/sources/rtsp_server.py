"""Starts, stops, freezes and restarts the real RTSP server (`serve_rtsp.py`) as a child process."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("serve_rtsp.py")
_PROBE = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"


@functools.lru_cache(maxsize=1)
def server_python() -> str | None:
    """An interpreter that has PyGObject and gst-rtsp-server: this one, else Debian's python3 with python3-gi."""
    for python in (sys.executable, "/usr/bin/python3"):
        if Path(python).exists() and subprocess.run([python, "-c", _PROBE], capture_output=True, check=False).returncode == 0:
            return python
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self, timeout: float = 20.0) -> RtspServer:
        python = server_python()
        if python is None:
            raise RuntimeError("no Python with gi and GstRtspServer (apt install python3-gi gir1.2-gst-rtsp-server-1.0)")
        deadline = time.monotonic() + timeout
        while True:  # the port may still be held for a moment after a kill
            self.proc = subprocess.Popen([python, str(SCRIPT), str(self.port)], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, start_new_session=True)
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            if line.startswith("ready"):
                return self
            self.proc.wait(timeout=5)
            if time.monotonic() > deadline:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise RuntimeError(f"RTSP server did not start on port {self.port}: {line} {err}")
            time.sleep(0.2)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.proc = None

    def freeze(self) -> None:
        """Stop the server process without closing its sockets: the stream stalls, nothing errors."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        self.kill()
