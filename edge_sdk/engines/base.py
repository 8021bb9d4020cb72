"""The engine interface: a context manager that turns input tensors into the model's outputs.

Each backend (edge_sdk/engines/backends/) subclasses `Engine` and implements `infer_impl` and `close_impl`;
the public `infer` and `close` live here, so the contract is enforced once (Polygraphy's infer/infer_impl):
`infer` refuses a closed engine and inputs that do not match `info.inputs` (count, dtype, shape; see
engines/inputs.py), then calls `infer_impl` with one array per input, in `info.inputs` order, of exactly the
declared dtype. Its config section subclasses `EngineConfigBase` in the same module.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, final

import numpy as np
from pydantic import Field

from edge_sdk.config.base import Section
from edge_sdk.engines.inputs import check_inputs
from edge_sdk.errors import EngineError

if TYPE_CHECKING:
    from edge_sdk.cuda.api import StreamEngine

#: What `Engine.infer` accepts: one array (a one-input model), arrays in `info.inputs` order, or arrays by name.
Inputs = np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output. A dimension that is not a non-negative int (a name such as "batch", None, or
    TensorRT's -1) is dynamic: any size is accepted there."""

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
    #: The leading-dimension sizes (lowest, highest) the engine takes on every input, when that differs from the
    #: declared shapes: a TensorRT optimization profile's batch range, or an engine that pads a partial batch up
    #: to its fixed one. Then all inputs of one call must share the leading size. None: exactly the declared
    #: leading dimension (any size where it is dynamic).
    batch_range: tuple[int, int] | None = None

    @property
    def runs_on_gpu(self) -> bool:
        """On a CUDA device or a DLA core (both enqueue on CUDA streams)."""
        return self.device.startswith(("cuda", "dla"))

    @property
    def input_hw(self) -> tuple[int, int]:
        """(height, width) of the image input, NCHW or NHWC (the axis of 3 channels tells which)."""
        shape = self.inputs[0].shape
        h, w = (shape[1], shape[2]) if shape[3] == 3 and shape[1] != 3 else (shape[2], shape[3])
        if not isinstance(h, int) or not isinstance(w, int):
            raise ValueError(f"input {self.inputs[0].name} has a dynamic spatial shape {shape}")
        return h, w


class EngineConfigBase(Section):
    """Base of each backend's `engine:` section. Subclasses declare `type` as a one-value Literal with that
    value as default (the config key selecting the backend) and live beside their engine (engines/backends/).
    Every backend batches frames across cameras the same way (the keys below; edge_sdk/pipeline/reader.py)."""

    type: str
    max_batch: int | None = Field(
        None, ge=1, le=64, description="most frames per inference, taken across cameras (a batch forms from the "
                                       "frames ready, one per camera per round); null: the number of cameras. A "
                                       "model with a fixed batch of N takes at most N (a fixed batch of 1: one frame "
                                       "at a time, said in the log)")
    batch_timeout_ms: float = Field(
        5.0, ge=0.0, le=1000.0, description="longest a batch's first frame waits for frames of other cameras "
                                            "before the batch goes (it goes at once when full, or when every "
                                            "delivering camera has a frame in it); 0: only what is ready")


@dataclass(frozen=True)
class Backend:
    """One engine backend, as its module in engines/backends/ registers it (`BACKEND = Backend(Config, open)`):
    its config section and how to open an engine from a model file and that section."""

    config: type[EngineConfigBase]
    open: Callable[[str, Any], Engine]

    @property
    def type(self) -> str:
        return str(self.config.model_fields["type"].default)


class Engine(abc.ABC):
    """An opened inference engine. Use as a context manager; `close` frees everything it owns.

    `infer` returns arrays that the caller owns (never views of reused buffers).
    """

    info: EngineInfo
    #: How many threads may call `infer` at once (the pipeline runs this many infer workers). Engines
    #: that are not thread-safe keep 1.
    concurrency: int = 1
    _closed: bool = False

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @final
    def infer(self, inputs: Inputs) -> list[np.ndarray]:
        """Run one batch and return the outputs in `info.outputs` order.

        `inputs`: an array for a one-input model, or arrays in `info.inputs` order, or a mapping by input name.
        Raises EngineError if the engine is closed, EngineInputError (also a ValueError) if the inputs do not
        match `info.inputs`; floating-point arrays are converted to a floating input's own precision (float32
        into a float16 input), other dtypes must match exactly.
        """
        if self._closed:
            raise EngineError("engine is closed", where=self.info.model_path,
                              fix="open the engine again; a closed engine (after close() or a reload) takes no input")
        return self.infer_impl(check_inputs(self.info.inputs, inputs, self.info.batch_range, self.info.model_path))

    @abc.abstractmethod
    def infer_impl(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run checked inputs (one per `info.inputs`, in order, of the declared dtype). Called by `infer` only.

        May still see a `close` from another thread that raced the check: raise EngineError("engine is closed")
        then, never touch freed memory."""

    def stream_engine(self) -> StreamEngine | None:
        """This engine's form on CUDA streams (edge_sdk/cuda/api.py), which the CUDA-stream runner drives: an engine
        on a GPU or DLA returns it (itself, or per-slot sessions of its model); None (the default) for an engine
        that runs only through `infer` (the CPU). It is what chooses the pipeline's executor."""
        return None

    @final
    def close(self) -> None:
        """Free sessions, contexts and buffers. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.close_impl()

    @abc.abstractmethod
    def close_impl(self) -> None:
        """Free what the engine owns. Called once, by `close` (also on a failed open)."""
