"""A folder of calibration frames: scanning, checking, and the split into calibration and held-out frames.

Every file is read and hashed once. Unreadable or non-image files are skipped and counted (the build fails
when there are too many); byte-identical copies count once, so no frame can be both a calibration and a
held-out frame. The split is by content hash: the same set always splits the same way, whatever the file
names, and adding frames moves few others.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_sdk.calibration.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    IMAGE_SUFFIXES,
    decode_image,
    is_bookkeeping,
    sha256_bytes,
    size_problem,
)
from edge_sdk.errors import CalibrationError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.config.calibration import CalibrationConfig

log = logging.getLogger(__name__)

CAPTURE_HINT = ("capture frames with `edge-sdk calibrate capture --config FILE`, "
                "or set calibration.dir to a folder of JPEG/PNG images")


@dataclass(frozen=True)
class FrameFile:
    path: Path
    sha256: str
    size: int
    width: int
    height: int


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # "not an image", "unreadable ...", "too large (...)", "too small (...)"


@dataclass
class FrameSet:
    """The usable frames of one folder, and what was skipped."""

    folder: Path
    frames: list[FrameFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: int = 0

    @property
    def files_seen(self) -> int:
        return len(self.frames) + len(self.skipped) + self.duplicates


@dataclass
class FrameSplit:
    """Calibration and held-out frames; disjoint by content."""

    calibration: list[FrameFile]
    holdout: list[FrameFile]
    sources: list[FrameSet]
    holdout_from: str  # "split" or "holdout_dir"

    @property
    def skipped(self) -> list[Skipped]:
        return [s for fs in self.sources for s in fs.skipped]

    @property
    def duplicates(self) -> int:
        return sum(fs.duplicates for fs in self.sources)

    def digest(self) -> str:
        """sha256 over the sorted content hashes of each part: the identity of the calibration set."""
        h = hashlib.sha256()
        for part, frames in (("calibration", self.calibration), ("holdout", self.holdout)):
            h.update(part.encode())
            for sha in sorted(f.sha256 for f in frames):
                h.update(bytes.fromhex(sha))
        return h.hexdigest()


def frames_folder(cfg: AppConfig) -> Path:
    """The folder the config's calibration frames live in."""
    cal = cfg.calibration
    if cal.dir:
        return cfg.resolve(cal.dir)
    return cfg.resolve(cal.root) / (cal.profile or cfg.device_id)


