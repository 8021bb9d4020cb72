"""The systemd notify protocol (sd_notify), implemented directly: one AF_UNIX datagram per message to
`$NOTIFY_SOCKET`. No python-systemd dependency.

`$NOTIFY_SOCKET` is a file system path, or an abstract socket name written with a leading `@` (sent as a
leading NUL byte). Without it (not under systemd, or Type= is not notify) every call is a no-op that
returns False. A failed send is an expected condition: logged once, returned as False, never raised.

Long work at start (a TensorRT engine build when the cache misses, e.g. after a JetPack upgrade): inside
`with notifier.extending("building ..."):` a thread sends EXTEND_TIMEOUT_USEC every `every_s`, each time
asking for `extend_s` more, so TimeoutStartSec= (300 s) does not kill a build that is making progress, for
at most `limit_s` (30 min: an INT8 engine build on an Orin Nano takes minutes, not hours); a load that hangs
then times out as any other start does, and a process that hangs elsewhere was never extended.

The watchdog: systemd passes `WATCHDOG_USEC` (and `WATCHDOG_PID`) when the unit sets WatchdogSec=; we must
send WATCHDOG=1 more often than that, and sd_watchdog_enabled(3) advises every half interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping

log = logging.getLogger(__name__)


def _address(raw: str) -> str | bytes:
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


class Notifier:
    """Sends notify messages to the service manager. Safe to use when not under systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.socket_path = env.get("NOTIFY_SOCKET") or None
        self.watchdog_usec = self._watchdog_usec(env)
        self._sock: socket.socket | None = None
        self._warned = False

    @staticmethod
    def _watchdog_usec(env: Mapping[str, str]) -> int | None:
        raw = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if not raw.isdigit() or int(raw) == 0:
            return None
        if pid and (not pid.isdigit() or int(pid) != os.getpid()):
            return None  # the watchdog is meant for another process (e.g. our parent)
        return int(raw)

    @property
    def enabled(self) -> bool:
        return self.socket_path is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1 (half of WatchdogSec), or None when the watchdog is off."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec else None

    def send(self, **fields: str | int) -> bool:
        """Send `KEY=value` lines, e.g. `send(READY=1, STATUS="running")`. True if the datagram went out."""
        if self.socket_path is None:
            return False
        # One field per line: a newline inside a value (a multi-line error) would end the field early.
        payload = "\n".join(f"{k}={' '.join(str(v).split())}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(payload, _address(self.socket_path))
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.socket_path, exc)
                self._warned = True
            return False

    # -- the messages the daemon sends -------------------------------------------------------------
    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=status, MAINPID=os.getpid())

    def status(self, status: str) -> bool:
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def reloading(self) -> bool:
        # MONOTONIC_USEC is what Type=notify-reload (systemd >= 253) wants with RELOADING=1; older
        # systemd ignores the unknown field.
        return self.send(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000,
                         STATUS="reloading the config")

    def stopping(self, status: str = "draining") -> bool:
        return self.send(STOPPING=1, STATUS=status)

    def extend_timeout(self, seconds: float, status: str) -> bool:
        return self.send(EXTEND_TIMEOUT_USEC=int(seconds * 1e6), STATUS=status)

    @contextlib.contextmanager
    def extending(self, what: str, *, every_s: float = 20.0, extend_s: float = 60.0, limit_s: float = 1800.0,
                  tick: Callable[[], None] | None = None, tick_s: float = 0.5) -> Iterator[None]:
        """While inside, ask systemd for `extend_s` more seconds every `every_s` (STATUS=`what` and the time it
        has taken), for at most `limit_s` in all: work that hangs is then left to TimeoutStartSec= again.
        `tick` (e.g. the watchdog's) runs every `tick_s` meanwhile. A no-op outside systemd."""
        if not self.enabled:
            yield
            return
        done = threading.Event()
        t0 = time.monotonic()

        def keep() -> None:
            next_extend, warned = t0, False
            while True:
                now = time.monotonic()
                if now - t0 >= limit_s:
                    if not warned:
                        log.warning("%s: still not done after %.0f s; no more start-timeout extensions", what, limit_s)
                        warned = True
                    next_extend = float("inf")
                elif now >= next_extend:
                    self.extend_timeout(extend_s, f"{what} ({now - t0:.0f} s)")
                    next_extend = now + every_s
                if tick is not None:
                    tick()
                wait = tick_s if tick is not None else min(every_s, max(0.0, t0 + limit_s - now) + 0.01)
                if done.wait(wait):
                    return

        thread = threading.Thread(target=keep, name="notify-extend", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=5)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
