"""How fast a TensorRT engine runs on this device: the figure INT8 is chosen over FP16 by (quant/ships.py's
"tensorrt" target) and that selftest reports.

`time_engine` enqueues the engine alone on one of its contexts with its input and outputs resident on the
device (nothing copied), times each inference with CUDA events after a warm-up, and returns the median and
90th percentile in milliseconds. `time_engines` opens each engine file in turn (one at a time: an Orin Nano
has little memory). The input is the engine's own input buffer filled once with a mid-grey image, since an
engine's speed does not depend on the pixel values.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_sdk.errors import EngineError

if TYPE_CHECKING:
    from edge_sdk.device.profiles import DeviceProfile
    from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig


@dataclass(frozen=True)
class EngineTiming:
    path: str
    precision: str
    median_ms: float
    p90_ms: float
    runs: int
    gpu: str
    tensorrt: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def time_engine(path: str | Path, *, runs: int = 50, warmup: int = 10, root: Path = Path("/")) -> EngineTiming:
    """Open the engine at `path` and time `runs` inferences on the device (see the module doc)."""
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    engine = TensorRtEngine(path, slots=1, root=root)
    with engine, engine.activated():
        backend = engine.cuda
        if backend is None:
            raise EngineError("engine is closed", where=str(path))
        stream = backend.stream()
        buffers = [backend.device_alloc(t.nbytes) for t in engine.io]
        start, stop = backend.event(timing=True), backend.event(timing=True)
        try:
            host = backend.pinned(engine.inputs[0].shape, np.dtype(engine.inputs[0].dtype), mapped=False)
            try:
                host.fill(0.5)
                backend.htod(buffers[0].ptr, host, stream)
                backend.synchronize_stream(stream)
            finally:
                backend.free_pinned(host)
            handle = backend.stream_handle(stream)
            outs = [b.ptr for b in buffers[1:]]
            times = []
            for i in range(warmup + runs):
                backend.record(start, stream)
                engine.enqueue(0, handle, buffers[0].ptr, outs)
                backend.record(stop, stream)
                backend.synchronize_event(stop)
                if i >= warmup:
                    times.append(backend.elapsed_ms(start, stop))
        finally:
            for mem in buffers:
                backend.free_device(mem)
        ordered = sorted(times)
        return EngineTiming(str(path), engine.info.precision, round(statistics.median(ordered), 4),
                            round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 4), runs,
                            backend.device_name, str(engine.info.extra.get("tensorrt", "")))


def time_engines(paths: dict[str, Path], *, runs: int = 50, warmup: int = 10,
                 root: Path = Path("/")) -> dict[str, EngineTiming]:
    """`time_engine` of each engine, keyed as given (e.g. {"int8": ..., "fp16": ...}), one engine open at a time."""
    return {name: time_engine(p, runs=runs, warmup=warmup, root=root) for name, p in paths.items()}


@dataclass(frozen=True)
class PrecisionTimings:
    """INT8 and FP16 engines of one model built and timed on this device: what "what ships" (quant/ships.py,
    target "tensorrt") decides with. `latency_ms` is {"int8": ..., "fp16": ...}, `measured_on` names the GPU and
    TensorRT, `engines` the engine files (the one chosen ships)."""

    latency_ms: dict[str, float]
    measured_on: dict[str, str]
    engines: dict[str, str]
    timings: dict[str, EngineTiming]


def time_int8_against_fp16(int8_model: Path, fp32_model: Path, calib_cache: Path | None, profile: DeviceProfile,
                           engine_cfg: TensorRtEngineConfig, out_dir: Path, *, runs: int = 50, warmup: int = 10,
                           root: Path = Path("/")) -> PrecisionTimings:
    """Build (or reuse) the INT8 engine of the Q/DQ model and the FP16 engine of the float model, and time both."""
    from edge_sdk.engines.trt.builder import build_engine

    int8 = build_engine(int8_model, calib_cache, profile, engine_cfg, out_dir, precision="int8", root=root)
    fp16 = build_engine(fp32_model, None, profile, engine_cfg, out_dir, precision="fp16", root=root)
    timings = time_engines({"int8": int8.engine_path, "fp16": fp16.engine_path}, runs=runs, warmup=warmup, root=root)
    first = timings["int8"]
    return PrecisionTimings({k: t.median_ms for k, t in timings.items()}, {"gpu": first.gpu, "tensorrt": first.tensorrt},
                            {"int8": str(int8.engine_path), "fp16": str(fp16.engine_path)}, timings)
