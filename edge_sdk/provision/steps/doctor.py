"""Doctor step: `edge-sdk doctor`'s checks for the chosen profile; a failed required check (L4T/JetPack,
device profile, TensorRT, CUDA, pycuda, disk) stops the run with the list of fixes."""

from __future__ import annotations

from pathlib import Path

from edge_sdk.provision.actions import StepResult
from edge_sdk.provision.context import Context
from edge_sdk.provision.layout import STATE
from edge_sdk.provision.steps import Step


def doctor(profile: str, root: Path, disk_path: Path) -> tuple[StepResult, list[str]]:
    """Run the doctor's checks for `profile`; returns the result and the fixes of failed required checks."""
    try:
        from edge_sdk.device.doctor import DoctorInput, run_doctor
    except ImportError:
        return StepResult("doctor", "skipped", "edge_sdk.device.doctor is not in this build: no machine checks ran"), []
    while not disk_path.exists():
        disk_path = disk_path.parent
    checks = run_doctor(DoctorInput(root=root, device=profile, broker=None, disk_path=disk_path))
    failed = [c for c in checks if c.required and not c.ok]
    warned = [c.name for c in checks if c.status == "WARN"]
    if failed:
        fixes = [f"{c.name}: {c.detail}" + (f" (fix: {c.fix})" if c.fix else "") for c in failed]
        return StepResult("doctor", "failed", f"required check(s) failed: {', '.join(c.name for c in failed)}"), fixes
    note = f"; warnings: {', '.join(warned)}" if warned else ""
    return StepResult("doctor", "ok", f"{len(checks)} checks, none of the required failed{note}"), []


def run(ctx: Context) -> None:
    result, fixes = doctor(ctx.profile, ctx.opts.board_root, ctx.layout.staged(STATE))
    ctx.report.add(result)
    if fixes:
        ctx.report.fixes = fixes
        ctx.stop = True


STEP = Step("doctor", run, "prepare")
