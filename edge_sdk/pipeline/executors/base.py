"""The executor interface: what runs the engine on the batches the frame reader forms, and the records it yields.

Two implementations, chosen by the engine (`executor_for` in this package): `cpu.CpuExecutor`, worker threads
calling `Engine.infer` (ONNX Runtime on the CPU, or any engine without CUDA streams), and `cuda.CudaExecutor`, the
CUDA-stream runner (edge_sdk/cuda/) for engines that enqueue on CUDA streams (ONNX Runtime's CUDA provider,
TensorRT). The pipeline owns everything else, once: reading frames (`reader.FrameReader`), decoding, publishing in
order per camera, and the stats (`stats.py` says what each figure means).

An executor's `work(feed)` runs on `threads` threads at once until `feed.done`: it takes batches
(`feed.take(max_frames, wait_s)`), leases the current model for each inference (`feed.lease()` ... `unlease()`: a
live engine swap waits until no inference holds the old one), and hands each inferred batch to `feed.emit`
(False: the pipeline is aborting, return). Inferred batches may be emitted in any order; the pipeline publishes
them in sequence order.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edge_sdk.decode.base import DecodeParams, Decoder
from edge_sdk.engines.base import Engine
from edge_sdk.frame import ModelTag
from edge_sdk.pipeline.reader import Batch
from edge_sdk.preprocess.geometry import LetterboxInfo


@dataclass(frozen=True)
class Model:
    """The engine and what reads its outputs: decoder, thresholds and the tag results carry."""

    engine: Engine
    decoder: Decoder
    params: DecodeParams
    tag: ModelTag


@dataclass
class Inferred:
    """One batch through the engine: the record every executor yields.

    `outputs` are the engine's outputs for the whole batch (arrays the pipeline owns); an output whose leading
    dimension is `rows` holds one row per image (frame i's is row i), others belong to every frame alike.
    `rows` >= len(frames): an engine with a fixed batch computes padding rows after the frames."""

    batch: Batch
    letterboxes: list[LetterboxInfo]
    outputs: list[np.ndarray]
    rows: int
    model: Model
    preprocess_s: list[float] = field(default_factory=list)  # per frame (stats.py: `preprocess`)
    infer_s: float = 0.0  # the batch (stats.py: `infer`)

    def outputs_of(self, i: int) -> list[np.ndarray]:
        """Frame i's outputs, each keeping a leading axis of 1 (outputs without the batch axis as they are)."""
        if self.rows == 1:
            return self.outputs
        return [o[i:i + 1] if o.ndim and o.shape[0] == self.rows else o for o in self.outputs]


class Feed(Protocol):
    """What the pipeline gives an executor."""

    @property
    def done(self) -> bool:
        """No more batches will come: every source ended, or the pipeline is stopping."""

    def take(self, max_frames: int, wait_s: float) -> Batch | None:
        """The next batch (at most `max_frames` frames), or None when none came within `wait_s`."""

    def lease(self) -> Model:
        """The current model for one inference; call `unlease` once it is done."""

    def unlease(self) -> None: ...

    def emit(self, inferred: Inferred) -> bool:
        """Hand an inferred batch over for decoding and publishing; False when the pipeline is aborting."""


class Executor(abc.ABC):
    """Runs the engine on batches (see the module docstring)."""

    #: how it is named in logs and the stats topic
    name: str = ""

    @property
    @abc.abstractmethod
    def threads(self) -> int:
        """How many threads run `work` at once."""

    @abc.abstractmethod
    def work(self, feed: Feed) -> None:
        """Take batches, infer them, emit them, until `feed.done` (or `emit` returns False)."""

    @abc.abstractmethod
    def refuses_swap(self, engine: Engine) -> str:
        """Why `engine` cannot replace the running one live ('' when it can)."""

    def describe(self) -> dict[str, Any]:
        """Facts for the stats topic."""
        return {"executor": self.name, "threads": self.threads}
