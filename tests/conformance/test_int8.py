"""Conformance over detector families, INT8 side (#26, requirement 7): every family graph of builders.py goes
through `edge-sdk build` (preflight, calibration with the family's preprocessing, both Q/DQ forms, the gate
against FP32 on held-out frames) and either builds or is refused with one clear line that says why and what to do;
none crashes. The graphs are synthetic (a bright cell gives a box), so the gate's budget is loose: this checks
that each family gets through the INT8 machinery, not its accuracy (tools/bench_int8_models.py measures that on
trained models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from edge_sdk.config import load_config
from edge_sdk.errors import EdgeSdkError
from edge_sdk.preprocess import PreprocessSpec
from edge_sdk.quant import build_int8
from tests.conformance.test_families import CASES, CELL
from tests.support.run_model import write_frames

#: Families INT8 refuses, with the reason it must give (none today: all twelve build).
REFUSED: dict[str, str] = {}


def _bright_frames(spec: PreprocessSpec, folder: Path, count: int = 16) -> Path:
    """`count` 128x96 frames, each with a white patch over a different stride-8 cell of the input (and the rest
    black), so FP32 finds one object in each."""
    place = spec.placement(128, 96)
    frames = []
    for i in range(count):
        dx, dy = 8 * (i % 4 - 1), 8 * (i // 4 - 1)
        x1, y1, x2, y2 = (int(round(v)) for v in place.to_original(CELL + np.array([dx, dy, dx, dy]))[0])
        frame = np.zeros((96, 128, 3), np.uint8)
        frame[max(0, y1):y2, max(0, x1):x2] = 255
        frames.append(frame)
    return write_frames(folder, frames)


@pytest.mark.parametrize("name", list(CASES))
def test_family_builds_int8_or_is_refused_with_a_reason(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    model = case.build(tmp_path / f"{name}.onnx", case.spec)
    if case.sidecar:
        (tmp_path / "infer_cfg.yml").write_text(case.sidecar)
    frames = _bright_frames(case.spec, tmp_path / "frames")
    app = {"device": "cpu", "state_dir": str(tmp_path / "state"),
           "model": {"path": str(model), **(yaml.safe_load(case.model_yaml) or {} if case.model_yaml else {})},
           "sources": [{"name": "cam0", "uri": f"file://{frames}"}], "mqtt": {"enabled": False},
           "calibration": {"dir": str(frames), "min_frames": 12, "min_holdout_frames": 4},
           "build": {"method": "minmax", "max_map_drop": 100, "repair": False, "gate_bootstrap": 0, "speed_runs": 2,
                     "cpu_min_speedup": 0}}
    (tmp_path / "app.yaml").write_text(yaml.safe_dump(app, sort_keys=False))
    cfg = load_config(tmp_path / "app.yaml")
    if name in REFUSED:
        with pytest.raises(EdgeSdkError, match=REFUSED[name]) as err:
            build_int8(cfg, progress=False)
        assert err.value.fix, "a refusal says what to do"
        return
    report = build_int8(cfg, progress=False).report
    assert report["decision"] == "pass", report["decision_detail"]
    assert report["reference"]["objects"] >= 4  # FP32 found the patches on the held-out frames
    assert set(report["int8"]) == {"trt", "ort"} and report["int8"]["trt"]["int8_layers"] >= 1
