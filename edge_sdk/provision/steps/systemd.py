"""systemd step: daemon-reload when the unit changed, enable, and start; a running service is reloaded when
only what it applies live changed (the model, engine, decode, logging or daemon sections of the config on an
ONNX Runtime pipeline: the engine is swapped and the MQTT session kept), and restarted for anything else."""

from __future__ import annotations

import yaml

from edge_sdk.provision.actions import StepResult, run_command, systemctl_is
from edge_sdk.provision.context import Context
from edge_sdk.provision.steps import Step

NAMES = ("systemctl daemon-reload", "systemctl enable", "systemctl start")
UNIT_NAME = "edge-sdk.service"


def _systemctl_ok(verb: str) -> bool:
    return systemctl_is(verb, UNIT_NAME)


def live_change_only(ctx: Context) -> bool:
    """True when a reload applies everything that changed (see edge_sdk.daemon.reload)."""
    if ctx.previous_config is None or ctx.staged is None or ctx.staged.engine.type != "onnxruntime":
        return False
    if ctx.changed("unit") or any(s.status == "changed" and s.name.startswith(("file ", "secret "))
                                  for s in ctx.report.steps):
        return False
    from edge_sdk.config.app import AppConfig
    from edge_sdk.daemon.reload import LIVE_SECTIONS, changed_sections

    try:
        before = AppConfig.model_validate(yaml.safe_load(ctx.previous_config))
    except Exception:  # an old or hand-edited config that no longer validates: restart
        return False
    after = AppConfig.model_validate(ctx.composed.data if ctx.composed else {})
    return all(section in LIVE_SECTIONS for section in changed_sections(before, after))


def run(ctx: Context) -> None:
    o = ctx.opts
    if o.prefix is not None or o.no_enable:
        why = "--prefix" if o.prefix is not None else "--no-enable"
        ctx.report.add(*[StepResult(n, "skipped", why) for n in NAMES])
        return
    if ctx.changed("unit"):
        ctx.report.add(run_command(NAMES[0], ["systemctl", "daemon-reload"], o.dry_run))
    else:
        ctx.report.add(StepResult(NAMES[0], "unchanged", "the unit did not change"))
    if _systemctl_ok("is-enabled"):
        ctx.report.add(StepResult(NAMES[1], "unchanged", "already enabled"))
    else:
        ctx.report.add(run_command(NAMES[1], ["systemctl", "enable", UNIT_NAME], o.dry_run))
    installed_changed = ctx.changed() and any(
        s.status == "changed" and s.name not in ("smoke run", "provision state") and not s.name.startswith("owner ")
        for s in ctx.report.steps)
    active = _systemctl_ok("is-active")
    if active and not installed_changed:
        ctx.report.add(StepResult(NAMES[2], "unchanged", "already running"))
    elif active and live_change_only(ctx):
        ctx.report.add(run_command(NAMES[2], ["systemctl", "reload", UNIT_NAME], o.dry_run, timeout=600))
    else:
        verb = "restart" if active else "start"
        ctx.report.add(run_command(NAMES[2], ["systemctl", verb, UNIT_NAME], o.dry_run, timeout=600))


STEP = Step("systemd", run, "activate", skipped_names=NAMES)
