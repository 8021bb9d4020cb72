"""The build report: one JSON-able dict, and its text table.

Keys: decision, method, frames used, the accuracy budget, FP32 and INT8 (each form) accuracy against the
FP32 reference with SQNR and latency, layers kept in float and why, the repair attempts, the sensitivity
ranking, speed, artifacts, library versions.
"""

from __future__ import annotations

from typing import Any

from edge_sdk.bench.table import format_table

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
    for warning in report.get("warnings", []):
        lines.append(f"warning: {warning}")
    fl = report.get("layers_in_float", {})
    floats = [(name, why.replace("_", " ")) for why in ("config", "decode_tail") for name in fl.get(why, [])]
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
        sens = score.get("sensitivity", [])
        if sens:
            lines.append(f"most quantization-sensitive layers, {FORM_LABELS.get(form, form)} (output SQNR with only that "
                         "layer in INT8, on calibration frames):")
            lines += [f"  {x['sqnr_db']:7.2f} dB  {x['layer']}" for x in sens[:10]]
    return "\n".join(lines)
