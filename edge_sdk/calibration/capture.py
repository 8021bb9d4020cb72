"""`edge-sdk calibrate capture`: keep a diverse set of frames from the configured camera.

A frame is kept when at least `interval_s` passed since the last kept one (stream time for files, capture
time for cameras) and it is not a near-duplicate of a recently kept frame (mean absolute difference of
32x32 grey thumbnails below `min_difference`). Each frame is written atomically and the manifest is
rewritten after it, so Ctrl-C (or a power cut) keeps everything captured so far and the next run resumes
towards the same total.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import signal
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_sdk.atomic import write_bytes_atomic
from edge_sdk.calibration.dataset import frames_folder
from edge_sdk.calibration.images import encode_image, read_image, sha256_bytes, thumbnail
from edge_sdk.calibration.manifest import CaptureManifest, FrameEntry, load_manifest, utc_now
from edge_sdk.calibration.progress import Progress
from edge_sdk.errors import ConfigError, SourceError
from edge_sdk.frame import CaptureStatus, Frame

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.config.calibration import CaptureConfig

log = logging.getLogger(__name__)


@dataclass
class CaptureSummary:
    folder: Path
    target: int
    existing: int  # frames already there when the run started
    kept: int  # frames kept by this run
    seen: int  # frames read from the source
    skipped_interval: int
    skipped_duplicate: int
    stopped_by: str  # "target", "eos", "interrupted", "timeout"

    @property
    def total(self) -> int:
        return self.existing + self.kept


class NearDuplicateFilter:
    """Remembers the thumbnails of the last `keep` kept frames."""

    def __init__(self, min_difference: float, keep: int) -> None:
        self.min_difference = min_difference
        self._recent: deque[np.ndarray] = deque(maxlen=keep)

    def difference(self, thumb: np.ndarray) -> float:
        """Smallest mean absolute difference to a remembered thumbnail (1.0 when none is remembered)."""
        if not self._recent:
            return 1.0
        return float(min(np.mean(np.abs(thumb - r)) for r in self._recent))

    def is_duplicate(self, thumb: np.ndarray) -> bool:
        return self.difference(thumb) < self.min_difference

    def remember(self, thumb: np.ndarray) -> None:
        self._recent.append(thumb)


def _frame_time(frame: Frame) -> float:
    return frame.source_pts if frame.source_pts is not None else frame.t_capture_mono


def _file_name(camera: str, seq: int, fmt: str) -> str:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{camera}-{stamp}-{seq:06d}.{fmt}"


def _clean_temp_files(folder: Path) -> None:
    for p in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()


def _seed_filter(flt: NearDuplicateFilter, folder: Path, manifest: CaptureManifest, keep: int) -> None:
    for entry in manifest.frames[-keep:]:
        img = read_image(folder / entry.file)
        if img is not None:
            flt.remember(thumbnail(img))


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold SIGINT back while inside (main thread only) and deliver it as KeyboardInterrupt on leaving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


class Capturer:
    """Keeps frames from one source into a folder, with a manifest. Call `run` once."""

    def __init__(self, folder: Path, profile: str, settings: CaptureConfig, *, camera: str, source_label: str) -> None:
        self.folder, self.settings, self.camera, self.source_label = folder, settings, camera, source_label
        folder.mkdir(parents=True, exist_ok=True)
        _clean_temp_files(folder)
        self.manifest = load_manifest(folder, profile)
        self.filter = NearDuplicateFilter(settings.min_difference, settings.compare_last)
        _seed_filter(self.filter, folder, self.manifest, settings.compare_last)
        self._last_time: float | None = None

    def offer(self, frame: Frame) -> str:
        """Consider one frame: returns "kept", "interval" or "duplicate"."""
        t = _frame_time(frame)
        if self._last_time is not None and t - self._last_time < self.settings.interval_s:
            return "interval"
        thumb = thumbnail(frame.image)
        if self.filter.is_duplicate(thumb):
            return "duplicate"
        data = encode_image(frame.image, self.settings.format, self.settings.jpeg_quality)
        sha = sha256_bytes(data)
        if sha in self.manifest.shas:
            return "duplicate"
        name = _file_name(self.camera, len(self.manifest.frames) + 1, self.settings.format)
        with _sigint_deferred():  # Ctrl-C never leaves an image the manifest does not list
            write_bytes_atomic(self.folder / name, data)
            self.manifest.frames.append(FrameEntry(name, sha, len(data), frame.width, frame.height,
                                                   self.source_label, self.camera, utc_now(), frame.source_pts))
            self.manifest.save(self.folder)
        self.filter.remember(thumb)
        self._last_time = t
        return "kept"


def capture(cfg: AppConfig, *, frames: int | None = None, interval_s: float | None = None,
            camera: str | None = None, progress: bool = True) -> CaptureSummary:
    """Capture from the configured camera until the folder holds `frames` frames, the source ends, or Ctrl-C."""
    settings = cfg.calibration.capture.model_copy()
    if frames is not None:
        settings.frames = frames
    if interval_s is not None:
        settings.interval_s = interval_s
    wanted = camera or settings.camera or cfg.sources[0].name
    names = [s.name for s in cfg.sources]
    if wanted not in names:
        raise ConfigError(f"no camera named {wanted!r}", where="calibration.capture.camera",
                          fix=f"use one of: {', '.join(names)}")
    from edge_sdk.pipeline.build import make_sources

    source = next(s for s in make_sources(cfg) if s.camera == wanted)
    folder = frames_folder(cfg)
    capturer = Capturer(folder, cfg.calibration.profile or cfg.device_id, settings, camera=wanted,
                        source_label=source.uri.redacted())
    existing = len(capturer.manifest.frames)
    summary = CaptureSummary(folder, settings.frames, existing, 0, 0, 0, 0, "target")
    if existing >= settings.frames:
        log.info("%s already holds %d frames (target %d): nothing to capture", folder, existing, settings.frames)
        return summary
    log.info("capturing from camera %s (%s) into %s: %d frames there, target %d, interval %.1f s",
             wanted, source.uri.redacted(), folder, existing, settings.frames, settings.interval_s)
    try:
        with source, Progress(settings.frames, "capture", initial=existing, enabled=progress) as bar:
            while summary.total < settings.frames:
                status, frame = source.read(timeout=settings.read_timeout_s)
                if status is CaptureStatus.EOS:
                    summary.stopped_by = "eos"
                    break
                if status is not CaptureStatus.OK or frame is None:
                    summary.stopped_by = "timeout"
                    health = source.snapshot_health()
                    raise SourceError(f"no frame from camera {wanted} for {settings.read_timeout_s:.0f} s "
                                      f"({status.value}{': ' + health.last_error if health.last_error else ''}); "
                                      f"kept {summary.total} frames so far", where=source.uri.redacted(),
                                      fix="check the camera, then run the same command again to resume")
                summary.seen += 1
                verdict = capturer.offer(frame)
                if verdict == "kept":
                    summary.kept += 1
                    bar.update(1, skipped=summary.skipped_duplicate + summary.skipped_interval)
                elif verdict == "interval":
                    summary.skipped_interval += 1
                else:
                    summary.skipped_duplicate += 1
    except KeyboardInterrupt:
        summary.stopped_by = "interrupted"
        # A Ctrl-C held back while a frame was written arrives after it is listed but before it is counted.
        summary.kept = len(capturer.manifest.frames) - existing
    return summary
