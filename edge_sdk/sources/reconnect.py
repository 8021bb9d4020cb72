"""How a live source comes back: capped exponential backoff, and a cheap probe while the device is down.

A full reopen can be expensive (OpenCV-FFmpeg probes the RTSP stream and waits for a key frame: ~2.5 s), and
with plain backoff a camera that returns just after an attempt waits the whole next delay (up to
`reconnect_max_s`). Readers that can tell cheaply whether their device answers (`Reader.probe`: RTSP sends
one OPTIONS request) are probed every `PROBE_INTERVAL_S` while down; the full reopen follows the moment the
probe answers. The backoff then only spaces full reopens that fail although the device answers (wrong path,
refused credentials), so a misconfigured camera is not hammered.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

PROBE_INTERVAL_S = 0.5  # a probe is one TCP connect and a few bytes: cheap enough to repeat this often


@dataclass(frozen=True)
class ReconnectPolicy:
    """Capped exponential backoff for live sources; `None` max_attempts retries forever."""

    initial_s: float = 0.5
    max_s: float = 5.0
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.initial_s * (2 ** min(max(0, attempt - 1), 32))))


class Probeable(Protocol):
    def probe(self) -> bool | None: ...


@dataclass(frozen=True)
class WaitOutcome:
    go: bool  # False: stopped while waiting
    came_back: bool  # the probe saw the device down, then answering: reopen at once, restart the backoff


def wait_before_reopen(reader: Probeable, delay_s: float, stop: threading.Event, *,
                       until_back: bool = True) -> WaitOutcome:
    """Wait until a full reopen is worth trying: `delay_s` (the backoff) for a reader without a probe, or one
    whose device answers; for one whose device does not answer, until it answers again (however long; with
    `until_back=False` no longer than `delay_s`: a source with a limited number of attempts spends them).
    `stop` ends the wait (go=False)."""
    deadline = time.monotonic() + delay_s
    seen_down = False
    while True:
        if seen_down and not until_back and time.monotonic() >= deadline:
            return WaitOutcome(True, False)
        wait = PROBE_INTERVAL_S if seen_down else min(PROBE_INTERVAL_S, max(0.0, deadline - time.monotonic()))
        if stop.wait(wait):
            return WaitOutcome(False, False)
        answers = reader.probe()
        if answers is None:  # no cheap probe: the backoff alone
            if stop.wait(max(0.0, deadline - time.monotonic())):
                return WaitOutcome(False, False)
            return WaitOutcome(True, False)
        if not answers:
            seen_down = True
            continue
        if seen_down:
            return WaitOutcome(True, True)
        if time.monotonic() >= deadline:
            return WaitOutcome(True, False)
