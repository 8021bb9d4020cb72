"""Idempotent install actions. Each compares what it wants with what is there and does nothing if they
match; under `dry_run` it only says what it would do. Every result is a value (`StepResult`), never an
exception, except for real failures (permissions, disk), which raise.

Writes are atomic: a temp file in the target directory, fsync, chmod/chown, rename, fsync of the directory.
"""

from __future__ import annotations

import grp
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from edge_sdk.atomic import atomic_open

log = logging.getLogger(__name__)

Status = Literal["unchanged", "changed", "would change", "skipped", "failed", "warning", "ok"]


@dataclass
class StepResult:
    name: str
    status: Status
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Owner:
    user: str
    group: str

    def ids(self) -> tuple[int, int] | None:
        """(uid, gid), or None when the user or group does not exist (yet)."""
        try:
            return pwd.getpwnam(self.user).pw_uid, grp.getgrnam(self.group).gr_gid
        except KeyError:
            return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _differences(path: Path, digest: str, mode: int, owner_ids: tuple[int, int] | None) -> list[str]:
    if not path.exists():
        return ["missing"]
    diffs = []
    st = path.stat()
    if sha256_file(path) != digest:
        diffs.append("content")
    if st.st_mode & 0o7777 != mode:
        diffs.append(f"mode {st.st_mode & 0o7777:04o} -> {mode:04o}")
    if owner_ids is not None and (st.st_uid, st.st_gid) != owner_ids:
        diffs.append("owner")
    return diffs


def _atomic_install(path: Path, write: Callable[[Any], None], mode: int, owner_ids: tuple[int, int] | None) -> None:
    with atomic_open(path, "wb", perms=mode, owner=owner_ids) as f:
        write(f)


def _install(name: str, path: Path, digest: str, write: Callable[[Any], None], mode: int,
             owner: Owner | None, dry_run: bool) -> StepResult:
    owner_ids = owner.ids() if owner is not None else None
    diffs = _differences(path, digest, mode, owner_ids)
    own_note = "" if owner is None or owner_ids is not None else f"; owner {owner.user} skipped (no such user here)"
    if not diffs:
        return StepResult(name, "unchanged", f"{path} (mode {mode:04o}){own_note}")
    if dry_run:
        return StepResult(name, "would change", f"{path}: {', '.join(diffs)}")
    if all(d.startswith(("mode", "owner")) for d in diffs):
        os.chmod(path, mode)
        if owner_ids is not None:
            os.chown(path, *owner_ids)
    else:
        _atomic_install(path, write, mode, owner_ids)
    return StepResult(name, "changed", f"{path}: {', '.join(diffs)}{own_note}")


def install_text(name: str, path: Path, text: str, mode: int, owner: Owner | None, dry_run: bool) -> StepResult:
    data = text.encode()
    return _install(name, path, hashlib.sha256(data).hexdigest(), lambda f: f.write(data), mode, owner, dry_run)


def install_copy(name: str, path: Path, source: Path, mode: int, owner: Owner | None, dry_run: bool) -> StepResult:
    def write(f: Any) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, f, 1 << 20)

    return _install(name, path, sha256_file(source), write, mode, owner, dry_run)


def ensure_dir(name: str, path: Path, mode: int, owner: Owner | None, dry_run: bool) -> StepResult:
    owner_ids = owner.ids() if owner is not None else None
    diffs = []
    if not path.is_dir():
        diffs.append("missing")
    else:
        st = path.stat()
        if st.st_mode & 0o7777 != mode:
            diffs.append(f"mode {st.st_mode & 0o7777:04o} -> {mode:04o}")
        if owner_ids is not None and (st.st_uid, st.st_gid) != owner_ids:
            diffs.append("owner")
    if not diffs:
        return StepResult(name, "unchanged", str(path))
    if dry_run:
        return StepResult(name, "would change", f"{path}: {', '.join(diffs)}")
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    if owner_ids is not None:
        os.chown(path, *owner_ids)
    return StepResult(name, "changed", f"{path}: {', '.join(diffs)}")


def run_command(name: str, argv: Sequence[str], dry_run: bool, *, timeout: float = 120) -> StepResult:
    """Run a system command (useradd, systemctl, nvpmodel, ...); a failure is a `failed` result."""
    shown = " ".join(argv)
    if dry_run:
        return StepResult(name, "would change", f"would run: {shown}")
    if shutil.which(argv[0]) is None:
        return StepResult(name, "failed", f"{argv[0]} is not installed; cannot run: {shown}")
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip().splitlines()
        return StepResult(name, "failed", f"{shown}: exit {proc.returncode}: {why[-1] if why else ''}")
    return StepResult(name, "changed", f"ran: {shown}")


def systemctl_is(verb: str, unit: str) -> bool:
    """`systemctl <verb> --quiet <unit>` (is-enabled, is-active, ...) as a yes/no; its own messages ("Failed to
    get unit file state", "System has not been booted with systemd") are kept out of edge-sdk's output (debug log)."""
    if shutil.which("systemctl") is None:
        return False
    proc = subprocess.run(["systemctl", verb, "--quiet", unit], capture_output=True, text=True, timeout=60, check=False)
    if proc.stderr.strip():
        log.debug("systemctl %s %s: %s", verb, unit, proc.stderr.strip().splitlines()[-1])
    return proc.returncode == 0


def own_tree(name: str, root: Path, owner: Owner, dry_run: bool, keep: Collection[Path] = ()) -> StepResult:
    """Give `root` and everything below it, but the paths in `keep`, to `owner` (what provision built as root,
    e.g. the INT8 build and calibration frames, must be the service's); only entries owned by someone else are
    touched."""
    ids = owner.ids()
    if ids is None:
        return StepResult(name, "skipped", f"no user {owner.user} here")
    if not root.exists():
        return StepResult(name, "unchanged", f"{root} does not exist")
    wrong = [p for p in [root, *root.rglob("*")]
             if p not in keep and not p.is_symlink() and (p.stat().st_uid, p.stat().st_gid) != ids]
    if not wrong:
        return StepResult(name, "unchanged", f"{root} belongs to {owner.user}")
    if dry_run:
        return StepResult(name, "would change", f"would give {len(wrong)} entries under {root} to {owner.user}")
    for p in wrong:
        os.chown(p, *ids)
    return StepResult(name, "changed", f"gave {len(wrong)} entries under {root} to {owner.user}")
