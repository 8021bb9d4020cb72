"""The engine's inputs and outputs, read with the API of each path.

TensorRT 10/11: named I/O tensors (`num_io_tensors`, `get_tensor_name/mode/shape/dtype`).
TensorRT 8.6: bindings by index (`num_bindings`, `get_binding_*`, through compat.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edge_sdk.engines.trt import compat
from edge_sdk.engines.trt.version import Features
from edge_sdk.errors import EngineError

if TYPE_CHECKING:
    import tensorrt as trt

# TensorRT DataType name -> numpy dtype name (types an I/O tensor of a detector can have).
_NUMPY = {"FLOAT": "float32", "HALF": "float16", "INT8": "int8", "INT32": "int32", "INT64": "int64",
          "BOOL": "bool", "UINT8": "uint8"}


@dataclass(frozen=True)
class IoTensor:
    name: str
    is_input: bool
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name
    index: int  # binding index (8.6) or I/O tensor index (10/11): the order of `bindings` for execute_async_v2

    @property
    def dynamic_batch(self) -> bool:
        return bool(self.shape) and self.shape[0] < 0

    def at_batch(self, batch: int) -> tuple[int, ...]:
        """The shape with a dynamic batch set to `batch`."""
        return (batch, *self.shape[1:]) if self.dynamic_batch else self.shape

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


def numpy_dtype(dtype: trt.DataType, tensor: str) -> str:
    name = _NUMPY.get(dtype.name)
    if name is None:
        raise EngineError(f"I/O tensor {tensor!r} has TensorRT type {dtype.name}, which edge-sdk cannot feed or read",
                          fix="export the model with float32 (or float16) inputs and outputs")
    return name


def _checked(name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape, where only the leading (batch) dimension may be dynamic (-1: the engine's profile bounds it)."""
    if any(d < 0 for d in shape[1:]):
        raise EngineError(f"I/O tensor {name!r} has a dynamic shape {list(shape)}",
                          fix="export the ONNX with a fixed input size (only the batch may be dynamic)")
    return shape


def describe_io(engine: trt.ICudaEngine, features: Features) -> list[IoTensor]:
    import tensorrt as trt

    tensors = []
    if features.io_tensor_api:
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            mode = engine.get_tensor_mode(name)
            if mode == trt.TensorIOMode.NONE:
                continue
            dims = engine.get_tensor_shape(name)
            shape = _checked(name, tuple(int(dims[k]) for k in range(len(dims))))
            tensors.append(IoTensor(name, mode == trt.TensorIOMode.INPUT, shape,
                                    numpy_dtype(engine.get_tensor_dtype(name), name), i))
    else:
        for i in range(compat.num_bindings(engine)):
            name = compat.binding_name(engine, i)
            shape = _checked(name, compat.binding_shape(engine, i))
            tensors.append(IoTensor(name, compat.binding_is_input(engine, i), shape,
                                    numpy_dtype(compat.binding_dtype(engine, i), name), i))
    return tensors
