"""Device profiles (`device_configs/<name>.yaml`): what a board can do and how edge-sdk should use it.

The app config's `device:` names a profile, or `auto` to pick the one whose `match` strings occur in the
board's device-tree model. A Jetson that matches no profile is an error, never a silent CPU fallback.

Profiles are looked up in $EDGE_SDK_DEVICE_CONFIGS, the source tree's `device_configs/`,
`/etc/edge-sdk/device_configs/` and `<prefix>/share/edge-sdk/device_configs/`, first match wins.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from edge_sdk.config.base import Section
from edge_sdk.config.precision import Precision
from edge_sdk.device.jetson import BoardInfo, detect_board
from edge_sdk.errors import ConfigError, DeviceError


class PowerHints(Section):
    nvpmodel_mode: int | None = Field(None, ge=0, le=31, description="nvpmodel mode for full speed (nvpmodel -m N)")
    nvpmodel_name: str | None = Field(None, description="that mode's name as `nvpmodel -q` prints it")
    jetson_clocks: bool = Field(False, description="run jetson_clocks to pin clocks at maximum")
    note: str | None = Field(None, description="advice shown by doctor")


class DeviceProfile(Section):
    name: str = Field(..., pattern=r"^[a-z0-9-]{1,32}$", description="profile name (the file name without .yaml)")
    description: str = Field("", description="one line for humans")
    match: list[str] = Field(default_factory=list, description="substrings of /proc/device-tree/model that select it")
    compute_capability: str | None = Field(None, pattern=r"^\d+\.\d+$", description="GPU compute capability, e.g. 8.7")
    dla_cores: int = Field(0, ge=0, le=4, description="DLA cores on the board (Orin AGX/NX: 2, Nano: 0)")
    memory_budget_mb: int = Field(2048, ge=64, le=1 << 20, description="memory edge-sdk's engine and buffers may use")
    workspace_mb: int = Field(1024, ge=16, le=65536, description="default builder workspace limit (MiB)")
    default_precision: Precision = Field("fp32", description="precision used unless configured")
    default_engine: Literal["onnxruntime", "tensorrt"] = Field("onnxruntime", description="engine type to use")
    mapped_memory: bool = Field(False, description="integrated GPU: zero-copy mapped host buffers are usable")
    nvdec_1080p30: int | None = Field(None, ge=1, le=256,
                                      description="hardware video decode capacity: streams of 1920x1080 at 30 fps (H.265, "
                                                  "as NVIDIA publishes it) decoded at once; null: none to budget "
                                                  "(edge_sdk/device/decode_budget.py)")
    jetpacks: list[str] = Field(default_factory=list, description="JetPack releases this board runs (edge_sdk/device/"
                                                                  "jetpack.py has what each ships); [] for non-Jetsons")
    power: PowerHints = Field(default_factory=PowerHints, description="power-mode hints")

    @field_validator("jetpacks")
    @classmethod
    def _known_jetpacks(cls, value: list[str]) -> list[str]:
        from edge_sdk.device.jetpack import release

        unknown = [j for j in value if release(j) is None]
        if unknown:
            raise ValueError(f"JetPack {', '.join(unknown)} is not in edge_sdk/device/jetpack.py's table")
        return value

    @property
    def slug(self) -> str:
        """Device part of timing-cache and engine names, e.g. "orin-agx-sm87"."""
        cc = (self.compute_capability or "").replace(".", "")
        return f"{self.name}-sm{cc}" if cc else self.name


def source_tree() -> Path:
    """The checkout edge-sdk runs from in an editable install (or any folder above the package)."""
    return Path(__file__).resolve().parents[2]


def installed_share_dirs() -> list[Path]:
    """Where `pip install` puts edge-sdk's data files (setup.py data_files): <prefix>/share/edge-sdk, and the user
    base's share/edge-sdk for `pip install --user`."""
    import site

    return [Path(sys.prefix) / "share" / "edge-sdk", Path(site.getuserbase()) / "share" / "edge-sdk"]


def search_dirs() -> list[Path]:
    dirs = []
    env = os.environ.get("EDGE_SDK_DEVICE_CONFIGS")
    if env:
        dirs.append(Path(env))
    dirs.append(source_tree() / "device_configs")
    dirs.append(Path("/etc/edge-sdk/device_configs"))
    dirs.extend(d / "device_configs" for d in installed_share_dirs())
    return dirs


def profiles_dir(directory: Path | None = None) -> Path:
    if directory is not None:
        return directory
    for d in search_dirs():
        if d.is_dir() and any(d.glob("*.yaml")):
            return d
    raise ConfigError("no device profiles found", where=", ".join(str(d) for d in search_dirs()),
                      fix="reinstall edge-sdk, or set EDGE_SDK_DEVICE_CONFIGS to a directory of profile YAML files")


def list_profiles(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in profiles_dir(directory).glob("*.yaml"))


def load_profile(name: str, directory: Path | None = None) -> DeviceProfile:
    """Load one profile by name. A bad name or file raises ConfigError naming file, key and fix."""
    from edge_sdk.config.yaml_lines import parse_yaml

    d = profiles_dir(directory)
    path = d / f"{name}.yaml"
    if not path.is_file():
        known = list_profiles(d)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown device profile {name!r}{hint}", where="device",
                          fix=f"use auto or one of: {', '.join(known)}")
    data, lines = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(data, dict):
        raise ConfigError("a device profile must be a YAML mapping", where=str(path))
    try:
        profile = DeviceProfile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = next((lines[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in lines), None)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {'.'.join(map(str, loc))}: {err['msg']}")
        raise ConfigError("invalid device profile:\n  " + "\n  ".join(problems),
                          fix="compare with the profiles shipped in device_configs/") from None
    if profile.name != name:
        raise ConfigError(f"profile file {name}.yaml says name: {profile.name}", where=str(path),
                          fix="make the name equal to the file name")
    return profile


def match_profile(model: str | None, directory: Path | None = None) -> DeviceProfile | None:
    """The profile whose longest `match` string occurs in `model` (case-insensitive), if any."""
    if not model:
        return None
    best: tuple[int, DeviceProfile] | None = None
    for name in list_profiles(directory):
        profile = load_profile(name, directory)
        for pattern in profile.match:
            if pattern.lower() in model.lower() and (best is None or len(pattern) > best[0]):
                best = (len(pattern), profile)
    return best[1] if best else None


def resolve_profile(name: str = "auto", *, root: Path = Path("/"), directory: Path | None = None,
                    board: BoardInfo | None = None) -> DeviceProfile:
    """The named profile, or for `auto` the detected board's (`cpu` on a machine that is not a Jetson)."""
    if name != "auto":
        return load_profile(name, directory)
    board = board or detect_board(root)
    profile = match_profile(board.model, directory)
    if profile is not None:
        return profile
    if board.is_jetson:
        raise DeviceError(f"this Jetson ({board.model or 'no device-tree model'}) matches no device profile",
                          where="device: auto",
                          fix=f"set device: to one of {', '.join(list_profiles(directory))} in the config, "
                              "or add a profile with a matching `match:` string to device_configs/")
    return load_profile("cpu", directory)
