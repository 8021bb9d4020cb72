"""Atomic writes, the one copy edge-sdk uses: a temp file in the same directory, fsync, rename over the
target, fsync of the directory.

A power cut leaves either the old file or the new one, never half of either. Temp files are named
`.<name>.<random>.tmp` beside the target, so a killed writer leaves only such files, which
`remove_stale_temps` clears.

    from edge_sdk.atomic import write_json_atomic
    write_json_atomic(path, {"ok": True})
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: Files are readable by everyone unless the caller says otherwise (mkstemp alone gives 0600, which a
#: service user other than the writer cannot read).
DEFAULT_MODE = 0o644


def fsync_dir(path: Path) -> None:
    """Make a rename or an unlink in `path` durable. Filesystems that refuse a directory fsync are skipped."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", *, perms: int = DEFAULT_MODE,
                owner: tuple[int, int] | None = None, encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temp file next to `path`; on a clean exit it is fsynced and renamed to `path`, else removed.

    `perms` and `owner` (uid, gid) are set on the temp file before anything is written, so the target never
    exists with other permissions. `mode` is "wb" or "w" (text, `encoding` default utf-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, perms)
        if owner is not None:
            os.fchown(fd, *owner)
        text_encoding = None if "b" in mode else (encoding or "utf-8")
        with os.fdopen(fd, mode, encoding=text_encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_bytes_atomic(path: str | Path, data: bytes, *, perms: int = DEFAULT_MODE) -> Path:
    with atomic_open(path, "wb", perms=perms) as f:
        f.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str, *, perms: int = DEFAULT_MODE) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"), perms=perms)


def write_json_atomic(path: str | Path, data: Any, *, indent: int | None = 2, sort_keys: bool = False,
                      perms: int = DEFAULT_MODE) -> Path:
    """JSON with a trailing newline; `indent=None` writes it compact (large annotation files)."""
    separators = (",", ":") if indent is None else None
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, separators=separators)
    return write_text_atomic(path, text + "\n", perms=perms)


def move_atomic(src: Path, dst: Path) -> None:
    """Rename a finished (fsynced) file into place on the same filesystem."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    fsync_dir(dst.parent)


def remove_stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the temp files a killed writer left in `folder` (all of them, or those of target `name`);
    returns what was removed. Call only where no other writer is running."""
    if not folder.is_dir():
        return []
    pattern = f".{name}.*.tmp" if name else ".*.tmp"
    removed = []
    for p in folder.glob(pattern):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    if removed:
        fsync_dir(folder)
    return removed
