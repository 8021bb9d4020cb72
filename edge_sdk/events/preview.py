"""A live, annotated MJPEG preview over HTTP (`preview:` in the config; off by default, loopback only).

    http://127.0.0.1:8090/             a page with every camera
    http://127.0.0.1:8090/cam0.mjpg    multipart/x-mixed-replace stream of JPEGs (browsers, VLC, ffmpeg)
    http://127.0.0.1:8090/cam0.jpg     the latest frame

Costs nothing while nobody watches: the publish thread hands a frame over (a reference and the boxes)
only while a client asked for that camera within the last seconds, at most `fps` times a second; the
encoder thread scales, draws and encodes it; each client's thread sends the newest JPEG. A slow client
skips frames, it never holds up anything else. Frames the encoder had no time for are counted (`skipped`).
"""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.config.events import PreviewConfig
from edge_sdk.events.draw import Drawable, draw, jpeg, scaled
from edge_sdk.events.geometry import Line, Zone

log = logging.getLogger(__name__)

BOUNDARY = "edgesdkframe"
_DEMAND_S = 3.0  # a request keeps frames coming for this long
_WAIT_S = 5.0


@dataclass
class _Job:
    image: np.ndarray
    items: Sequence[Drawable]
    zones: Sequence[Zone]
    lines: Sequence[Line]
    caption: str


@dataclass
class _Slot:
    jpeg: bytes | None = None
    number: int = 0
    job: _Job | None = None
    next_due: float = 0.0
    demand_until: float = 0.0
    cond: threading.Condition = field(default_factory=threading.Condition)


class PreviewServer:
    """Start with `start()`, stop with `close()`; `address` is (host, port) once started."""

    def __init__(self, cfg: PreviewConfig, cameras: Sequence[str]) -> None:
        self.cfg = cfg
        self.slots = {c: _Slot() for c in cameras}
        self.skipped = 0
        self.frames = 0
        self.clients = 0
        self._clients_lock = threading.Lock()
        self._work = threading.Condition()
        self._stop = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- publish thread ---------------------------------------------------------------------------------
    def wants(self, camera: str, now: float) -> bool:
        slot = self.slots.get(camera)
        return slot is not None and now < slot.demand_until and now >= slot.next_due

    def offer(self, camera: str, image: np.ndarray, items: Sequence[Drawable], zones: Sequence[Zone] = (),
              lines: Sequence[Line] = (), caption: str = "") -> None:
        slot = self.slots[camera]
        slot.next_due = time.monotonic() + 1.0 / self.cfg.fps
        with self._work:
            if slot.job is not None:
                self.skipped += 1
            slot.job = _Job(image, list(items), zones, lines, caption)
            self._work.notify()

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> PreviewServer:
        server = http.server.ThreadingHTTPServer((self.cfg.host, self.cfg.port), self._handler())
        server.daemon_threads = True
        self._server = server
        for name, target in (("preview-http", server.serve_forever), ("preview-encode", self._encode_loop)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        host, port = self.address
        log.info("live preview on http://%s:%d/ (cameras: %s)", host, port, ", ".join(self.slots))
        return self

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the preview server is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._stop.set()
        with self._work:
            self._work.notify_all()
        for slot in self.slots.values():
            with slot.cond:
                slot.cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(5)

    def stats(self) -> dict[str, Any]:
        return {"clients": self.clients, "frames": self.frames, "skipped": self.skipped}

    # -- encoder thread ---------------------------------------------------------------------------------
    def _encode_loop(self) -> None:
        while not self._stop.is_set():
            with self._work:
                ready = [(c, s) for c, s in self.slots.items() if s.job is not None]
                if not ready:
                    self._work.wait(0.5)
                    continue
                jobs = []
                for c, s in ready:
                    jobs.append((c, s, s.job))
                    s.job = None
            for _camera, slot, job in jobs:
                if job is None:
                    continue
                try:
                    image, scale = scaled(job.image, self.cfg.max_width)
                    data = jpeg(draw(image, job.items, scale, job.zones, job.lines, job.caption), self.cfg.quality)
                except Exception:
                    log.exception("preview frame failed")
                    continue
                with slot.cond:
                    slot.jpeg, slot.number = data, slot.number + 1
                    slot.cond.notify_all()
                self.frames += 1

    def _next(self, slot: _Slot, after: int) -> tuple[bytes | None, int]:
        """The newest JPEG newer than number `after` (waits up to a few seconds), asking for frames meanwhile."""
        deadline = time.monotonic() + _WAIT_S
        with slot.cond:
            while slot.number <= after and not self._stop.is_set():
                slot.demand_until = time.monotonic() + _DEMAND_S
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                slot.cond.wait(min(left, 0.5))
            return (slot.jpeg if slot.number > after else None), slot.number

    # -- HTTP -------------------------------------------------------------------------------------------
    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        preview = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0].strip("/")
                if path == "":
                    self._index()
                    return
                camera, _, kind = path.rpartition(".")
                slot = preview.slots.get(camera)
                if slot is None or kind not in ("jpg", "mjpg"):
                    self.send_error(404, f"no such stream; cameras: {', '.join(preview.slots)} (/<camera>.mjpg)")
                    return
                with preview._clients_lock:
                    if preview.clients >= preview.cfg.max_clients:
                        self.send_error(503, "too many viewers (preview.max_clients)")
                        return
                    preview.clients += 1
                try:
                    self._single(slot) if kind == "jpg" else self._stream(slot)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass
                finally:
                    with preview._clients_lock:
                        preview.clients -= 1

            def _index(self) -> None:
                imgs = "".join(f'<h3>{c}</h3><img src="/{c}.mjpg" style="max-width:100%">' for c in preview.slots)
                body = f"<!doctype html><title>edge-sdk preview</title><body>{imgs}</body>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _single(self, slot: _Slot) -> None:
                data, _ = preview._next(slot, slot.number)
                data = data or slot.jpeg
                if data is None:
                    self.send_error(503, "no frame yet")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, slot: _Slot) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                seen = 0
                while not preview._stop.is_set():
                    data, seen = preview._next(slot, seen)
                    if data is None:
                        continue
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}"
                                     "\r\n\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("preview: " + format, *args)

        return Handler
