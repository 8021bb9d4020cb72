"""Service user step: the `edge-sdk` system user (no shell, no home of its own), in the video and render
groups where they exist (cameras, Tegra and DRM device nodes)."""

from __future__ import annotations

import grp

from edge_sdk.provision.actions import Owner, StepResult, run_command
from edge_sdk.provision.context import SERVICE_GROUPS, SERVICE_USER, Context
from edge_sdk.provision.layout import STATE
from edge_sdk.provision.steps import Step


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def run(ctx: Context) -> None:
    if ctx.opts.prefix is not None:
        ctx.report.add(StepResult("service user", "skipped", f"--prefix: create `{SERVICE_USER}` on the device "
                                                             "(useradd --system)"))
        return
    if Owner(SERVICE_USER, SERVICE_USER).ids() is not None:
        ctx.report.add(StepResult("service user", "unchanged", f"{SERVICE_USER} exists"))
        return
    groups = ",".join(g for g in SERVICE_GROUPS if group_exists(g))
    argv = ["useradd", "--system", "--user-group", "--home-dir", str(STATE), "--no-create-home",
            "--shell", "/usr/sbin/nologin"] + (["--groups", groups] if groups else []) + [SERVICE_USER]
    ctx.report.add(run_command("service user", argv, ctx.opts.dry_run))


STEP = Step("user", run, "install")
