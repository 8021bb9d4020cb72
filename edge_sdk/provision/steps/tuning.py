"""Tuning step (Orin, only with --tune): the profile's nvpmodel mode and jetson_clocks."""

from __future__ import annotations

from edge_sdk.provision.actions import StepResult, run_command
from edge_sdk.provision.context import Context
from edge_sdk.provision.steps import Step


def tuning(profile: str, enabled: bool, dry_run: bool) -> list[StepResult]:
    if profile == "cpu":
        return [StepResult("tuning", "skipped", "not applicable on the cpu profile")]
    if not enabled:
        return [StepResult("tuning", "skipped", "off by default (nvpmodel mode and jetson_clocks); --tune applies them")]
    from edge_sdk.device.profiles import load_profile

    power = load_profile(profile).power
    results = []
    if power.nvpmodel_mode is not None:
        results.append(run_command("tuning: nvpmodel", ["nvpmodel", "-m", str(power.nvpmodel_mode)], dry_run))
    if power.jetson_clocks:
        results.append(run_command("tuning: jetson_clocks", ["jetson_clocks"], dry_run))
    return results or [StepResult("tuning", "skipped", f"the {profile} profile has no power settings")]


def run(ctx: Context) -> None:
    ctx.report.add(*tuning(ctx.profile, ctx.opts.tune, ctx.opts.dry_run))


STEP = Step("tuning", run, "activate", skipped_names=("tuning",))
