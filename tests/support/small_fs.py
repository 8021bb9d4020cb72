"""Real small file systems for disk tests (root only; a test is skipped with the reason where mounting is not
permitted): a tmpfs of a given size, a filler that takes all its free space, and a loop-mounted ext4 with
`errors=remount-ro` that can be made to fail as a dying disk does (the kernel turns it read-only under the
writers that have files open)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "2m") -> Iterator[Path]:
    """Mount a tmpfs of `size` (mount's syntax: 2m, 512k) at `path` while inside."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root and mount(8); run the disk-full tests as root")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): a container without CAP_SYS_ADMIN?")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def failing_ext4(path: Path, size_mb: int = 16) -> Iterator[Path]:
    """An ext4 file system in a loop-mounted image at `path` (mounted with errors=remount-ro) while inside;
    `fail(path)` makes it fail."""
    if os.geteuid() != 0 or shutil.which("losetup") is None or shutil.which("mkfs.ext4") is None:
        pytest.skip("a loop-mounted ext4 needs root, losetup and mkfs.ext4")
    image = path.with_name(path.name + ".img")
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    loop = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=False)
    if loop.returncode != 0:
        pytest.skip(f"no loop device here ({loop.stderr.strip()})")
    device = loop.stdout.strip()
    path.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(["mount", "-o", "errors=remount-ro", device, str(path)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a loop device here ({done.stderr.strip()})")
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True, check=False)
        image.unlink(missing_ok=True)


def fail(path: Path) -> None:
    """An ext4 error on the file system mounted at `path`: the kernel remounts it read-only at once, under every
    writer (what a dying SD card or eMMC does with errors=remount-ro)."""
    device = Path(os.path.realpath(_device_of(path))).name
    Path(f"/sys/fs/ext4/{device}/trigger_fs_error").write_text("edge-sdk test: a failing disk\n")


def _device_of(path: Path) -> str:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[1] == str(path):
            return fields[0]
    raise RuntimeError(f"{path} is not a mount point")


def fill(folder: Path, name: str = "filler") -> Path:
    """A file that takes every free byte of `folder`'s file system (as another program filling the disk would)."""
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for block in (65536, 4096, 512):
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError:
                continue
    finally:
        os.close(fd)
    return path
