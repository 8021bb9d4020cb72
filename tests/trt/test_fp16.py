"""FP16 conversion for the TensorRT 11.x path, checked on the CPU with the real ONNX Runtime: the converted
model loads, its I/O types are unchanged, its weights are float16 and its outputs stay close to FP32."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edge_sdk.decode.base import DecodeParams
from edge_sdk.decode.yolov8 import decode_yolov8
from edge_sdk.device.compare import FP16, INT8, compare
from edge_sdk.engines.trt.fp16 import convert_to_fp16
from edge_sdk.errors import BuildError
from tests.trt.models import tiny_detector


def run(path: Path, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, {"images": x})]


def io_types(path: Path) -> tuple[list[int], list[int]]:
    g = onnx.load(str(path)).graph
    return [i.type.tensor_type.elem_type for i in g.input], [o.type.tensor_type.elem_type for o in g.output]


@pytest.mark.parametrize(("opset", "qdq"), [(17, False), (17, True), (19, True)])
def test_converted_model_keeps_io_types_and_stays_close(opset: int, qdq: bool, tmp_path: Path) -> None:
    src = tiny_detector(tmp_path / "m.onnx", opset=opset, qdq=qdq, hw=(64, 64))
    result = convert_to_fp16(src, tmp_path / "m.fp16.onnx")
    assert io_types(result.path) == io_types(src) == ([onnx.TensorProto.FLOAT], [onnx.TensorProto.FLOAT])
    weights = {t.name: t.data_type for t in onnx.load(str(result.path)).graph.initializer}
    assert weights["B"] == onnx.TensorProto.FLOAT16
    if qdq and opset < 19:  # float16 Q/DQ scales need opset 19: scales stay float32
        assert result.blocked_ops == ("QuantizeLinear", "DequantizeLinear") and weights["s_in"] == onnx.TensorProto.FLOAT
    else:
        assert result.blocked_ops == ()
    rng = np.random.default_rng(1)
    frames = [rng.random((1, 3, 64, 64), dtype=np.float32) for _ in range(4)]
    ref = [run(src, x) for x in frames]
    got = [run(result.path, x) for x in frames]
    assert all(g[0].dtype == np.float32 for g in got)
    # float16 Q/DQ scales (opset 19) move INT8 rounding: that model is held to the INT8 tolerance.
    tol = INT8 if qdq and opset >= 19 else FP16
    cmp = compare(ref, got, decode_yolov8, DecodeParams(conf_thres=0.5), tol)
    assert cmp.ok, cmp.describe()
    assert cmp.ref_detections > 0
    diff = max(float(np.abs(g[0] - r[0]).max()) for g, r in zip(got, ref))
    assert 0 < diff < 0.5  # really converted (not bit-identical), and close (boxes are in pixels of 64)


def test_onnxruntime_converter_is_used_without_onnxconverter_common(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxconverter_common", None)
    src = tiny_detector(tmp_path / "m.onnx")
    result = convert_to_fp16(src, tmp_path / "m.fp16.onnx")
    assert result.converter.startswith("onnxruntime ")
    x = np.full((1, 3, 32, 32), 0.25, np.float32)
    np.testing.assert_allclose(run(result.path, x)[0], run(src, x)[0], rtol=0.02, atol=0.05)


def test_unreadable_model_is_a_build_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(BuildError, match="cannot read the ONNX model"):
        convert_to_fp16(bad, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
