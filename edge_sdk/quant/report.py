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


def _num(v: Any, fmt: str = "{:.2f}") -> str:
    if v is None:
        return "-"
    return fmt.format(v) if isinstance(v, (int, float)) else str(v)


def _sqnr(score: dict[str, Any]) -> str:
    values = score.get("sqnr_db") or {}
    if not values:
        return "-"
    return ", ".join(f"{k} {_num(v, '{:.1f}') if v is not None else 'inf'}" for k, v in values.items())


def render(report: dict[str, Any]) -> str:
    """The report as text: headline, frames, the accuracy/speed table, float layers, attempts."""
    lines = [f"INT8 build: {report['decision'].upper()} - {report.get('decision_detail', '')}".rstrip(" -")]
    fr = report.get("frames", {})
    m = report.get("method", {})
    extra = f" ({m['percentile']})" if "percentile" in m else ""
    lines.append(f"method {m.get('method')}{extra}; {fr.get('calibration')} calibration frames, {fr.get('holdout')} held-out "
                 f"frames ({fr.get('holdout_from')}); {fr.get('skipped', 0)} files skipped, {fr.get('duplicates', 0)} duplicates")
    ref = report.get("reference", {})
    lines.append(f"reference: {ref.get('objects')} objects found by FP32 at conf {ref.get('conf_thres')} on the held-out "
                 f"frames; budget: at most {report['budget']['max_map50_95_drop']} mAP50-95 points lost")
    rows = []
    fp32 = report.get("fp32", {})
    speed = report.get("speed", {})
    rows.append(["FP32 (reference)", _num(fp32.get("map50_95")), _num(fp32.get("map50")), "-", "-",
                 _num(speed.get("fp32_ms", fp32.get("latency_ms")))])
    for form, score in report.get("int8", {}).items():
        label = {"trt": "INT8 TensorRT form", "ort": "INT8 CPU form"}.get(form, f"INT8 {form}")
        rows.append([label, _num(score.get("map50_95")), _num(score.get("map50")), _num(score.get("drop")),
                     _sqnr(score), _num(speed.get(f"int8_{form}_ms", score.get("latency_ms")))])
    lines.append("")
    lines.append(format_table(["model (vs FP32 detections)", "mAP50-95", "mAP50", "drop", "SQNR dB", "latency ms"], rows))
    if speed.get("note"):
        lines.append(speed["note"])
    fl = report.get("layers_in_float", {})
    lines.append("")
    lines.append(f"layers kept in float: repair {len(fl.get('repair', []))}, config {len(fl.get('config', []))}, "
                 f"decode tail {len(fl.get('decode_tail', []))}")
    for why in ("repair", "config", "decode_tail"):
        for name in fl.get(why, []):
            lines.append(f"  {name} ({why.replace('_', ' ')})")
    attempts = report.get("attempts", [])
    if len(attempts) > 1 or (attempts and not attempts[0].get("passed")):
        lines.append("")
        arows = [[i, len(a["float_layers"]), _num(a.get("trt_drop")), _num(a.get("ort_drop")), "yes" if a["passed"] else "no"]
                 for i, a in enumerate(attempts)]
        lines.append(format_table(["attempt", "layers in float", "drop TRT form", "drop CPU form", "within budget"], arows))
    sens = report.get("sensitivity", [])
    if sens:
        lines.append("")
        lines.append("most quantization-sensitive layers (output SQNR with only that layer in INT8):")
        lines += [f"  {s['sqnr_db']:7.2f} dB  {s['layer']}" for s in sens[:10]]
    return "\n".join(lines)
