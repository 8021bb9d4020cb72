"""The source interface: a capture thread around a `Reader` that grabs raw frames.

A `Reader` (one module per kind: file, v4l2, rtsp, csi, gst) knows how to open its device and grab one
BGR frame. `Source` owns the reader and a capture thread, stamps each frame with an id, a monotonic and a
wall-clock time, keeps health figures, and hands frames out through `read(timeout)`:
- live sources keep only the newest frame (older ones are counted as dropped);
- file sources deliver every frame (the capture thread waits for the consumer), unless configured not to.
End of stream, timeout and error come back as `CaptureStatus` values, never as exceptions.

A live source that fails (error, end of stream, or no frame for `stall_timeout_s`) is reopened with capped
exponential backoff (`ReconnectPolicy`, 0.5 s doubling up to 5 s by default); a reader with a cheap probe
(RTSP) is probed while its device is down and reopened the moment it answers (reconnect.py). Each successful
reopen counts in `health.reconnects`. `start(retry=True)` starts a live source whose device cannot be opened
now anyway: it reconnects in the background like one that failed later, so one camera down at boot does not
keep the others from starting. `is_flowing(max_age_s)` is what a watchdog asks; `health.status` is the
camera's published availability (online, offline, reconnecting, stalled: status.py). Every error text kept in the
health figures is redacted (no camera password reaches logs or the stats topic).
"""

from __future__ import annotations

import abc
import collections
import logging
import threading
import time
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

import numpy as np

from edge_sdk.errors import ConfigError, DependencyMissing
from edge_sdk.frame import CaptureStatus, Frame
from edge_sdk.redact import redact
from edge_sdk.sources.reconnect import PROBE_INTERVAL_S, ReconnectPolicy, wait_before_reopen
from edge_sdk.sources.status import status_of
from edge_sdk.sources.uri import SourceUri

log = logging.getLogger(__name__)

FPS_WINDOW_S = 5.0  # fps is measured over the frames of the last few seconds, so a stall shows as 0


class Reader(abc.ABC):
    """Grabs raw frames from one device. Used only from the capture thread.

    `grab` should return within about a second (TIMEOUT when nothing came), so that stop requests and stalls
    are noticed; a reader that fails sets `error` to a one-line reason before returning ERROR.
    """

    live: bool = True  # live readers drop old frames and reconnect; file readers deliver every frame
    error: str | None = None  # why the last grab or open failed, for health.last_error
    timeout_s: float = 5.0  # the longest a single open or grab may block

    @abc.abstractmethod
    def open(self) -> None:
        """Open the device; raise `SourceError` with a clear message if it cannot be opened."""

    @abc.abstractmethod
    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        """Return (status, BGR image or None, stream timestamp in seconds or None)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device. Safe to call twice."""

    def describe(self) -> dict[str, Any]:
        """Facts worth reporting (backend, negotiated size, fps, ...)."""
        return {}

    def probe(self) -> bool | None:
        """While the device is down: whether it answers now, checked cheaply (no stream opened; within about a
        second), with `error` set to why not. None: this reader has no cheap check (the backoff alone decides)."""
        return None


