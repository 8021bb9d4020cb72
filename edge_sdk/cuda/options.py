"""How the CUDA-stream runner runs (`RunnerOptions`) and the slot buffers an engine needs (`layout_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from edge_sdk.cuda.api import static_shape
from edge_sdk.cuda.kernels import KernelMode
from edge_sdk.cuda.slots import SlotLayout
from edge_sdk.engines.batch import BatchPlan
from edge_sdk.errors import EngineError
from edge_sdk.preprocess.spec import PreprocessSpec

if TYPE_CHECKING:
    from edge_sdk.cuda.api import StreamEngine

MemoryMode = Literal["copy", "mapped", "auto"]
PreprocessMode = Literal["gpu", "cpu"]
MAX_SLOTS = 8
MAX_BATCH = 64


@dataclass(frozen=True)
class RunnerOptions:
    """How the runner runs.

    slots: submissions in flight (2 = double buffering; 3 hides upload, inference and download entirely even
        when they take equal time).
    batch: the most frames per submission (`submit_batch`): each slot holds that many images, as the engine takes
        them (edge_sdk/engines/batch.py: any number up to it, or a fixed batch with padding).
    memory: "copy" (discrete GPUs: page-locked host buffers, copies on the slot's streams), "mapped"
        (Jetson: the GPU reads and writes mapped page-locked host memory, no copies), or "auto" (mapped
        when the GPU is integrated). `edge_sdk.pipeline.executors.cuda.memory_mode_for_profile` maps a
        device profile.
    preprocess: "gpu" (the raw frames cross the bus; one kernel launch letterboxes each into its row) or "cpu"
        (`edge_sdk.preprocess.letterbox` on the host; the float tensor crosses the bus).
    max_frame_hw: the largest frame (height, width) a slot holds before it grows its frame buffer (a batch of
        frames grows it once to what the batch needs).
    spec: the model's preprocessing (None: Ultralytics' letterbox at the engine's input size). The GPU kernel
        does every option of a spec (geometry, pad, channel order, scale/mean/std, NCHW/NHWC,
        float32/float16/uint8: `kernels.PixelArgs.from_spec`); `letterbox_plan.kernel_supports` says what not.
    kernels: where the GPU preprocess kernels come from ("auto": the prebuilt fatbin, else NVRTC; see
        edge_sdk/cuda/kernels.py); None: $EDGE_SDK_KERNELS or "auto".
    """

    slots: int = 2
    memory: MemoryMode = "copy"
    preprocess: PreprocessMode = "gpu"
    max_frame_hw: tuple[int, int] = (1080, 1920)
    device_id: int = 0
    spec: PreprocessSpec | None = None
    kernels: KernelMode | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 1..{MAX_SLOTS}, got {self.slots}")
        if not 1 <= self.batch <= MAX_BATCH:
            raise ValueError(f"batch must be 1..{MAX_BATCH}, got {self.batch}")
        if self.memory not in ("copy", "mapped", "auto"):
            raise ValueError(f"memory must be 'copy', 'mapped' or 'auto', got {self.memory!r}")
        if self.preprocess not in ("gpu", "cpu"):
            raise ValueError(f"preprocess must be 'gpu' or 'cpu', got {self.preprocess!r}")
        if min(self.max_frame_hw) < 1:
            raise ValueError(f"max_frame_hw must be positive, got {self.max_frame_hw}")
        if self.preprocess == "gpu" and self.spec is not None:
            from edge_sdk.cuda.letterbox_plan import kernel_supports

            if lacks := kernel_supports(self.spec):
                raise ValueError(f"the GPU letterbox kernel does not do {lacks}: use preprocess='cpu'")

    @property
    def nhwc(self) -> bool:
        return self.spec is not None and self.spec.layout == "nhwc"


def input_hw(shape: tuple[int, ...], options: RunnerOptions) -> tuple[int, int]:
    """(H, W) of the image input: [N,3,H,W], or [N,H,W,3] when the spec's layout is NHWC."""
    return (shape[1], shape[2]) if options.nhwc else (shape[2], shape[3])


def _at_rows(shape: tuple[int | str | None, ...], rows: int) -> tuple[int | str | None, ...]:
    """`shape` with a dynamic leading dimension (a name, None or a negative int) set to `rows`."""
    lead = shape[0] if shape else None
    return shape if isinstance(lead, int) and lead >= 0 else (rows, *shape[1:])


def layout_for(engine: StreamEngine, options: RunnerOptions, mapped: bool) -> SlotLayout:
    """The slot buffers this engine needs for batches of up to `options.batch` frames."""
    info = engine.info
    plan = BatchPlan.of(info, options.batch)
    spec = info.inputs[0]
    shape = static_shape(_at_rows(spec.shape, plan.rows), spec.name, info.model_path)
    channels = (shape[3] if options.nhwc else shape[1]) if len(shape) == 4 else 0
    if len(shape) != 4 or channels != 3:
        want = "[N,H,W,3]" if options.nhwc else "[N,3,H,W]"
        raise EngineError(f"input {spec.name!r} has shape {list(shape)}; the runner feeds images {want}",
                          where=info.model_path, fix="export the model with a 3-channel image input")
    out_shapes = tuple(static_shape(_at_rows(o.shape, plan.rows), o.name, info.model_path) for o in info.outputs)
    batched = tuple(bool(o.shape) and (not isinstance(o.shape[0], int) or o.shape[0] < 0
                                       or (o.shape[0] == plan.rows and plan.rows > 1)) for o in info.outputs)
    h, w = options.max_frame_hw
    return SlotLayout(shape, np.dtype(spec.dtype), out_shapes, tuple(np.dtype(o.dtype) for o in info.outputs),
                      mapped=mapped, gpu_preprocess=options.preprocess == "gpu", raw_capacity=h * w * 3,
                      plan=plan, output_batched=batched)
