"""What board is this: the L4T release (/etc/nv_tegra_release) and the device-tree model string.

Every read goes through a `root` prefix (default "/"), so tests run on copies of real files:

    detect_board(Path("/"))            # the running machine
    detect_board(tmp_path)             # tmp_path/etc/nv_tegra_release, tmp_path/proc/device-tree/model

L4T majors map to JetPack families: R35 -> JetPack 5, R36 -> JetPack 6, R38 -> JetPack 7. Releases in the table of
edge_sdk/device/jetpack.py map to an exact JetPack version; any other release of a known major maps to its family
("6.x"), except that an Orin on R38 runs JetPack 7.2 (the first JetPack 7 for Orin).
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.device.jetpack import by_l4t, orin_jetpack_for_l4t_major

NV_TEGRA_RELEASE = "etc/nv_tegra_release"
DEVICE_TREE_MODEL = "proc/device-tree/model"

# "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 ..."
_RELEASE_RE = re.compile(r"^#\s*R(?P<major>\d+)\s*\((?P<kind>[^)]*)\),\s*REVISION:\s*(?P<rev>[0-9.]+)(?P<rest>.*)$")

# L4T majors -> JetPack families, for releases not in edge_sdk/device/jetpack.py's table.
_JETPACK_FAMILY: dict[int, str] = {35: "5.x", 36: "6.x", 38: "7.x"}


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
        known = by_l4t(self.version)
        return known.jetpack if known else _JETPACK_FAMILY.get(self.major)

    @property
    def jetpack_exact(self) -> bool:
        return by_l4t(self.version) is not None


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
    def is_orin(self) -> bool:
        return self.model is not None and "orin" in self.model.lower()

    @property
    def jetpack(self) -> str | None:
        """JetPack from the L4T release; on an Orin, an R38 release not in the table is 7.2 (7.0/7.1 are Thor-only)."""
        if self.l4t is None:
            return None
        if not self.l4t.jetpack_exact and self.is_orin:
            return orin_jetpack_for_l4t_major(self.l4t.major) or self.l4t.jetpack
        return self.l4t.jetpack

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
