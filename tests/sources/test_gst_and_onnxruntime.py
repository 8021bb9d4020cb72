"""GStreamer loaded through PyGObject must not break C++ exceptions of libraries loaded after it: libgstreamer
pulls libunwind into the global scope, and ONNX Runtime's first error then aborted the process (SIGABRT) instead
of raising. A real process: GStreamer probed first, then a graph ONNX Runtime refuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import numpy as np, onnx
from onnx import helper, TensorProto
from edge_sdk.sources.gst_support import gi_info
assert gi_info()["available"], gi_info()
# Reshape to a fixed 2x3: ONNX Runtime throws (a C++ exception) for any input that is not 6 elements
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
shape = helper.make_tensor("s", TensorProto.INT64, [2], [2, 3])
graph = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"])], "g", [x], [y], [shape])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
from edge_sdk.model.verify import run_graph
assert run_graph(model, np.ones((2, 3), np.float32))[0].shape == (2, 3)
try:
    run_graph(model, np.ones((4, 3), np.float32))
except Exception as exc:
    print("raised:", type(exc).__name__)
"""


def test_an_onnxruntime_error_after_gstreamer_loaded_raises_instead_of_aborting() -> None:
    from edge_sdk.sources.gst_support import gi_info

    if not gi_info()["available"]:
        pytest.skip("PyGObject with Gst 1.0 is not installed")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "raised: " in proc.stdout, proc.stdout
