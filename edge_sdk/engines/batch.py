"""How an engine takes a batch of frames: `BatchPlan.of(engine.info, wanted)`.

The leading dimension of the image input decides: a dynamic one (ONNX Runtime on a model exported with a dynamic
batch) takes any number of frames up to what is wanted; a TensorRT optimization profile (`EngineInfo.batch_range`,
min..max) takes min..max; a fixed one of N takes exactly N images, the frames first and padding after (a fixed
batch of 1 takes one frame at a time). Both executors and the CUDA-stream runner size their buffers from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_sdk.engines.base import EngineInfo


@dataclass(frozen=True)
class BatchPlan:
    """rows: the input's leading size at most (its fixed batch, or `wanted` where it varies); fill: frames per
    inference at most (min(wanted, rows)); variable: the engine takes any leading size from 1 to `rows` (else it
    always computes `rows` images, the unused ones padding)."""

    rows: int
    fill: int
    variable: bool

    @classmethod
    def of(cls, info: EngineInfo, wanted: int) -> BatchPlan:
        wanted = max(1, wanted)
        if info.batch_range is not None:
            low, high = info.batch_range
            rows = max(1, min(wanted, high)) if low <= 1 else high
            return cls(rows, min(wanted, rows), low <= 1)
        lead = info.inputs[0].shape[0]
        if isinstance(lead, int) and lead > 0:
            return cls(lead, min(wanted, lead), lead == 1)
        return cls(wanted, wanted, True)

    def rows_for(self, frames: int) -> int:
        """The leading size of an inference of `frames` frames (`rows` where the engine cannot vary it)."""
        return frames if self.variable else self.rows
