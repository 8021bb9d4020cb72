"""A real systemd (Debian 12's 252) as PID 1 for tests, on a machine whose PID 1 is not systemd: the
scripts in tests/systemd/box/ boot it in a PID+mount namespace, chrooted into a debootstrap root.

The root is made once and cached (`make-root.sh`, about 100 s: /var/cache/edge-sdk/systemd-box/root, or
$EDGE_SDK_BOX_ROOT); each `Box` boots a fresh overlay of it (lower: the cached root, upper: a temporary
folder), so nothing a test installs survives into the next run. The box shares the host's network: a broker
on the host's 127.0.0.1 is reachable inside. Needs root.

    with Box(tmp_path) as box:
        box.run("systemctl", "is-system-running")     # CompletedProcess; box.sh("...") for a shell line
        box.root / "home/dev"                           # the box's file system, seen from the host
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

SCRIPTS = Path(__file__).with_name("box")
ROOT_CACHE = Path(os.environ.get("EDGE_SDK_BOX_ROOT", "/var/cache/edge-sdk/systemd-box/root"))


def unavailable() -> str | None:
    """Why a box cannot run here, or None."""
    if os.geteuid() != 0:
        return "booting systemd in a namespace needs root"
    for tool in ("unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is missing"
    if not (ROOT_CACHE / ".systemd-box-ready").exists() and shutil.which("debootstrap") is None:
        return "debootstrap is missing (Debian package debootstrap, see scripts/apt-packages.txt)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "no overlay file system in this kernel"
    return None


def ensure_root() -> Path:
    """The cached Debian root with systemd, made when missing."""
    proc = subprocess.run([str(SCRIPTS / "make-root.sh"), str(ROOT_CACHE)], capture_output=True, text=True,
                          timeout=1200, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"make-root.sh failed: {proc.stderr.strip()} (log: {ROOT_CACHE}.log)")
    return ROOT_CACHE


class Box:
    def __init__(self, workdir: Path, binds: dict[Path, str] | None = None) -> None:
        self.workdir = workdir
        self.root = workdir / "merged"
        self.binds = binds or {}
        self.pid: int | None = None

    def __enter__(self) -> Box:
        lower = ensure_root()
        for d in ("upper", "work", "merged"):
            (self.workdir / d).mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={self.workdir / 'upper'},workdir={self.workdir / 'work'}",
                        str(self.root)], check=True, timeout=30)
        try:
            env = {**os.environ, "BIND": " ".join(f"{src}:{dst}" for src, dst in self.binds.items())}
            proc = subprocess.run([str(SCRIPTS / "boot.sh"), str(self.root)], capture_output=True, text=True,
                                  env=env, timeout=120, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"systemd did not boot: {proc.stderr.strip()}")
            self.pid = int(proc.stdout.strip())
        except BaseException:
            subprocess.run(["umount", "-l", str(self.root)], check=False)
            raise
        return self

    def __exit__(self, *exc: object | TracebackType) -> None:
        if self.pid is not None:
            subprocess.run([str(SCRIPTS / "stop.sh"), str(self.pid), str(self.root)], check=False, timeout=60)
        deadline = time.monotonic() + 30
        while subprocess.run(["umount", str(self.root)], capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                subprocess.run(["umount", "-l", str(self.root)], check=False)
                break
            time.sleep(0.2)

    def run(self, *argv: str, timeout: float = 120, check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside the box (as root there)."""
        if self.pid is None:
            raise RuntimeError("the box is not booted")
        prefix = ["env", *[f"{k}={v}" for k, v in (env or {}).items()]] if env else []
        proc = subprocess.run([str(SCRIPTS / "exec.sh"), str(self.pid), str(self.root), *prefix, *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
        return proc

    def sh(self, line: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run("sh", "-c", line, **kw)  # type: ignore[arg-type]

    def show(self, *props: str, unit: str = "edge-sdk.service") -> dict[str, str]:
        out = self.run("systemctl", "show", unit, "-p", ",".join(props), check=True).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str = "edge-sdk.service", since_cursor: str | None = None) -> str:
        argv = ["journalctl", "-u", unit, "--no-pager", "-o", "short-monotonic"]
        return self.run(*argv, *(["--after-cursor", since_cursor] if since_cursor else [])).stdout

    def wait(self, what: str, predicate: object, timeout: float = 60, every: float = 0.25) -> None:
        """Poll `predicate()` until true; fail naming `what` and the unit's journal tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return
            time.sleep(every)
        tail = "\n".join(self.journal().splitlines()[-30:])
        raise AssertionError(f"{what}: not within {timeout:.0f} s; journal tail:\n{tail}")
