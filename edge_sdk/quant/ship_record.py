"""Add a "what ships" decision (ships.py) to an INT8 build that is already published: for a step that measures
after the build, such as the TensorRT engine build choosing INT8 or FP16 by their timings on the device.

    from edge_sdk.quant import ships
    from edge_sdk.quant.ship_record import record_in_build
    t = time_int8_against_fp16(...)                               # engines/trt/measure.py
    record_in_build(folder, ships.choose_by_speed(ships.TARGET_TRT, "int8", "fp16", t.latency_ms, 1.05, t.measured_on))
"""

from __future__ import annotations

import json
from pathlib import Path

from edge_sdk.atomic import write_json_atomic, write_text_atomic
from edge_sdk.errors import BuildError
from edge_sdk.quant import artifacts as art
from edge_sdk.quant.report import render
from edge_sdk.quant.ships import ShipDecision, record


def record_in_build(folder: Path, decision: ShipDecision) -> None:
    """Add `decision` to the published build in `folder`: report.json, report.txt and the manifest, each written
    atomically, the manifest last with the new files' sha256 (so the build keeps verifying)."""
    manifest = art.read_manifest(folder)
    if manifest is None:
        raise BuildError("there is no published INT8 build to record the decision in", where=str(folder),
                         fix=art.BUILD_HINT)
    report = json.loads((folder / art.REPORT_JSON).read_text(encoding="utf-8"))
    record(report, decision)
    write_json_atomic(folder / art.REPORT_JSON, report)
    write_text_atomic(folder / art.REPORT_TXT, render(report) + "\n")
    files = dict(manifest.get("files", {}))
    for role, name in (("report_json", art.REPORT_JSON), ("report_txt", art.REPORT_TXT)):
        if role in files:
            files[role] = art.file_entry(folder / name)
    record(manifest, decision)
    write_json_atomic(folder / art.MANIFEST, {**manifest, "files": files})
