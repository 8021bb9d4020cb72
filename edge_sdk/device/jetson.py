"""What board is this: the L4T release (/etc/nv_tegra_release) and the device-tree model string.

Every read goes through a `root` prefix (default "/"), so tests run on copies of real files:

    detect_board(Path("/"))            # the running machine
    detect_board(tmp_path)             # tmp_path/etc/nv_tegra_release, tmp_path/proc/device-tree/model

L4T majors map to JetPack families: R35 -> JetPack 5, R36 -> JetPack 6, R38 -> JetPack 7. Releases in
`_JETPACK` map to an exact JetPack version; any other release of a known major maps to its family ("6.x").
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

NV_TEGRA_RELEASE = "etc/nv_tegra_release"
DEVICE_TREE_MODEL = "proc/device-tree/model"

# "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 ..."
_RELEASE_RE = re.compile(r"^#\s*R(?P<major>\d+)\s*\((?P<kind>[^)]*)\),\s*REVISION:\s*(?P<rev>[0-9.]+)(?P<rest>.*)$")

# L4T release -> JetPack (NVIDIA's JetPack archive). Orin runs JetPack 5.x, 6.x and 7.x.
_JETPACK: dict[str, str] = {
    "35.1.0": "5.0.2", "35.2.1": "5.1", "35.3.1": "5.1.1", "35.4.1": "5.1.2", "35.5.0": "5.1.3",
    "35.6.0": "5.1.4", "35.6.1": "5.1.5",
    "36.2.0": "6.0 DP", "36.3.0": "6.0", "36.4.0": "6.1", "36.4.3": "6.2", "36.4.4": "6.2.1",
}
_JETPACK_FAMILY: dict[int, str] = {35: "5.x", 36: "6.x", 38: "7.x"}

# JetPack -> the TensorRT it ships (major.minor), for doctor's cross-check.
JETPACK_TENSORRT: dict[str, str] = {
    "5.0.2": "8.4", "5.1": "8.5", "5.1.1": "8.5", "5.1.2": "8.5", "5.1.3": "8.5", "5.1.4": "8.5", "5.1.5": "8.5",
    "6.0 DP": "8.6", "6.0": "8.6", "6.1": "10.3", "6.2": "10.3", "6.2.1": "10.3",
}


@dataclass(frozen=True)
class L4tRelease:
    """One parsed /etc/nv_tegra_release."""

    major: int  # 36
    revision: str  # "4.3"
    board: str | None  # the BOARD field ("generic", "t186ref")
    raw: str

    @property
    def version(self) -> str:
        """Three-part release, e.g. "36.4.3" (REVISION 4 becomes 4.0)."""
        parts = self.revision.split(".")
        while len(parts) < 2:
            parts.append("0")
        return ".".join([str(self.major), *parts[:2]])

    @property
    def text(self) -> str:
        return f"R{self.version}"

    @property
    def jetpack(self) -> str | None:
        """The JetPack version ("6.2"), its family for unknown releases ("6.x"), or None for unknown majors."""
        return _JETPACK.get(self.version) or _JETPACK_FAMILY.get(self.major)

    @property
    def jetpack_exact(self) -> bool:
        return self.version in _JETPACK


@dataclass(frozen=True)
class BoardInfo:
    """What the machine says about itself. `model` is None where there is no device tree (x86)."""

    model: str | None
    l4t: L4tRelease | None
    arch: str
    l4t_error: str | None = None  # nv_tegra_release exists but could not be parsed

    @property
    def is_jetson(self) -> bool:
        return self.l4t is not None or self.l4t_error is not None or (
            self.model is not None and "jetson" in self.model.lower())

    @property
    def jetpack(self) -> str | None:
        return self.l4t.jetpack if self.l4t else None

    def describe(self) -> str:
        if not self.is_jetson:
            return f"{self.model or 'not a Jetson'} ({self.arch})"
        l4t = self.l4t.text if self.l4t else "L4T unknown"
        jp = f"JetPack {self.jetpack}" if self.jetpack else "JetPack unknown"
        return f"{self.model or 'unknown Jetson'}, {l4t} ({jp})"


def parse_nv_tegra_release(text: str) -> L4tRelease:
    """Parse the first line of /etc/nv_tegra_release. Raises ValueError naming what was expected."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    m = _RELEASE_RE.match(first.strip())
    if not m:
        raise ValueError(f"unrecognised nv_tegra_release line {first[:120]!r}; "
                         "expected '# R36 (release), REVISION: 4.3, ...'")
    board = re.search(r"BOARD:\s*([^,]+)", m.group("rest"))
    return L4tRelease(major=int(m.group("major")), revision=m.group("rev").rstrip("."),
                      board=board.group(1).strip() if board else None, raw=first.strip())


def read_text(root: Path, rel: str) -> str | None:
    """A small text file under `root`, or None if absent/unreadable. Device-tree strings end in NUL."""
    try:
        data = (root / rel).read_bytes()
    except OSError:
        return None
    return data.replace(b"\x00", b"").decode("utf-8", errors="replace").strip()


def read_model(root: Path = Path("/")) -> str | None:
    return read_text(root, DEVICE_TREE_MODEL) or None


def detect_board(root: Path = Path("/"), arch: str | None = None) -> BoardInfo:
    """Board model and L4T release of the machine under `root`."""
    text = read_text(root, NV_TEGRA_RELEASE)
    l4t: L4tRelease | None = None
    error: str | None = None
    if text is not None:
        try:
            l4t = parse_nv_tegra_release(text)
        except ValueError as exc:
            error = str(exc)
    return BoardInfo(model=read_model(root), l4t=l4t, arch=arch or platform.machine(), l4t_error=error)
