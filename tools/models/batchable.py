"""A copy of a static Ultralytics-style export that takes a batch: for batching tests and benchmarks.

    python -m tools.models.batchable models/demo/yolo-demo.onnx /tmp/yolo-demo-batch.onnx

The demo model was exported with a fixed batch of 1, and the exporter baked that 1 into its Reshape shapes
([1, 70, -1], [1, 4, 16, 8400], ...), so edge-sdk keeps it at one frame per inference (edge_sdk/model/prepare.py
says so). This copy names the batch dimension of the input and outputs "batch" and makes every Reshape copy the
leading dimension of its input (shape [0, ...]: ONNX's "keep this dimension") where it said 1. The weights and
every other node are untouched, so each image's outputs are the original model's (the tests check it).
Only for models whose Reshapes keep the batch leading; nothing is committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np


def batchable(src: Path, dst: Path) -> Path:
    """Write the batch-taking copy of `src` to `dst` (see the module docstring)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    del graph.value_info[:]
    shapes = {n.input[1] for n in graph.node if n.op_type == "Reshape" and len(n.input) > 1}
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] in shapes:
            for attr in node.attribute:
                if attr.name == "value":
                    attr.t.CopyFrom(_lead_copied(numpy_helper.to_array(attr.t), numpy_helper, attr.t.name))
    for i, init in enumerate(graph.initializer):
        if init.name in shapes:
            graph.initializer[i].CopyFrom(_lead_copied(numpy_helper.to_array(init), numpy_helper, init.name))
    onnx.save(model, str(dst))
    return dst


def _lead_copied(shape: np.ndarray, numpy_helper: Any, name: str) -> Any:
    values = shape.copy()
    if values.ndim == 1 and values.size > 1 and values[0] == 1:
        values[0] = 0
    return numpy_helper.from_array(values.astype(np.int64), name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args(argv)
    print(batchable(args.src, args.dst))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
