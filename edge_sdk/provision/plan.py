"""`run_provision(opts)`: the whole provisioning run, the steps of `edge_sdk.provision.steps` in order, each
idempotent.

    device profile -> doctor (stop with fixes if a required check fails) -> compose the config (engine from
    the profile) -> broker check -> service user -> the service's environment (/opt/edge-sdk/venv) ->
    directories, files and the unit -> calibration / INT8 / engine build (a failure stops here: nothing is
    enabled) -> smoke run on the installed artifacts (cached by content hash) -> ownership of what was built
    -> systemd daemon-reload/enable/start (reload or restart when running) -> Orin tuning (off by default)

Under `--prefix` everything is written below that directory (paths inside the files stay the runtime
ones), and the service user, environment and systemctl steps are skipped and reported so.
"""

from __future__ import annotations

import os
import time

from edge_sdk.errors import EdgeSdkError
from edge_sdk.provision.actions import StepResult
from edge_sdk.provision.context import Context, ProvisionOptions
from edge_sdk.provision.layout import Layout
from edge_sdk.provision.report import ProvisionReport
from edge_sdk.provision.steps import steps

__all__ = ["ProvisionOptions", "ProvisionReport", "run_provision"]


def run_provision(opts: ProvisionOptions) -> ProvisionReport:
    t0 = time.monotonic()
    report = ProvisionReport(opts.device, str(opts.prefix) if opts.prefix else None, opts.dry_run)
    ctx = Context(opts, report, Layout(opts.prefix))
    for step in steps():
        if step.phase == "activate" and report.failed:
            why = "an earlier step failed: not enabling a broken install"
            report.add(*[StepResult(n, "skipped", why) for n in step.skipped_names])
            continue
        step.run(ctx)
        if step.name == "device" and opts.prefix is None and os.geteuid() != 0 and not opts.dry_run:
            raise EdgeSdkError("installing into / needs root", fix="run with sudo, or use --prefix DIR / --dry-run")
        if ctx.stop:
            break
    report.seconds = time.monotonic() - t0
    return report
