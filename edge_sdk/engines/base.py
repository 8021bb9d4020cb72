"""The engine interface: a context manager that turns one input tensor into the model's outputs."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str | None, ...]
    dtype: str  # numpy dtype name, e.g. "float32"


@dataclass(frozen=True)
class EngineInfo:
    """What the rest of the pipeline needs to know about a loaded engine."""

    type: str  # the config type key, e.g. "onnxruntime", "tensorrt"
    model_path: str
    model_sha256: str
    precision: str  # "fp32", "fp16", "int8", "mixed"
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    device: str  # e.g. "cpu", "cuda:0", "dla:0"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_hw(self) -> tuple[int, int]:
        """(height, width) of the image input, NCHW or NHWC (the axis of 3 channels tells which)."""
        shape = self.inputs[0].shape
        h, w = (shape[1], shape[2]) if shape[3] == 3 and shape[1] != 3 else (shape[2], shape[3])
        if not isinstance(h, int) or not isinstance(w, int):
            raise ValueError(f"input {self.inputs[0].name} has a dynamic spatial shape {shape}")
        return h, w


class Engine(abc.ABC):
    """An opened inference engine. Use as a context manager; `close` frees everything it owns.

    `infer` returns arrays that the caller owns (never views of reused buffers).
    """

    info: EngineInfo
    #: How many threads may call `infer` at once (the pipeline runs this many infer workers). Engines
    #: that are not thread-safe keep 1.
    concurrency: int = 1

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abc.abstractmethod
    def infer(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run one input batch (float32 NCHW) and return the outputs in `info.outputs` order."""

    @abc.abstractmethod
    def close(self) -> None:
        """Free sessions, contexts and buffers. Safe to call twice."""
