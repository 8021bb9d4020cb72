"""Reading layer precisions from TensorRT's engine inspector JSON (the format as TensorRT prints it; no TensorRT
runs here)."""

from __future__ import annotations

import json

import pytest

from edge_sdk.engines.trt.layers import check_precision, datatype_of, parse_engine_information
from edge_sdk.errors import BuildError


def layer(name: str, kind: str, inp: str, out: str) -> dict[str, object]:
    return {"Name": name, "LayerType": kind, "Inputs": [{"Name": "x", "Dimensions": [1, 3, 640, 640],
                                                        "Format/Datatype": inp}],
            "Outputs": [{"Name": "y", "Dimensions": [1, 16, 320, 320], "Format/Datatype": out}],
            "TacticValue": "0x0"}


@pytest.mark.parametrize(("text", "label"), [("Row major linear FP32 format", "FP32"), ("Row major linear FP32", "FP32"),
                                             ("Channel major FP16 format where channel % 8 == 0", "FP16"),
                                             ("Thirty-two wide channel vectorized row major Int8 format", "INT8"),
                                             ("Row major linear Half format", "FP16"), ("Row major Int32 format", "INT32"),
                                             ("something new", "?")])
def test_datatype_words(text: str, label: str) -> None:
    assert datatype_of(text) == label


def test_a_mixed_int8_engine_is_counted_per_precision() -> None:
    info = json.dumps({"Layers": [
        layer("Reformatting CopyNode for Input Tensor 0", "Reformat", "Row major linear FP32 format",
              "Channel major FP16 format where channel % 8 == 0"),
        layer("/model.0/conv/Conv + /model.0/act/Mul", "CaskConvolution",
              "Thirty-two wide channel vectorized row major Int8 format", "Channel major FP16 format where channel % 8 == 0"),
        layer("/model.22/dfl/conv/Conv", "CaskConvolution", "Row major linear FP32 format", "Row major linear FP32 format"),
    ], "Bindings": ["images", "output0"]})
    report = parse_engine_information(info)
    assert report.counts == {"FP16": 1, "INT8": 1, "FP32": 1}
    assert report.in_precision("FP32") == ["/model.22/dfl/conv/Conv"]
    assert report.describe("int8") == "3 layers: 1 INT8, 1 FP16, 1 FP32; in FP32: /model.22/dfl/conv/Conv"
    assert report.as_dict()["layers"][1] == {"name": "/model.0/conv/Conv + /model.0/act/Mul", "type": "CaskConvolution",
                                             "precision": "INT8"}
    with pytest.raises(BuildError, match="precision fp16 was asked for"):
        check_precision(report, "fp16", "m.onnx")
    check_precision(report, "int8", "m.onnx")


def test_names_only_information_says_precision_is_unknown() -> None:
    report = parse_engine_information(json.dumps({"Layers": ["a", "b"], "Bindings": []}))
    assert not report.detailed and "precision unknown" in report.describe("fp16")
    check_precision(report, "fp32", "m.onnx")  # nothing to check: no refusal
    with pytest.raises(ValueError, match="Layers"):
        parse_engine_information("{}")
