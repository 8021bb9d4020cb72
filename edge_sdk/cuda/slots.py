"""One slot of the runner: the buffers, streams and events one frame in flight needs.

Each slot has an upload stream (host-to-device copy of the frame and the preprocess kernel) and a work
stream (the engine's inference and the device-to-host copy of its outputs), and four events:

    uploaded   on the upload stream after the preprocess: the work stream waits for it on the device
    started    on the work stream before the engine's enqueue (timing: the `infer` figure starts here)
    consumed   on the work stream after the engine's enqueue: the input buffers are free again (timing: it ends)
    done       on the work stream after the output copy: the host may read the outputs

Two streams per slot let the next frame's upload into a slot start as soon as the engine has read the
slot's input, while the slot's previous outputs are still being copied back; with one stream per slot,
two slots reach only 2/3 of the throughput bound when upload, inference and download take equal time.

In "mapped" memory mode (Jetson: one physical memory for CPU and GPU) the host buffers are mapped
page-locked memory that the kernel reads and the engine writes directly: there are no copies at all.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.cuda.backend import Backend, DeviceMemory
from edge_sdk.engines.batch import BatchPlan
from edge_sdk.frame import Frame
from edge_sdk.preprocess.letterbox import LetterboxInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotLayout:
    input_shape: tuple[int, ...]  # [rows, 3, H, W] (or NHWC): the most images one submission holds
    input_dtype: np.dtype[Any]
    output_shapes: tuple[tuple[int, ...], ...]
    output_dtypes: tuple[np.dtype[Any], ...]
    mapped: bool
    gpu_preprocess: bool
    raw_capacity: int  # bytes of raw frames a slot holds before it grows
    plan: BatchPlan = field(default_factory=lambda: BatchPlan(1, 1, True))
    output_batched: tuple[bool, ...] = ()  # outputs with one row per image (sliced to the images computed)

    @functools.cached_property
    def image_bytes(self) -> int:
        """Bytes of one image (one row) of the input tensor (computed once: read at every submission)."""
        return _nbytes(self.input_shape[1:], self.input_dtype)


@dataclass
class Pending:
    """What a slot holds in flight: one submission of `len(frames)` frames, `rows` images computed."""

    seq: int
    frames: list[Frame]
    tag: Any
    letterboxes: list[LetterboxInfo]
    t_submit: float
    host_submit_s: float
    preprocess_s: float = 0.0  # host seconds per frame
    rows: int = 1


@dataclass
class Slot:
    index: int
    upload_stream: Any = None
    work_stream: Any = None
    uploaded: Any = None
    started: Any = None
    consumed: Any = None
    done: Any = None
    host_raw: np.ndarray | None = None  # GPU preprocess: the raw frame (flat uint8), page-locked
    dev_raw: DeviceMemory | None = None  # GPU preprocess, copy mode
    host_input: np.ndarray | None = None  # CPU preprocess: the input tensor, page-locked
    dev_input: DeviceMemory | None = None
    host_outputs: list[np.ndarray] = field(default_factory=list)
    dev_outputs: list[DeviceMemory] = field(default_factory=list)
    raw_ptr: int = 0  # where the kernel reads the raw frame
    input_ptr: int = 0  # where the engine reads its input
    output_ptrs: tuple[int, ...] = ()  # where the engine writes its outputs
    pending: Pending | None = None

    @property
    def raw_capacity(self) -> int:
        return 0 if self.host_raw is None else int(self.host_raw.nbytes)


def _nbytes(shape: tuple[int, ...], dtype: np.dtype[Any]) -> int:
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def allocate_raw(backend: Backend, slot: Slot, nbytes: int, mapped: bool) -> None:
    """(Re)allocate the slot's raw-frame buffers for `nbytes`. The slot must be idle."""
    free_raw(backend, slot)
    slot.host_raw = backend.pinned((nbytes,), np.dtype(np.uint8), mapped=mapped)
    if mapped:
        slot.raw_ptr = backend.mapped_ptr(slot.host_raw)
    else:
        slot.dev_raw = backend.device_alloc(nbytes)
        slot.raw_ptr = slot.dev_raw.ptr


def free_raw(backend: Backend, slot: Slot) -> None:
    if slot.dev_raw is not None:
        mem, slot.dev_raw = slot.dev_raw, None
        backend.free_device(mem)
    if slot.host_raw is not None:
        host, slot.host_raw = slot.host_raw, None
        backend.free_pinned(host)
    slot.raw_ptr = 0


def allocate_slot(backend: Backend, index: int, layout: SlotLayout) -> Slot:
    """A slot with everything allocated; on failure, what was allocated is freed before the error propagates."""
    slot = Slot(index)
    try:
        slot.upload_stream, slot.work_stream = backend.stream(), backend.stream()
        slot.uploaded, slot.done = backend.event(), backend.event()
        slot.started, slot.consumed = backend.event(timing=True), backend.event(timing=True)
        in_bytes = _nbytes(layout.input_shape, layout.input_dtype)
        if layout.gpu_preprocess:
            allocate_raw(backend, slot, layout.raw_capacity, layout.mapped)
            slot.dev_input = backend.device_alloc(in_bytes)
            slot.input_ptr = slot.dev_input.ptr
        else:
            slot.host_input = backend.pinned(layout.input_shape, layout.input_dtype, mapped=layout.mapped)
            if layout.mapped:
                slot.input_ptr = backend.mapped_ptr(slot.host_input)
            else:
                slot.dev_input = backend.device_alloc(in_bytes)
                slot.input_ptr = slot.dev_input.ptr
        ptrs = []
        for shape, dtype in zip(layout.output_shapes, layout.output_dtypes):
            host = backend.pinned(shape, dtype, mapped=layout.mapped)
            slot.host_outputs.append(host)
            if layout.mapped:
                ptrs.append(backend.mapped_ptr(host))
            else:
                mem = backend.device_alloc(_nbytes(shape, dtype))
                slot.dev_outputs.append(mem)
                ptrs.append(mem.ptr)
        slot.output_ptrs = tuple(ptrs)
    except BaseException:
        free_slot(backend, slot)
        raise
    return slot


def free_slot(backend: Backend, slot: Slot) -> list[BaseException]:
    """Free everything the slot holds, continuing past failures; returns them (the caller logs or raises)."""
    errors: list[BaseException] = []

    def attempt(fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # keep freeing the rest; report at the end
            errors.append(exc)

    attempt(functools.partial(free_raw, backend, slot))
    for mem in [slot.dev_input, *slot.dev_outputs]:
        if mem is not None:
            attempt(functools.partial(backend.free_device, mem))
    for host in [slot.host_input, *slot.host_outputs]:
        if host is not None:
            attempt(functools.partial(backend.free_pinned, host))
    for ev in (slot.uploaded, slot.started, slot.consumed, slot.done):
        if ev is not None:
            attempt(functools.partial(backend.release_event, ev))
    for st in (slot.upload_stream, slot.work_stream):
        if st is not None:
            attempt(functools.partial(backend.release_stream, st))
    slot.dev_input = slot.host_input = None
    slot.dev_outputs, slot.host_outputs = [], []
    slot.uploaded = slot.started = slot.consumed = slot.done = slot.upload_stream = slot.work_stream = None
    slot.pending = None
    return errors