def fingerprint_folder(folder: Path) -> str:
    """A cheap identity of a folder's image files (names and sizes), for staleness checks at run time."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not is_bookkeeping(p):
                h.update(f"{p.name}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()


def calibration_fingerprint(cfg: AppConfig) -> str:
    """Fingerprint of the configured frame folder(s): main and, when set, held-out."""
    parts = [fingerprint_folder(frames_folder(cfg))]
    if cfg.calibration.holdout_dir:
        parts.append(fingerprint_folder(cfg.resolve(cfg.calibration.holdout_dir)))
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def scan_folder(folder: Path, *, key: str, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> FrameSet:
    """Read and hash every file of `folder` (not recursive). `key` names the config key for messages. Images
    whose header says they are larger than `max_pixels` or tiny are skipped and counted, never decoded."""
    if not folder.exists():
        raise CalibrationError("calibration folder not found", where=f"{folder} ({key})", fix=CAPTURE_HINT)
    if not folder.is_dir():
        raise CalibrationError("calibration path is not a folder", where=f"{folder} ({key})", fix=CAPTURE_HINT)
    result = FrameSet(folder)
    seen: set[str] = set()
    for path in sorted(folder.iterdir()):
        if not path.is_file() or is_bookkeeping(path):
            continue
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            result.skipped.append(Skipped(path, "not an image"))
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            result.skipped.append(Skipped(path, f"unreadable ({exc.strerror})"))
            continue
        problem = size_problem(data, max_pixels)
        img = decode_image(data, max_pixels) if problem is None else None
        if img is None:
            result.skipped.append(Skipped(path, problem or "unreadable (not a decodable image)"))
            continue
        sha = sha256_bytes(data)
        if sha in seen:
            result.duplicates += 1
            continue
        seen.add(sha)
        result.frames.append(FrameFile(path, sha, len(data), int(img.shape[1]), int(img.shape[0])))
    return result


def _check_bad(fs: FrameSet, cal: CalibrationConfig, key: str) -> None:
    total = len(fs.frames) + len(fs.skipped)
    if total == 0:
        raise CalibrationError("calibration folder is empty (no image files)", where=f"{fs.folder} ({key})",
                               fix=CAPTURE_HINT)
    if fs.skipped:
        share = len(fs.skipped) / total
        examples = ", ".join(f"{s.path.name} ({s.reason})" for s in fs.skipped[:3])
        log.warning("%s: skipped %d of %d files: %s%s", fs.folder, len(fs.skipped), total, examples,
                    " ..." if len(fs.skipped) > 3 else "")
        if share > cal.max_bad_fraction:
            raise CalibrationError(
                f"{len(fs.skipped)} of {total} files ({share:.0%}) are unreadable, not images, too large or too small, more than "
                f"calibration.max_bad_fraction ({cal.max_bad_fraction:.0%}); e.g. {examples}",
                where=str(fs.folder), fix="remove or replace those files (JPEG/PNG frames only), or raise "
                                          "calibration.max_bad_fraction")


def even_spread(items: list[FrameFile], limit: int) -> list[FrameFile]:
    """At most `limit` items, evenly spaced over the list (kept in order)."""
    if len(items) <= limit:
        return list(items)
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


def split_frames(main: FrameSet, holdout_set: FrameSet | None, cal: CalibrationConfig) -> FrameSplit:
    """Split into calibration and held-out frames (disjoint) and apply the configured minimums and caps."""
    if holdout_set is None:
        by_hash = sorted(main.frames, key=lambda f: f.sha256)
        n_hold = max(cal.min_holdout_frames, round(len(by_hash) * cal.holdout_fraction))
        held = {f.sha256 for f in by_hash[:n_hold]}
        holdout = [f for f in main.frames if f.sha256 in held]
        calibration = [f for f in main.frames if f.sha256 not in held]
        sources, origin = [main], "split"
    else:
        held = {f.sha256 for f in holdout_set.frames}
        both = [f for f in main.frames if f.sha256 in held]
        if both:
            log.warning("%d frames are in both %s and %s; they are used as held-out frames only",
                        len(both), main.folder, holdout_set.folder)
        holdout = list(holdout_set.frames)
        calibration = [f for f in main.frames if f.sha256 not in held]
        sources, origin = [main, holdout_set], "holdout_dir"
    usable = len(calibration) + len(holdout)
    if usable < cal.min_frames:
        raise CalibrationError(
            f"only {usable} usable frames ({len(calibration)} calibration + {len(holdout)} held-out); "
            f"at least calibration.min_frames = {cal.min_frames} are needed", where=str(main.folder),
            fix="capture more frames (`edge-sdk calibrate capture --config FILE --frames N`) or lower calibration.min_frames")
    if len(holdout) < cal.min_holdout_frames:
        raise CalibrationError(f"only {len(holdout)} held-out frames; the accuracy gate needs at least "
                               f"calibration.min_holdout_frames = {cal.min_holdout_frames}",
                               where=str((holdout_set or main).folder), fix="add frames or lower calibration.min_holdout_frames")
    if not calibration:
        raise CalibrationError("no frames are left for calibration after the held-out split", where=str(main.folder),
                               fix="add frames or lower calibration.holdout_fraction")
    return FrameSplit(even_spread(calibration, cal.max_calibration_frames),
                      even_spread(holdout, cal.max_holdout_frames), sources, origin)


def load_split(cfg: AppConfig) -> FrameSplit:
    """Scan the configured folder(s), check them, and split. Raises CalibrationError on bad input."""
    cal = cfg.calibration
    main_key = "calibration.dir" if cal.dir else "calibration.root/profile"
    main = scan_folder(frames_folder(cfg), key=main_key, max_pixels=cal.max_image_pixels)
    _check_bad(main, cal, main_key)
    holdout_set = None
    if cal.holdout_dir:
        holdout_set = scan_folder(cfg.resolve(cal.holdout_dir), key="calibration.holdout_dir",
                                  max_pixels=cal.max_image_pixels)
        _check_bad(holdout_set, cal, "calibration.holdout_dir")
    return split_frames(main, holdout_set, cal)
