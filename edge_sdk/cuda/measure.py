"""Engine-only timing on a runner's own slots (`CudaRunner.engine_only`): the figure the pipeline's throughput is
compared with on a GPU, measured on the same engine sessions (per-slot contexts or ONNX Runtime sessions bound
to the slots' device buffers and streams) with the input resident on the device, not on a separate session that
copies numpy arrays in and out."""

from __future__ import annotations

import time
from collections.abc import Sequence

from edge_sdk.cuda.api import SlotBinding, StreamEngine
from edge_sdk.cuda.backend import Backend


def engine_only(backend: Backend, engine: StreamEngine, bindings: Sequence[SlotBinding],
                iterations: int) -> tuple[float, list[float]]:
    """`iterations` inferences round-robin over the slots, each of the slot's full batch (`SlotBinding.batch`
    images), each slot's next one enqueued once its previous one is done (as the runner reuses slots). Call with
    the backend's context active."""
    if iterations < 1 or not bindings:
        raise ValueError("engine_only needs at least one iteration and one slot")
    starts = [backend.event(timing=True) for _ in bindings]
    stops = [backend.event(timing=True) for _ in bindings]
    busy = [False] * len(bindings)
    device_s: list[float] = []

    def collect(i: int) -> None:
        backend.synchronize_event(stops[i])
        device_s.append(backend.elapsed_ms(starts[i], stops[i]) / 1000.0)
        busy[i] = False

    try:
        t0 = time.perf_counter()
        for n in range(iterations):
            i = n % len(bindings)
            if busy[i]:
                collect(i)
            b = bindings[i]
            backend.record(starts[i], b.stream)
            engine.enqueue(b.index, b.stream_handle, b.input_ptr, b.output_ptrs, b.batch)
            backend.record(stops[i], b.stream)
            busy[i] = True
        for i in range(len(bindings)):
            if busy[i]:
                collect(i)
        wall = time.perf_counter() - t0
    finally:
        for ev in (*starts, *stops):
            backend.release_event(ev)
    return iterations / wall, device_s

