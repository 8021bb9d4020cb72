"""`edge-sdk model check` as a user runs it: what it prints, its JSON, and a refusal in one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_sdk.cli.main import main
from tests.conformance import builders as b
from tests.model.test_prepare import conv_model


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def _cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Result:
        code = main(["model", "check", *args])
        out = capsys.readouterr()
        return Result(code, out.out, out.err)
    return run


def test_check_says_what_it_found_and_where_each_value_came_from(tmp_path: Path, _cli) -> None:  # type: ignore[no-untyped-def]
    from edge_sdk.preprocess import PreprocessSpec

    model = b.yolox(tmp_path / "yolox.onnx", PreprocessSpec((64, 64), channel_order="bgr", scale=1.0, align="top-left"))
    res = _cli(str(model), "--state-dir", str(tmp_path / "state"))
    assert res.returncode == 0, res.stderr
    assert "decoder    yolox" in res.stdout and "YOLOX convention: align, pad_value, channel_order, scale" in res.stdout
    res = _cli(str(model), "--state-dir", str(tmp_path / "state"), "--json")
    report = json.loads(res.stdout)
    assert report["decoder"] == "yolox" and report["preprocess"]["channel_order"] == "bgr"
    assert report["outputs"] == [{"name": "output", "shape": [1, 84, 7]}]


def test_check_refuses_a_dynamic_model_that_states_no_size_in_one_line(tmp_path: Path, _cli) -> None:  # type: ignore[no-untyped-def]
    model = conv_model(tmp_path / "dyn.onnx", ["b", 3, "h", "w"])
    res = _cli(str(model), "--state-dir", str(tmp_path / "state"))
    assert res.returncode != 0 and res.stderr.count("error:") == 1
    assert "dynamic height/width" in res.stderr and "model.preprocess.size" in res.stderr
    fixed = _cli(str(model), "--size", "32", "32", "--decode", "yolov8", "--state-dir", str(tmp_path / "state"))
    assert fixed.returncode == 0 and "fixed      dynamic input ['b', 3, 'h', 'w'] fixed to [1, 3, 32, 32]" in fixed.stdout
