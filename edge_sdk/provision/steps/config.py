"""Config step: compose the config to install (the user's config or a minimal one, the command line's
overrides, the profile's engine, paths rewritten to the installed layout, secrets taken out) and decide the
precision: --precision, else the config's `model.precision` when the file sets it, else the profile's
default (int8 on Orin, fp32 on cpu)."""

from __future__ import annotations

from edge_sdk.provision.actions import StepResult
from edge_sdk.provision.compose import compose, staged_config
from edge_sdk.provision.context import Context
from edge_sdk.provision.steps import Step
from edge_sdk.sources.uri import parse_uri


def _precision(ctx: Context, configured: str | None) -> tuple[str, str]:
    from edge_sdk.device.profiles import load_profile

    if ctx.opts.precision:
        return ctx.opts.precision, "--precision"
    if configured:
        return configured, "the config's model.precision"
    return load_profile(ctx.profile).default_precision, f"the {ctx.profile} profile's default"


def run(ctx: Context) -> None:
    o = ctx.opts
    composed = compose(ctx.layout, device=ctx.profile, config=o.config, model=o.model, source=o.source,
                       broker=o.broker, engine=o.engine)
    model = composed.data.setdefault("model", {})
    ctx.precision, why = _precision(ctx, model.get("precision"))
    model["precision"] = ctx.precision  # the service runs what provision built
    ctx.composed = composed
    ctx.staged = staged_config(composed, ctx.layout)
    ctx.report.wanted = f"{composed.engine} {ctx.precision}"
    csi = [s.name for s in ctx.staged.sources if parse_uri(s.uri).scheme == "csi"]
    ctx.unit.csi = bool(csi)
    engine_why = "--engine" if o.engine else f"the {ctx.profile} profile's"
    ctx.report.add(StepResult("compose", "ok", f"engine {composed.engine} ({engine_why}), precision {ctx.precision} "
                                               f"({why}); cameras: {', '.join(s.name for s in ctx.staged.sources)}"
                                               + (f" (CSI: {', '.join(csi)})" if csi else "")))


STEP = Step("config", run, "prepare")
