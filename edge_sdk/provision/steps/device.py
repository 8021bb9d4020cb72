"""Device step: `--device orin` becomes the profile of the detected Orin board; other names are taken as given.

On a machine that is not a Jetson the error names `--device cpu` (the ONNX Runtime service) as well as the
Orin profiles; on a Jetson that matches no Orin profile it says which board was found.
"""

from __future__ import annotations

from pathlib import Path

from edge_sdk.errors import DeviceError, EdgeSdkError
from edge_sdk.provision import DEVICES, ORIN_PROFILES
from edge_sdk.provision.actions import StepResult
from edge_sdk.provision.context import Context
from edge_sdk.provision.steps import Step


def resolve_device(device: str, root: Path = Path("/")) -> tuple[str, StepResult]:
    """`orin` -> the Orin profile matching the board detected under `root`; others are taken as given."""
    if device not in DEVICES:
        raise EdgeSdkError(f"unknown device {device!r}", where="--device", fix=f"use one of: {', '.join(DEVICES)}")
    if device != "orin":
        return device, StepResult("device", "ok", f"profile {device} (as given)")
    from edge_sdk.device.jetson import detect_board
    from edge_sdk.device.profiles import match_profile

    board = detect_board(root)
    if not board.is_jetson:
        seen = ", ".join(x for x in (board.model, board.arch) if x)
        raise DeviceError(f"orin: this machine is not a Jetson Orin; it is not a Jetson at all ({seen})", where="--device",
                          fix="use --device cpu to install the ONNX Runtime (CPU) service here; on a Jetson Orin "
                              "whose board is not detected, name its profile: --device orin-agx, orin-nx or orin-nano")
    profile = match_profile(board.model)
    if profile is None or profile.name not in ORIN_PROFILES:
        raise DeviceError(f"orin: this machine is not a Jetson Orin edge-sdk knows ({board.describe()})",
                          where="--device",
                          fix="name the profile (--device orin-agx, orin-nx or orin-nano), or --device cpu for the "
                              "ONNX Runtime (CPU) service")
    return profile.name, StepResult("device", "ok", f"detected {board.describe()}: profile {profile.name}")


def run(ctx: Context) -> None:
    ctx.profile, result = resolve_device(ctx.opts.device, ctx.opts.board_root)
    ctx.report.device = ctx.profile
    ctx.report.add(result)


STEP = Step("device", run, "prepare")
