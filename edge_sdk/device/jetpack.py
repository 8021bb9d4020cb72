"""What each JetPack release ships on a Jetson Orin: L4T, Ubuntu, Python, CUDA, TensorRT, and whether DLA works.

One table, read by `doctor` (cross-checks of what is installed), `selftest`, the engine cache key (facts.py)
and provisioning (what to install):

| JetPack | L4T | Ubuntu | Python | CUDA | TensorRT | DLA on Orin | edge-sdk |
|---|---|---|---|---|---|---|---|
| 6.0 | R36.3 | 22.04 | 3.10 | 12.2 | 8.6 | yes | secondary |
| 6.1 | R36.4.0 | 22.04 | 3.10 | 12.6 | 10.3 | yes | supported |
| 6.2, 6.2.1 | R36.4.3, R36.4.4 | 22.04 | 3.10 | 12.6 | 10.3 | yes | primary |
| 7.2 | R38 | 24.04 | 3.12 | 13 | 10.16 | no | primary |
| 7.2.2+ | R38 | 24.04 | 3.12 | 13 | 10.16; 11.x on AGX Orin only | 10.16: no; 11.4+: yes | 11.x secondary |

DLA on Orin by TensorRT version (`dla_on_orin`): 8.6 and 10.0-10.7 have it; 10.8 and later 10.x, and 11.0-11.3,
do not; 11.4 and later have it again. A config that asks for DLA where the TensorRT has none is an error.

JetPack 7.0 and 7.1 (also L4T R38) run on Jetson Thor only, so an Orin on R38 runs JetPack 7.2 or later; the
exact R38 revision of 7.2 is not in this table yet, so it is reported as "7.2" from the board and the L4T
major, and the installed TensorRT tells 7.2 from 7.2.2 (11.x exists only from 7.2.2 on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Support = Literal["primary", "supported", "secondary", "unsupported"]


@dataclass(frozen=True)
class JetPackRelease:
    """One JetPack release as it runs on Orin. Versions are prefixes: "12.6" matches 12.6.x, "13" any 13.x."""

    jetpack: str
    l4t: tuple[str, ...]  # L4T releases ("36.4.3"); () when not yet known (matched by L4T major)
    l4t_major: int
    ubuntu: str
    python: str
    cuda: str
    tensorrt: str  # the TensorRT JetPack installs (python3-libnvinfer)
    support: Support
    # other TensorRT versions this JetPack can carry, and on which device profiles (TensorRT 11 on AGX Orin)
    tensorrt_optional: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def tensorrt_choices(self, profile: str | None = None) -> tuple[str, ...]:
        """The TensorRT versions this JetPack offers on `profile` (all profiles when None)."""
        extra = tuple(v for v, profiles in self.tensorrt_optional.items() if profile is None or profile in profiles)
        return (self.tensorrt, *extra)


def _jp5(jetpack: str, l4t: str, tensorrt: str = "8.5") -> JetPackRelease:
    return JetPackRelease(jetpack, (l4t,), 35, "20.04", "3.8", "11.4", tensorrt, "unsupported")


JETPACKS: tuple[JetPackRelease, ...] = (
    _jp5("5.0.2", "35.1.0", "8.4"), _jp5("5.1", "35.2.1"), _jp5("5.1.1", "35.3.1"), _jp5("5.1.2", "35.4.1"),
    _jp5("5.1.3", "35.5.0"), _jp5("5.1.4", "35.6.0"), _jp5("5.1.5", "35.6.1"),
    JetPackRelease("6.0 DP", ("36.2.0",), 36, "22.04", "3.10", "12.2", "8.6", "secondary"),
    JetPackRelease("6.0", ("36.3.0",), 36, "22.04", "3.10", "12.2", "8.6", "secondary"),
    JetPackRelease("6.1", ("36.4.0",), 36, "22.04", "3.10", "12.6", "10.3", "supported"),
    JetPackRelease("6.2", ("36.4.3",), 36, "22.04", "3.10", "12.6", "10.3", "primary"),
    JetPackRelease("6.2.1", ("36.4.4",), 36, "22.04", "3.10", "12.6", "10.3", "primary"),
    JetPackRelease("7.2", (), 38, "24.04", "3.12", "13", "10.16", "primary"),
    JetPackRelease("7.2.2", (), 38, "24.04", "3.12", "13", "10.16", "primary", {"11": ("orin-agx",)}),
)
PRIMARY = tuple(j.jetpack for j in JETPACKS if j.support == "primary")


def release(jetpack: str | None) -> JetPackRelease | None:
    """The table entry of a JetPack version ("6.2"); None for versions not in the table."""
    return next((j for j in JETPACKS if j.jetpack == jetpack), None)


def by_l4t(l4t_version: str) -> JetPackRelease | None:
    """The JetPack of an exact L4T release ("36.4.3"), if the table has it."""
    return next((j for j in JETPACKS if l4t_version in j.l4t), None)


def releases_for(l4t_version: str | None) -> tuple[JetPackRelease, ...]:
    """The JetPack releases an L4T release can be: the exact one, or for an R38 revision not in the table every
    7.2.x (the installed TensorRT tells them apart: 11.x only from 7.2.2)."""
    if not l4t_version:
        return ()
    exact = by_l4t(l4t_version)
    if exact:
        return (exact,)
    major = int(l4t_version.split(".")[0])
    return tuple(j for j in JETPACKS if j.l4t_major == major and not j.l4t)


def orin_jetpack_for_l4t_major(major: int) -> str | None:
    """What an Orin on an L4T major not in the table runs: R38 -> "7.2" (7.0/7.1 do not run on Orin)."""
    return "7.2" if major == 38 else None


def matches(expected: str, actual: str | None) -> bool:
    """Whether `actual` ("12.6.68", "10.3.0.30") is within the prefix `expected` ("12.6", "10.3", "13")."""
    if actual is None:
        return False
    want = expected.split(".")
    return actual.split(".")[:len(want)] == want


def _triple(version: str) -> tuple[int, int, int]:
    m = re.match(r"^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?", version)
    if not m:
        raise ValueError(f"not a version: {version!r}")
    return int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)


def dla_on_orin(tensorrt_version: str) -> bool:
    """Whether this TensorRT can build and run DLA engines on Jetson Orin (see the module doc)."""
    major, minor, _ = _triple(tensorrt_version)
    if major < 10:
        return True
    if major == 10:
        return minor <= 7
    if major == 11:
        return minor >= 4
    return True  # a newer major: assumed to keep DLA (11.4 brought it back); the builder reports the cores


def jetpacks_shipping(tensorrt_version: str, profile: str | None = None) -> list[str]:
    """The JetPack releases whose TensorRT (or optional TensorRT on `profile`) is this version."""
    return [j.jetpack for j in JETPACKS
            if any(matches(v, tensorrt_version) for v in j.tensorrt_choices(profile))]


def jetpacks_with_cuda(cuda_version: str) -> list[str]:
    """The JetPack releases whose CUDA is this version ("12.6.68" -> 6.1, 6.2, 6.2.1)."""
    return [j.jetpack for j in JETPACKS if matches(j.cuda, cuda_version)]


# The Jetson kernel of each L4T major ("5.15.148-tegra" -> 36): in a container, `uname -r` is still the host's.
_KERNEL_L4T = (("5.10.", 35), ("5.15.", 36), ("6.8.", 38))


def l4t_major_for_kernel(release: str) -> int | None:
    """The host's L4T major from its kernel release, where it is a Jetson (tegra) kernel; else None."""
    if "tegra" not in release:
        return None
    return next((major for prefix, major in _KERNEL_L4T if release.startswith(prefix)), None)
