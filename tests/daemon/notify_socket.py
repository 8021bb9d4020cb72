"""A real AF_UNIX datagram socket standing where systemd's notify socket would be: collects every message
the daemon sends, with the time it arrived."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType


class NotifySocket:
    def __init__(self, path: Path | None = None, abstract_name: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract_name is not None:
            self.sock.bind(b"\0" + abstract_name.encode())
            self.env_value = "@" + abstract_name
        else:
            assert path is not None
            self.sock.bind(str(path))
            self.env_value = str(path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append((time.monotonic(), fields))

    def with_key(self, key: str, since: float = 0.0) -> list[dict[str, str]]:
        with self._lock:
            return [m for t, m in self.messages if key in m and t >= since]

    def wait_for(self, key: str, timeout: float, since: float = 0.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.with_key(key, since)
            if found:
                return found[0]
            time.sleep(0.05)
        with self._lock:
            seen = [m for _, m in self.messages]
        raise AssertionError(f"no {key} message within {timeout} s; got {seen[-10:]}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
