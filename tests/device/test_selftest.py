"""`edge-sdk selftest`: the CPU steps run for real here (ONNX Runtime, OpenCV, a real video file); TensorRT is
absent, so its steps are SKIP (FAIL on a Jetson root). The orchestration of the TensorRT steps (build, run,
compare, cache reuse, DLA, INT8) is exercised with the `fake_tensorrt`/`fake_pycuda` STAND-INS, whose "engine"
runs the ONNX model with ONNX Runtime: that tests selftest's logic, not TensorRT."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from edge_sdk.cli.main import main
from edge_sdk.device.selftest import SelftestInput, Step, run_selftest
from tests.cuda.standin import emulate_letterbox_launches
from tests.device.jetson_files import make_root
from tests.trt.fake_pycuda import make_fake_pycuda
from tests.trt.fake_tensorrt import FakeState, make_fake_tensorrt
from tests.trt.models import calibration_cache, tiny_detector

TRT_STEPS = ["build fp16 engine", "run fp16 engine vs onnxruntime", "engine key", "engine cache reuse",
             "build fp16 engine on DLA 0", "run DLA 0 engine vs onnxruntime", "build int8 engine",
             "run int8 engine vs onnxruntime", "int8 vs fp16"]


@pytest.fixture(autouse=True)
def no_host_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Jetson is a copy of its files: the CUDA libraries of the machine running the tests must not leak in."""
    from edge_sdk.cuda import versions

    monkeypatch.setattr(versions, "runtime_version", lambda: None)
    monkeypatch.setattr(versions, "driver_version", lambda: None)


def video(path: Path, n: int = 12) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 64))
    rng = np.random.default_rng(3)
    for _ in range(n):
        writer.write(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8))
    writer.release()
    return path


def results(steps: list[Step]) -> dict[str, str]:
    return {s.name: s.result for s in steps}


@pytest.fixture()
def inputs(tmp_path: Path) -> SelftestInput:
    return SelftestInput(model=tiny_detector(tmp_path / "tiny.onnx", hw=(64, 64)), video=video(tmp_path / "v.mp4"),
                         work_dir=tmp_path / "work", frames=4, root=tmp_path / "plain")


def test_cpu_steps_pass_and_tensorrt_is_reported_absent(inputs: SelftestInput) -> None:
    steps = run_selftest(inputs)
    res = results(steps)
    assert [res[n] for n in ("device", "demo model", "sample frames", "onnxruntime fp32")] == ["PASS"] * 4
    assert res["tensorrt"] == "SKIP" and all(res[n] == "SKIP" for n in TRT_STEPS)
    trt = next(s for s in steps if s.name == "tensorrt")
    assert "python3-libnvinfer" in trt.detail and "pip install tensorrt" in trt.detail
    ref = next(s for s in steps if s.name == "onnxruntime fp32")
    assert ref.data["shapes"] == [[1, 6, 256]] and ref.data["decoder"] == "yolov8" and len(ref.data["detections"]) == 4
    device = next(s for s in steps if s.name == "device")
    assert {"onnxruntime", "opencv", "python", "profile", "l4t"} <= set(device.data)


def test_on_a_jetson_absent_tensorrt_is_a_failure(inputs: SelftestInput, tmp_path: Path) -> None:
    inputs.root = make_root(tmp_path / "jetson")
    res = results(run_selftest(inputs))
    assert res["device"] == "PASS" and res["tensorrt"] == "FAIL"


def test_missing_model_fails_with_the_fix_and_skips_what_needs_it(inputs: SelftestInput, tmp_path: Path) -> None:
    inputs.model = tmp_path / "models/demo/yolo-demo.onnx"
    steps = run_selftest(inputs)
    res = results(steps)
    assert res["demo model"] == "FAIL" and res["sample frames"] == "SKIP" and res["onnxruntime fp32"] == "SKIP"
    assert "--model" in next(s for s in steps if s.name == "demo model").detail


