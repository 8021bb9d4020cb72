"""`SpinEngine`: a stand-in model whose inference is a real CUDA kernel of a set duration.

It measures the runner's mechanics at controlled ratios of copy to compute time: the kernel
(`spin_copy` in kernels.py) fills every SM, spins on `clock64()` for a set number of cycles on the slot's
stream, then writes `input[i] + 1` to `output[i]` for the first `n_copy` elements, so the output depends on
the input and shows which frame it came from. It is a measuring instrument, not a model, so it lives in
tools/ and is not installed with the package (its kernel ships in the prebuilt fatbin, edge_sdk/cuda/letterbox.cu).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_sdk.cuda.api import SlotBinding
from edge_sdk.cuda.check import cuda_call
from edge_sdk.cuda.kernels import SPIN_ARGS
from edge_sdk.cuda.pycuda_backend import PycudaBackend
from edge_sdk.engines.base import EngineInfo, TensorSpec
from edge_sdk.errors import EngineError

THREADS = 1024


class SpinEngine:
    def __init__(self, backend: PycudaBackend, *, cycles: int, input_hw: tuple[int, int] = (640, 640),
                 output_shapes: Sequence[tuple[int, ...]] = ((1, 84, 8400),), n_copy: int = 64) -> None:
        if cycles < 0:
            raise ValueError(f"cycles must be >= 0, got {cycles}")
        n_in = 3 * input_hw[0] * input_hw[1]
        if not 0 < n_copy <= min([n_in, *(int(np.prod(s)) for s in output_shapes)]):
            raise ValueError(f"n_copy {n_copy} exceeds the input or an output")
        self.backend = backend
        self.cycles = int(cycles)
        self.n_copy = int(n_copy)
        self.info = EngineInfo(
            type="spin", model_path="<spin kernel>", model_sha256="", precision="fp32",
            inputs=(TensorSpec("images", (1, 3, input_hw[0], input_hw[1]), "float32"),),
            outputs=tuple(TensorSpec(f"output{i}", tuple(s), "float32") for i, s in enumerate(output_shapes)),
            device="cuda", extra={"cycles": self.cycles})
        self._streams: dict[int, Any] = {}
        self._fn: Any = None
        self._grid = (1, 1)

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        sms = self.backend.attribute("MULTIPROCESSOR_COUNT")
        per_sm = self.backend.attribute("MAX_THREADS_PER_MULTIPROCESSOR")
        self._grid = (sms * max(1, per_sm // THREADS), 1)
        self._fn = self.backend.function("spin_copy", SPIN_ARGS)
        self._streams = {b.index: b.stream for b in slots}

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...],
                batch: int = 1, /) -> None:
        stream = self._streams.get(slot_index)
        if stream is None or self._fn is None:
            raise EngineError(f"slot {slot_index} was not prepared", where="<spin kernel>")
        self.launch(stream, input_ptr, output_ptrs[0], self.cycles)

    def launch(self, stream: Any, input_ptr: int, output_ptr: int, cycles: int) -> None:
        with cuda_call("launch of the spin kernel"):
            self._fn.prepared_async_call(self._grid, (THREADS, 1, 1), stream, input_ptr, output_ptr,
                                         np.int64(self.n_copy), np.int64(cycles))

    def release_slots(self) -> None:
        self._streams.clear()


def measure_cycles_per_ms(backend: PycudaBackend, *, probe_cycles: int = 20_000_000, repeats: int = 5) -> float:
    """The spin kernel's clock64 rate on this GPU as it runs now (cycles per millisecond), timed with events."""
    with backend.activate():
        engine = SpinEngine(backend, cycles=0, input_hw=(8, 8), output_shapes=((1, 192),))
        buf_in, buf_out = backend.device_alloc(192 * 4), backend.device_alloc(192 * 4)
        stream = backend.stream()
        try:
            engine.prepare_slots([SlotBinding(0, backend.stream_handle(stream), buf_in.ptr, (buf_out.ptr,), stream)])
            start, stop = backend.event(timing=True), backend.event(timing=True)
            times = []
            for _ in range(repeats + 1):
                with cuda_call("timing of the spin kernel"):
                    start.record(stream)
                    engine.launch(stream, buf_in.ptr, buf_out.ptr, probe_cycles)
                    stop.record(stream)
                    stop.synchronize()
                    times.append(stop.time_since(start))
            return probe_cycles / float(np.median(times[1:]))
        finally:
            engine.release_slots()
            backend.free_device(buf_in)
            backend.free_device(buf_out)