@dataclass
class SourceHealth:
    camera: str
    uri: str
    state: str = "starting"  # starting, streaming, stalled, reconnecting, eos, error, closed
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    fps: float = 0.0
    last_error: str | None = None
    last_frame_age_s: float | None = None
    stalled: bool = False  # open, and no frame for longer than the stall timeout (a file: none waiting either)
    backend: str = ""  # how frames are read: opencv-file, opencv-ffmpeg, gst-gi, gst-launch, ...
    status: str = "reconnecting"  # published availability: online, offline, reconnecting, stalled (status.py)
    status_reason: str | None = None  # why not online (redacted)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Source:
    """A started source: owns its reader and capture thread. Use as a context manager."""

    def __init__(self, reader: Reader, uri: SourceUri, camera: str, *, deliver_all: bool | None = None,
                 queue_size: int = 4, reconnect: ReconnectPolicy | None = None, stall_timeout_s: float = 5.0) -> None:
        self.reader = reader
        self.uri = uri
        self.camera = camera
        self.live = reader.live
        self.deliver_all = (not reader.live) if deliver_all is None else deliver_all
        self.reconnect = reconnect or ReconnectPolicy()
        self.stall_timeout_s = stall_timeout_s
        self._queue: collections.deque[Frame] = collections.deque()
        self._queue_size = 1 if not self.deliver_all else max(1, queue_size)
        self._refill_at = self._queue_size // 2  # deliver_all: refill once the queue is down to this many
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended: CaptureStatus | None = None
        self._next_id = 0
        self._frame_times: collections.deque[float] = collections.deque(maxlen=240)
        self._last_frame_mono: float | None = None
        self._opened_mono: float | None = None
        self.health = SourceHealth(camera=camera, uri=uri.redacted())
        self._thread: threading.Thread | None = None
        self._listeners: list[threading.Event] = []  # set when a frame is queued or the stream ends

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, *, retry: bool = False) -> Source:
        """Open the reader and start the capture thread. An open that fails raises (`SourceError`, ...), unless
        `retry` and the source is live: then the capture thread keeps reopening it in the background (state
        `reconnecting`, the reason in `last_error`). A missing dependency or a bad option always raises."""
        pending: str | None = None
        try:
            self.reader.open()
        except (ConfigError, DependencyMissing):
            raise
        except Exception as exc:
            if not (retry and self.live):
                raise
            pending = _first_line(exc)
            self.health.last_error = pending
            self.health.state = "reconnecting"
            log.warning("camera %s: cannot open it now (%s); retrying in the background", self.camera, pending)
        else:
            self._opened_mono = time.monotonic()
            self.health.state = "streaming"
            self.health.backend = str(self.reader.describe().get("backend", ""))
        self._thread = threading.Thread(target=self._run, args=(pending,), name=f"capture-{self.camera}", daemon=True)
        self._thread.start()
        return self

    @property
    def capture_thread_id(self) -> int | None:
        """The capture thread's kernel thread id (to set its priority); None before `start` and after `close`."""
        thread = self._thread
        return thread.native_id if thread is not None else None

    def fail(self, reason: str) -> None:
        """Mark a source that could not be started as failed for good: `read` returns ERROR, status offline."""
        self.health.last_error = redact(reason)
        self._finish(CaptureStatus.ERROR)

    def close(self) -> None:
        """Stop the capture thread (which releases the reader) and wait for it."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=self.reader.timeout_s + 5.0)
            if thread.is_alive():  # releasing a reader under a running grab could crash OpenCV: leave it
                log.error("camera %s: capture thread did not stop within %.0f s", self.camera, self.reader.timeout_s + 5)
        else:
            self.reader.close()
        if self.health.state not in ("eos", "error"):
            self.health.state = "closed"

    def __enter__(self) -> Source:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- consumer side ---------------------------------------------------------------------
    def read(self, timeout: float = 1.0) -> tuple[CaptureStatus, Frame | None]:
        """Next frame, or a status: TIMEOUT (nothing within `timeout`), EOS, or ERROR (source gave up)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._queue:
                if self._ended is not None:
                    return self._ended, None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return CaptureStatus.TIMEOUT, None
                self._cond.wait(remaining)
            frame = self._queue.popleft()
            if self.deliver_all and len(self._queue) <= self._refill_at:
                self._cond.notify_all()  # the capture thread refills in a burst (see _push)
            return CaptureStatus.OK, frame

    def snapshot_health(self) -> SourceHealth:
        """A copy of the health figures, with fps, frame age and the stalled flag computed now."""
        now = time.monotonic()
        with self._cond:
            h = self.health
            h.last_frame_age_s = round(now - self._last_frame_mono, 3) if self._last_frame_mono is not None else None
            recent = [t for t in self._frame_times if now - t <= FPS_WINDOW_S]
            span = recent[-1] - recent[0] if len(recent) >= 2 else 0.0
            h.fps = round((len(recent) - 1) / span, 2) if span > 0 else 0.0
            since = self._last_frame_mono if self._last_frame_mono is not None else self._opened_mono
            late = since is not None and now - since > self.stall_timeout_s
            if self.live:
                h.stalled = late and h.state in ("streaming", "stalled", "reconnecting")
            else:  # a file or pipe is never reopened; frames waiting in its queue mean the consumer is the slow one
                h.stalled = late and h.state in ("streaming", "stalled") and not self._queue
            if h.state == "streaming" and h.stalled:
                h.state = "stalled"
            elif h.state == "stalled" and not h.stalled:
                h.state = "streaming"
            h.status, h.status_reason = status_of(h.state, h.last_error, self.stall_timeout_s, live=self.live)
            return SourceHealth(**h.as_dict())

    def listen(self, event: threading.Event) -> None:
        """Set `event` whenever a frame is queued or the stream ends (RoundRobin waits on one for all cameras)."""
        with self._cond:
            self._listeners.append(event)
            if self._queue or self._ended is not None:
                event.set()

    @property
    def last_frame_mono(self) -> float | None:
        """Monotonic time of the newest frame (None before the first)."""
        return self._last_frame_mono

    def is_flowing(self, max_age_s: float | None = None) -> bool:
        """Whether a frame arrived within `max_age_s` (default: the stall timeout) and the source is still open.
        A file or pipe with frames waiting in its queue delivers (the consumer is the slow one), also after its end
        of stream while those frames are processed."""
        limit = self.stall_timeout_s if max_age_s is None else max_age_s
        with self._cond:
            if not self.live and self._queue and self.health.state != "closed":
                return True
            last = self._last_frame_mono
            ended = self._ended is not None or self.health.state == "closed"
        return not ended and last is not None and time.monotonic() - last <= limit

    # -- capture thread --------------------------------------------------------------------
    def _push(self, image: np.ndarray, pts: float | None) -> None:
        now_mono, now_wall = time.monotonic(), time.time()
        frame = Frame(self._next_id, self.camera, image, now_mono, now_wall, pts)
        self._next_id += 1
        with self._cond:
            if self.deliver_all and len(self._queue) >= self._queue_size:
                # full: wait until the consumers have taken it down to the low mark, then decode the next frames
                # back to back: one wake-up of this thread per (queue_size - refill_at) frames, not one per frame
                while len(self._queue) > self._refill_at and not self._stop.is_set():
                    self._cond.wait(0.1)
            elif len(self._queue) >= self._queue_size:
                self._queue.popleft()
                self.health.dropped += 1
            self._queue.append(frame)
            self.health.frames += 1
            self._frame_times.append(now_mono)
            self._last_frame_mono = now_mono
            if self.health.state != "streaming":
                log.info("camera %s: streaming again", self.camera)
                self.health.state = "streaming"
            self._cond.notify_all()
            for event in self._listeners:
                event.set()

    def _finish(self, status: CaptureStatus) -> None:
        with self._cond:
            self._ended = status
            self.health.state = "eos" if status is CaptureStatus.EOS else "error"
            self._cond.notify_all()
            for event in self._listeners:
                event.set()

    def _run(self, pending_open: str | None) -> None:
        try:
            if pending_open is not None and not self._reconnect(pending_open, announce=False):
                if not self._stop.is_set():
                    self._finish(CaptureStatus.ERROR)
                return
            self._capture_loop()
        except Exception as exc:  # a reader bug must end the stream visibly, not kill the thread silently
            log.exception("camera %s: capture thread failed", self.camera)
            self.health.last_error = redact(f"{type(exc).__name__}: {exc}")
            self._finish(CaptureStatus.ERROR)
        finally:
            self.reader.close()  # the capture thread owns the reader while it runs

    def _capture_loop(self) -> None:
        progress = time.monotonic()  # last frame, or (re)open
        while not self._stop.is_set():
            status, image, pts = self.reader.grab()
            if status is CaptureStatus.OK and image is not None:
                self._push(image, pts)
                progress = time.monotonic()
                continue
            if status is CaptureStatus.EOS and not self.live:
                self._finish(CaptureStatus.EOS)
                return
            if status is CaptureStatus.TIMEOUT:
                waited = time.monotonic() - progress
                if not self.live or waited <= self.stall_timeout_s:
                    continue
                reason = f"no frame for {waited:.1f} s (stalled)"
            else:
                reason = self.reader.error or f"stream ended ({status.value})"
            if not self._reconnect(reason):
                if not self._stop.is_set():
                    self._finish(CaptureStatus.ERROR)
                return
            progress = time.monotonic()

    def _reconnect(self, reason: str, *, announce: bool = True) -> bool:
        """Reopen a live reader: capped backoff between full reopens, and while a probe-able device does not
        answer, a cheap probe until it does (reconnect.py). False if the source gives up or is stopped."""
        self.health.last_error = redact(reason)
        if not self.live:
            return False
        attempt = 0
        self.health.state = "reconnecting"
        if announce:
            log.warning("camera %s: %s; reconnecting", self.camera, self.health.last_error)
        while not self._stop.is_set():
            attempt += 1
            if self.reconnect.max_attempts is not None and attempt > self.reconnect.max_attempts:
                log.error("camera %s: giving up after %d reconnect attempts", self.camera, attempt - 1)
                return False
            self.reader.close()
            waited = wait_before_reopen(self, self.reconnect.delay(attempt), self._stop,
                                        until_back=self.reconnect.max_attempts is None)
            if not waited.go:
                return False
            if waited.came_back:
                attempt = 1  # the device was away, not refusing us: the backoff starts again
            try:
                self.reader.open()
            except Exception as exc:  # SourceError or a backend error: keep trying
                self.health.last_error = _first_line(exc)
                log.info("camera %s: reconnect attempt %d failed: %s", self.camera, attempt, self.health.last_error)
                continue
            with self._cond:
                self.health.reconnects += 1
                self._opened_mono = time.monotonic()
                self.health.backend = str(self.reader.describe().get("backend", "")) or self.health.backend
            log.info("camera %s: %s after %d attempt(s)", self.camera,
                     "opened" if self.health.frames == 0 and self.health.reconnects == 1 else "reconnected", attempt)
            return True
        return False

    # -- probing, for wait_before_reopen ---------------------------------------------------------
    def probe(self) -> bool | None:
        """The reader's probe; a device that does not answer is logged once per outage, not at every probe."""
        try:
            answers = self.reader.probe()
        except Exception as exc:  # a probe must never end the capture thread
            log.debug("camera %s: probe failed: %s", self.camera, exc)
            return None
        if answers is False and self.reader.error:
            why = redact(self.reader.error)
            if why != self.health.last_error:
                self.health.last_error = why
                log.info("camera %s: %s; probing every %.1f s until it answers", self.camera, why, PROBE_INTERVAL_S)
        return answers


def _first_line(exc: BaseException) -> str:
    """An exception's message, first line, redacted: what health figures and statuses carry."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return redact(text)
