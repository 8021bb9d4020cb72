"""The build report: one JSON-able dict, and its text table.

Keys: decision, method, frames used, the accuracy budget and the gate's rule (which classes decide), FP32 and
INT8 (each form) accuracy against the FP32 reference with SQNR, latency, per-class AP, precision/recall/F1 at
the run-time threshold and the score shift, layers kept in float and why, the repair attempts and why repair
stopped, the sensitivity ranking, the preflight's fixes, the CPU (instruction set, weight format), what ships
on each target and why (ships.py), speed, time per phase, artifacts, library versions.
"""

from __future__ import annotations

from typing import Any

from edge_sdk.bench.table import format_table
from edge_sdk.quant.ships import render as ships_lines

PASS = "pass"
PASS_REPAIRED = "pass after repair"
FAIL = "fail"
ACCEPTED = "accepted over budget"
FORM_LABELS = {"trt": "TensorRT form", "ort": "CPU form"}


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    if v is None:
        return "-"
    return fmt.format(v) if isinstance(v, (int, float)) else str(v)


def _sqnr(score: dict[str, Any]) -> str:
    values = score.get("sqnr_db") or {}
    if not values:
        return "-"
    return ", ".join(f"{k} {_num(v, '{:.1f}') if v is not None else 'inf'}" for k, v in values.items())


def _drop(score: dict[str, Any]) -> str:
    interval = score.get("drop_interval90")
    text = _num(score.get("drop"))
    return f"{text} ({interval[0]:.2f} to {interval[1]:.2f})" if interval else text


def render(report: dict[str, Any]) -> str:
    """The report as text: headline, frames, the accuracy/speed table, float layers, repair attempts."""
    lines = [f"INT8 build: {report['decision'].upper()} - {report.get('decision_detail', '')}".rstrip(" -")]
    if report.get("reused"):
        lines.append("(reused: model, calibration set, settings and library versions unchanged)")
    fr = report.get("frames", {})
    m = report.get("method", {})
    extra = f" {m['percentile']}" if "percentile" in m else ""
    lines.append(f"method {m.get('method')}{extra}; {fr.get('calibration')} calibration frames, {fr.get('holdout')} held-out "
                 f"frames ({fr.get('holdout_from')}); {fr.get('skipped', 0)} files skipped, {fr.get('duplicates', 0)} duplicates")
    ref = report.get("reference", {})
    lines.append(f"reference: {ref.get('objects')} objects found by FP32 at conf {ref.get('conf_thres')} on the held-out "
                 f"frames; budget: at most {report['budget']['max_map50_95_drop']} mAP50-95 points lost")
    if ref.get("gate_rule"):
        lines.append(f"the gate decides on: {ref['gate_rule']}")
    for change in report.get("preflight", {}).get("changes", []):
        lines.append(f"preflight: {change}")
    cpu = report.get("cpu") or {}
    if cpu:
        lines.append(f"CPU: {cpu.get('model')} ({cpu.get('isa')}); CPU form weights: {cpu.get('format') or '-'}")
    fp32, speed = report.get("fp32", {}), report.get("speed", {})
    rows = [["FP32 (reference)", "-", _num(fp32.get("map50_95")), _num(fp32.get("map50")), "-", "-",
             _num(speed.get("fp32_ms", fp32.get("latency_ms"))), "-"]]
    for form, score in report.get("int8", {}).items():
        layers = f"{score.get('int8_layers')}/{score.get('eligible_layers')}"
        rows.append([f"INT8 {FORM_LABELS.get(form, form)}", layers, _num(score.get("map50_95")), _num(score.get("map50")),
                     _drop(score), _sqnr(score), _num(speed.get(f"int8_{form}_ms", score.get("latency_ms"))),
                     _num(speed.get(f"speedup_{form}"), "{:.2f}x")])
    lines += ["", format_table(["model (vs FP32 detections)", "INT8 layers", "mAP50-95", "mAP50", "drop (90% interval)",
                                "SQNR dB", "latency ms", "speedup"], rows)]
    if speed.get("note"):
        lines.append(speed["note"])
    lines += _agreement(report) + ships_lines(report) + _timing(report)
    for warning in report.get("warnings", []):
        lines.append(f"warning: {warning}")
    fl = report.get("layers_in_float", {})
    floats = [(name, why.replace("_", " ")) for why in ("config", "decode_tail") for name in fl.get(why, [])]
    floats += [(name, f"placement: its own INT8 output at {db:.1f} dB SQNR") for name, db in (fl.get("low_sqnr") or {}).items()]
    for form, score in report.get("int8", {}).items():
        floats += [(name, f"repair, {FORM_LABELS.get(form, form)}") for name in score.get("layers_in_float", [])]
    if floats:
        lines += ["", "layers kept in float:"] + [f"  {name} ({why})" for name, why in floats]
    for form, score in report.get("int8", {}).items():
        attempts = score.get("attempts", [])
        if len(attempts) > 1 or (attempts and not attempts[0].get("passed")):
            lines += ["", f"{FORM_LABELS.get(form, form)}: attempts"]
            lines.append(format_table(["attempt", "layers in float", "mAP50-95", "drop", "within budget"],
                                      [[i, len(a["float_layers"]), _num(a.get("map50_95")), _num(a.get("drop")),
                                        "yes" if a["passed"] else "no"] for i, a in enumerate(attempts)]))
        if score.get("repair_stopped"):
            lines.append(f"{FORM_LABELS.get(form, form)}: search stopped: {score['repair_stopped']}")
        sens = score.get("sensitivity", [])
        if sens:
            lines.append(f"most quantization-sensitive layers, {FORM_LABELS.get(form, form)} (output SQNR with only that "
                         "layer in INT8, on calibration frames):")
            lines += [f"  {x['sqnr_db']:7.2f} dB  {x['layer']}" for x in sens[:10]]
    return "\n".join(lines)


def _agreement(report: dict[str, Any]) -> list[str]:
    """Per form: precision/recall/F1 at the run-time threshold, the score shift, and the per-class table."""
    lines: list[str] = []
    for form, score in report.get("int8", {}).items():
        label = FORM_LABELS.get(form, form)
        if "precision" in score:
            shift = score.get("score_shift") or {}
            lines.append(f"{label} at conf {shift.get('conf_thres')}: precision {score['precision']:.3f}, recall "
                         f"{score['recall']:.3f}, F1 {score['f1']:.3f} against FP32's objects; score shift vs FP32 median "
                         f"{_num(shift.get('median'), '{:+.3f}')} (10%..90%: {_num(shift.get('p10'), '{:+.3f}')} .. "
                         f"{_num(shift.get('p90'), '{:+.3f}')}), {shift.get('below_conf_thres', 0)} objects scored under "
                         "the threshold")
        rows = score.get("per_class") or []
        if len(rows) > 1:
            lines.append(format_table([f"class ({label})", "objects", "FP32 AP50-95", "INT8 AP50-95", "drop", "decides"],
                                      [[r["class"], r["objects"], _num(r["fp32_ap50_95"]), _num(r["ap50_95"]),
                                        _num(r["drop"]), "yes" if r["decides"] else "no"] for r in rows]))
    return ["", *lines] if lines else []


def _timing(report: dict[str, Any]) -> list[str]:
    timing = report.get("timing") or {}
    phases = timing.get("phases") or {}
    if not phases:
        return []
    parts = ", ".join(f"{k} {v['wall_s']:.1f} s ({v['cpu_s']:.1f} CPU-s)" for k, v in phases.items())
    return ["", f"build time {timing.get('wall_s', 0):.1f} s, {timing.get('cpu_s', 0):.1f} CPU-s: {parts}"]
