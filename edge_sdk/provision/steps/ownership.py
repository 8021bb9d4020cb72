"""Ownership step: what provision made as root below the state directory (the INT8 build, calibration frames,
TensorRT engines built by the smoke run) is given to the service user, which must be able to rebuild them.
The files the files step installs (models, media: root-owned, group-readable) are left as they are."""

from __future__ import annotations

from edge_sdk.provision.actions import Owner, StepResult, own_tree
from edge_sdk.provision.context import SERVICE_USER, Context
from edge_sdk.provision.layout import STATE
from edge_sdk.provision.steps import Step


def run(ctx: Context) -> None:
    if ctx.opts.prefix is not None:
        ctx.report.add(StepResult("ownership", "skipped", f"--prefix: files keep this user; the device's "
                                                          f"{SERVICE_USER} user does not exist here"))
        return
    service = Owner(SERVICE_USER, SERVICE_USER)
    managed = {ctx.layout.staged(p) for p in (ctx.composed.files if ctx.composed else {})}
    state = ctx.layout.staged(STATE)
    for sub in sorted(p for p in state.iterdir() if p.is_dir()) if state.is_dir() else []:
        ctx.report.add(own_tree(f"owner {sub.name}", sub, service, ctx.opts.dry_run, keep=managed))


STEP = Step("ownership", run, "activate", skipped_names=("ownership",))