def test_cli_writes_a_json_report_and_exits_0_without_failures(inputs: SelftestInput, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    code = main(["selftest", "--model", str(inputs.model), "--video", str(inputs.video), "--frames", "3",
                 "--work-dir", str(inputs.work_dir), "--root", str(inputs.root), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "PASS  onnxruntime fp32" in printed and "SKIP  tensorrt" in printed
    report = json.loads(out.read_text())
    assert report["ok"] is True and [s["name"] for s in report["steps"]][:5] == [
        "device", "demo model", "sample frames", "onnxruntime fp32", "tensorrt"]
    assert main(["selftest", "--model", str(tmp_path / "none.onnx"), "--video", str(inputs.video), "--json",
                 "--root", str(inputs.root)]) == 1


def stand_in_engine(cuda: Any, model: Path, perturb: float = 0.0) -> Any:
    """on_execute for fake_tensorrt: the "engine" runs `model` with ONNX Runtime on the bytes at the input address."""
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])

    def run(addresses: dict[str, int], stream: int) -> None:
        x = cuda.memory.view(addresses["images"]).view(np.float32).reshape(1, 3, 64, 64)
        out = session.run(None, {"images": x})[0]
        cuda.memory.view(addresses["output0"]).view(np.float32)[:] = out.ravel() + perturb

    return run


@pytest.mark.parametrize("path", ["8.6", "10.3", "10.16", "11"])
def test_tensorrt_steps_orchestration_with_stand_ins(path: str, inputs: SelftestInput, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Selftest's logic with the stand-ins on an AGX root: every TensorRT step runs and passes."""
    cuda = make_fake_pycuda()
    emulate_letterbox_launches(cuda)  # the stand-in GPU's preprocess kernel computes (kernel_reference)
    fake, rec = make_fake_tensorrt(path, FakeState(num_dla_cores=2, on_execute=stand_in_engine(cuda, inputs.model)))
    for name, module in (("tensorrt", fake), ("pycuda", cuda.package), ("pycuda.driver", cuda)):
        monkeypatch.setitem(sys.modules, name, module)
    inputs.root = make_root(tmp_path / "jetson")
    (inputs.root / "usr/local/cuda").mkdir(parents=True)
    (inputs.root / "usr/local/cuda/version.json").write_text('{"cuda": {"version": "12.6.68"}}')
    inputs.qdq_model = tiny_detector(tmp_path / "tiny.qdq.onnx", hw=(64, 64), qdq=True)
    inputs.calib_cache = calibration_cache(tmp_path / "tiny.cache")
    steps = run_selftest(inputs)
    res = results(steps)
    dla_steps = {n for n in TRT_STEPS if "DLA" in n}
    assert all(res[n] == "PASS" for n in TRT_STEPS if n not in dla_steps), [(s.name, s.result, s.detail) for s in steps]
    run_step = next(s for s in steps if s.name == "run fp16 engine vs onnxruntime")
    assert run_step.data["comparison"]["ok"] is True and "tolerance fp16" in run_step.detail
    assert res["versions"] == "PASS" and res["GPU kernels"] == "PASS", [(s.name, s.detail, s.data) for s in steps
                                                                        if s.name in ("versions", "GPU kernels")]
    kernels = next(s for s in steps if s.name == "GPU kernels")
    assert kernels.data["ways"]["prebuilt"]["equals_reference"] is True and "sm_87 SASS" in kernels.detail
    key = next(s for s in steps if s.name == "engine key")
    assert key.data["key"]["tensorrt_version"] == fake.__version__ and len(str(key.data["digest"])) == 16
    choice = next(s for s in steps if s.name == "int8 vs fp16")  # the stand-in's events time both at 1 ms
    assert choice.data["chosen"] == "fp16" and "below the 1.10x required: FP16 would ship" in choice.detail
    if path == "10.16":  # JetPack 7.2: no DLA on Orin, said so, not tried
        skipped = [s for s in steps if s.name in dla_steps]
        assert all(s.result == "SKIP" and "no DLA on Orin" in s.detail for s in skipped) and len(skipped) == 2
    else:
        assert all(res[n] == "PASS" for n in dla_steps)
        assert next(s for s in steps if s.name == "run DLA 0 engine vs onnxruntime").data["info"]["device"] == "dla:0"
    assert not rec.missing


def test_engine_outputs_beyond_tolerance_fail_the_run_step(inputs: SelftestInput, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = make_fake_pycuda()
    fake, _ = make_fake_tensorrt("10", FakeState(on_execute=stand_in_engine(cuda, inputs.model, perturb=3.0)))
    for name, module in (("tensorrt", fake), ("pycuda", cuda.package), ("pycuda.driver", cuda)):
        monkeypatch.setitem(sys.modules, name, module)
    steps = run_selftest(inputs)
    failed = next(s for s in steps if s.name == "run fp16 engine vs onnxruntime")
    assert failed.result == "FAIL" and "beyond tolerance" in failed.detail and failed.data["comparison"]["ok"] is False
    assert results(steps)["engine cache reuse"] == "PASS"
