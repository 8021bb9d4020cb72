"""The model's inputs, read and edited on the ONNX graph: which one is the image, its layout, dtype, batch
and size; weights listed as inputs; the constant side inputs some exporters add.

Every edit here is exact (it cannot change what the model computes for the image it is given); edits that
could (another batch, another size, another opset) are verified by running the model (`verify.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_sdk.errors import ModelError
from edge_sdk.preprocess.spec import InputDtype, Layout

_ELEM_DTYPES = {1: "float32", 10: "float16", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 11: "float64"}

#: Side inputs exporters add beside the image, and the constant that makes the outputs come in input pixels:
#: RT-DETR / D-FINE `orig_target_sizes` ([[W, H]]: boxes are scaled to it), PaddleDetection `im_shape`
#: ([[H, W]]) and `scale_factor` ([[1, 1]]: boxes are divided by it).
SIDE_INPUTS = ("orig_target_sizes", "im_shape", "scale_factor")


@dataclass(frozen=True)
class InputFacts:
    """The image input as declared: None where a dimension is dynamic (or the layout undecidable)."""

    name: str
    layout: Layout | None
    dtype: str
    batch: int | None
    height: int | None
    width: int | None
    declared: tuple[int | str, ...]

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.height, self.width) if self.height and self.width else None

    def describe(self) -> str:
        return f"{self.name!r} {list(self.declared)} {self.dtype}"


def dims_of(value_info: Any) -> list[int | str]:
    """Declared dimensions: an int, or the symbolic name ('?' when unnamed)."""
    out: list[int | str] = []
    for d in value_info.type.tensor_type.shape.dim:
        out.append(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?"))
    return out


def elem_dtype(value_info: Any) -> str:
    code = value_info.type.tensor_type.elem_type
    return _ELEM_DTYPES.get(code, f"type {code}")


def drop_initializer_inputs(graph: Any) -> int:
    """Remove graph inputs that are initializers (old exporters list the weights as inputs too). Returns how
    many were removed. The weights stay as constants: exact."""
    weights = {init.name for init in graph.initializer}
    keep = [i for i in graph.input if i.name not in weights]
    removed = len(graph.input) - len(keep)
    if removed:
        del graph.input[:]
        graph.input.extend(keep)
    return removed


def image_and_side_inputs(graph: Any, where: str) -> tuple[Any, list[Any]]:
    """The one image input and the known side inputs; refuses anything else, before any work is done."""
    images = [i for i in graph.input if len(dims_of(i)) == 4]
    side = [i for i in graph.input if i.name in SIDE_INPUTS and len(dims_of(i)) != 4]
    other = [i for i in graph.input if i not in images and i not in side]
    if len(images) != 1 or other:
        listed = ", ".join(f"{i.name} {dims_of(i)}" for i in graph.input)
        raise ModelError(f"the model has inputs {listed}; a detector takes one image tensor (4 dimensions), plus "
                         f"at most the side inputs {', '.join(SIDE_INPUTS)} that edge-sdk fills in",
                         where=where, fix="export the model with the image as its only input (PaddleDetection: "
                                          "export without NMS; others: drop pre/post-processing inputs)")
    return images[0], side


def bake_side_inputs(graph: Any, side: list[Any], size: tuple[int, int]) -> list[str]:
    """Replace the side inputs by constants for the input size (so boxes come out in input pixels)."""
    from onnx import numpy_helper

    h, w = size
    values = {"orig_target_sizes": [[w, h]], "im_shape": [[h, w]], "scale_factor": [[1.0, 1.0]]}
    done = []
    for vi in side:
        dtype = elem_dtype(vi)
        if dtype not in ("int64", "int32", "float32", "float16", "float64"):
            raise ModelError(f"side input {vi.name!r} is {dtype}", fix="export it as int64 or float32")
        array = np.asarray(values[vi.name], dtype=dtype).reshape([d if isinstance(d, int) else 1 for d in dims_of(vi)]
                                                                  or [1, 2])
        graph.input.remove(vi)
        graph.initializer.append(numpy_helper.from_array(array, vi.name))
        done.append(f"{vi.name} = {array.tolist()}")
    return done


def read_facts(vi: Any, layout: Layout | None, where: str) -> InputFacts:
    """Layout, dtype, batch and size of the image input, refusing what no preprocessing can feed."""
    dims = dims_of(vi)
    dtype = elem_dtype(vi)
    if dtype not in ("float32", "float16", "uint8"):
        raise ModelError(f"input {vi.name!r} is {dtype}; edge-sdk feeds float32, float16 or uint8 images",
                         where=where, fix="export the model with a float32 (or uint8) image input")
    found = layout or layout_of(dims)
    if found is None:
        raise ModelError(f"cannot tell the layout of input {vi.name!r} {dims}: no single 3-channel axis",
                         where=where, fix="set model.preprocess.layout to nchw or nhwc")
    c = dims[1] if found == "nchw" else dims[3]
    if isinstance(c, int) and c != 3:
        raise ModelError(f"input {vi.name!r} {dims} has {c} channel(s) in {found.upper()}; edge-sdk feeds 3-channel "
                         "colour images", where=where,
                         fix="export a 3-channel model, or set model.preprocess.layout if the layout was misread")
    h, w = (dims[2], dims[3]) if found == "nchw" else (dims[1], dims[2])
    batch = dims[0]
    return InputFacts(vi.name, found, dtype, batch if isinstance(batch, int) else None,
                      h if isinstance(h, int) else None, w if isinstance(w, int) else None, tuple(dims))


def layout_of(dims: list[int | str]) -> Layout | None:
    """NCHW or NHWC from the one axis that holds 3 channels (or 1 or 4, so a wrong count can be reported)."""
    for channels in (3, 1, 4):
        first, last = dims[1] == channels, dims[3] == channels
        if first != last:
            return "nchw" if first else "nhwc"
        if first:
            return None  # e.g. [1, 3, 3, 3]: ambiguous
    return None


def set_input_dims(vi: Any, facts: InputFacts, batch: int | None, size: tuple[int, int]) -> None:
    """Declare the image input as [batch, 3, H, W] (or NHWC); batch None: a dynamic batch named "batch"."""
    h, w = size
    wanted: list[int | None] = [batch, 3, h, w] if facts.layout == "nchw" else [batch, h, w, 3]
    for d, value in zip(vi.type.tensor_type.shape.dim, wanted):
        d.Clear()
        if value is None:
            d.dim_param = "batch"
        else:
            d.dim_value = value


def forget_shapes(model: Any) -> None:
    """Drop declared intermediate and output shapes (stale after the input changed) and infer them again."""
    from onnx import shape_inference

    graph = model.graph
    del graph.value_info[:]
    for out in graph.output:
        for d in out.type.tensor_type.shape.dim:
            d.Clear()
    try:
        inferred = shape_inference.infer_shapes(model)
        graph.CopyFrom(inferred.graph)
    except Exception:  # inference is a convenience for later tools; ONNX Runtime does not need it
        pass


def input_dtype_of(facts: InputFacts) -> InputDtype:
    if facts.dtype == "float16":
        return "float16"
    return "uint8" if facts.dtype == "uint8" else "float32"
