"""A real Mosquitto broker on a free loopback port, started and stopped by tests.

`MosquittoBroker` can be killed (SIGKILL) and restarted on the same port with the same persistence
file, to test reconnects and persistent sessions.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class MosquittoBroker:
    def __init__(self, workdir: Path, port: int | None = None, extra_conf: str = "", conf_text: str | None = None) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(self.binary):
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_conf = extra_conf
        self.conf_text = conf_text  # a whole config of its own (its listener must be on `port`)
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"

    def write_conf(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.conf_text is not None:
            self.conf.write_text(("user root\n" if os.geteuid() == 0 else "") + self.conf_text)
            return
        lines = [
            # As root, mosquitto drops to user 'mosquitto', which cannot write persistence into pytest's
            # 0700 tmp dirs: persistence (sessions, queued messages) would silently be off. Stay root.
            *(["user root"] if os.geteuid() == 0 else []),
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "max_queued_messages 100000",
            "max_inflight_messages 100",
            "log_type error",
            "log_type warning",
            f"log_dest file {self.log}",
        ]
        if self.extra_conf:
            lines = [ln for ln in lines if not (ln.startswith("allow_anonymous") and "allow_anonymous" in self.extra_conf)]
            lines.append(self.extra_conf)
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        self.write_conf()
        if self.conf_text is not None:  # such a config logs to stderr (as under systemd): keep it in the log file
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=log)
        else:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE)
        if not wait_port(self.port, timeout):
            err = self.proc.stderr.read().decode() if self.proc.stderr and self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: {err}")
        return self

    def wait_saved(self, timeout: float = 30.0, *, now: bool = False) -> bool:
        """Wait until the broker has saved its state to disk (autosave, every 1-2 s here) after this call: what
        it held when called (a persistent session, queued messages) then survives `kill`. `now=True` (`save`)
        makes it save at once (SIGUSR1). Mosquitto writes a new file and renames it over the old one: a new
        inode is the sign (an mtime could read older than the clock did at the call, file times being coarse)."""
        db = self.workdir / "mosquitto.db"
        before = db.stat().st_ino if db.exists() else None
        if now:
            assert self.proc is not None and self.proc.poll() is None, "the broker is not running"
            self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if db.stat().st_ino != before:
                    return True
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        return False

    def save(self, timeout: float = 30.0) -> bool:
        """Make the broker write its state now and wait until it is on disk. With
        `extra_conf="autosave_interval 0"` that is the only save before a `kill`: what a SIGKILL loses is exact."""
        return self.wait_saved(timeout, now=True)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final persistence save."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
