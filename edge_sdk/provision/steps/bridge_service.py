"""Bridge service step: the local broker's unit enabled and (re)started before the detection service.

The Debian/Ubuntu package's own `mosquitto.service` would hold port 1883 with the package's config: it is
stopped and disabled (said in the report). Skipped under --prefix and --no-enable, like the systemd step.
"""

from __future__ import annotations

from edge_sdk.provision.actions import StepResult, run_command, systemctl_is
from edge_sdk.provision.context import Context
from edge_sdk.provision.steps import Step

UNIT = "edge-sdk-broker.service"
NAMES = ("broker: stock mosquitto", "broker: enable", "broker: start")


def _ok(verb: str, unit: str) -> bool:
    return systemctl_is(verb, unit)


def run(ctx: Context) -> None:
    o = ctx.opts
    if o.bridge is None:
        return
    if o.prefix is not None or o.no_enable:
        why = "--prefix" if o.prefix is not None else "--no-enable"
        ctx.report.add(*[StepResult(n, "skipped", why) for n in NAMES])
        return
    if ctx.changed("broker unit"):
        ctx.report.add(run_command("broker: daemon-reload", ["systemctl", "daemon-reload"], o.dry_run))
    if _ok("is-enabled", "mosquitto.service") or _ok("is-active", "mosquitto.service"):
        ctx.report.add(run_command(NAMES[0], ["systemctl", "disable", "--now", "mosquitto.service"], o.dry_run))
    else:
        ctx.report.add(StepResult(NAMES[0], "unchanged", "the package's mosquitto.service is not in use"))
    if _ok("is-enabled", UNIT):
        ctx.report.add(StepResult(NAMES[1], "unchanged", "already enabled"))
    else:
        ctx.report.add(run_command(NAMES[1], ["systemctl", "enable", UNIT], o.dry_run))
    changed = ctx.changed("broker unit", "broker config", "broker ca.pem", "broker client.pem", "secret bridge-password",
                          "secret bridge-tls-key")
    if _ok("is-active", UNIT) and not changed:
        ctx.report.add(StepResult(NAMES[2], "unchanged", "already running"))
    else:
        ctx.report.add(run_command(NAMES[2], ["systemctl", "restart", UNIT], o.dry_run))


STEP = Step("bridge_service", run, "activate", skipped_names=NAMES)
