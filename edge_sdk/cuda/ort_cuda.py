"""ONNX Runtime's CUDA provider as a `StreamEngine`: one session per slot, on the slot's stream.

The CUDA provider takes its compute stream as the provider option `user_compute_stream` (the address of
a `cudaStream_t`, as a decimal string; ONNX Runtime 1.31 parses it in CUDAExecutionProviderInfo), and the
stream is fixed for the life of a session: so each slot gets its own session. Each session's IOBinding
binds the slot's device input and output buffers (no copies by ONNX Runtime), and every run passes the
run option `disable_synchronize_execution_providers=1`, so `run_with_iobinding` returns once the
inference is enqueued instead of synchronizing the stream: the runner's events do that.

By default each session also captures its inference as a CUDA graph (`enable_cuda_graph=1`; the slot's
buffers never move, which graphs need): one launch per frame instead of hundreds (the demo model on an
H100: 1.13 ms per inference against 1.82 ms without), and on onnxruntime-gpu 1.31.1 without graphs a
benchmark process aborted inside ONNX Runtime (CUDA error 800 in cudaFreeHost; see
benchmarks/results/runner_h100_checks.json). A model with nodes ONNX Runtime puts on the CPU cannot be
captured: set `engine.cuda_graph: false` (here `cuda_graph=False`).

ONNX Runtime uses TF32 for float32 convolutions by default on Ampere and newer: detections then differ
from the CPU's by up to ~3e-3 in score and boxes by up to ~2 px; `engine.tf32: false` in the config (here
`provider_options={"use_tf32": "0"}`) gives plain float32. `engine.cuda_graph: false` turns the graphs off.

ONNX Runtime quietly uses the CPU when its CUDA provider cannot load (missing CUDA or cuDNN libraries);
this engine checks that every session really got the CUDA provider and the stream it was given, and fails
otherwise, so the GPU path never silently becomes a CPU one. Install onnxruntime-gpu in place of
onnxruntime (both provide the `onnxruntime` module); on a Jetson, from the Jetson AI Lab index for JetPack 6.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.cuda.api import SlotBinding, static_shape
from edge_sdk.errors import EngineError, ModelError
from edge_sdk.lazy import lazy_import

if TYPE_CHECKING:  # the ONNX Runtime backend makes these (OnnxRuntimeEngine.stream_engine): no import back
    from edge_sdk.engines.base import Engine, EngineInfo

log = logging.getLogger(__name__)
CUDA_EP = "CUDAExecutionProvider"


def _import_ort_gpu() -> Any:
    ort = lazy_import("onnxruntime", needed_for="the onnxruntime engine on CUDA (onnxruntime-gpu)")
    if CUDA_EP not in ort.get_available_providers():
        raise EngineError(f"this ONNX Runtime ({ort.__version__}) has no {CUDA_EP} "
                          f"(available: {', '.join(ort.get_available_providers())})", where="engine.providers",
                          fix="install onnxruntime-gpu instead of onnxruntime, or use CPUExecutionProvider")
    return ort


@dataclass
class _OrtSlot:
    session: Any
    binding: Any
    stream_handle: int
    input_ptr: int
    output_ptrs: tuple[int, ...]
    rows: int = 1  # images bound (the slot's batch)


class OrtCudaStreamEngine:
    """An ONNX model on ONNX Runtime's CUDA provider, driven by `CudaRunner`.

    Made by `OnnxRuntimeEngine.stream_engine()` (an engine opened on the CUDA provider) or
    `OnnxRuntimeEngine.cuda_stream_engine(path)` (a model's I/O read with a CPU session), both through
    `from_engine`. Sessions exist only between `prepare_slots` and `release_slots`, which the runner calls.
    """

    def __init__(self, info: EngineInfo, *, device_id: int = 0, provider_options: Mapping[str, str] | None = None,
                 cuda_graph: bool = True) -> None:
        self._ort = _import_ort_gpu()
        self.device_id = device_id
        self.cuda_graph = cuda_graph
        self.provider_options = dict(provider_options or {})  # more CUDA provider options, e.g. {"use_tf32": "0"}
        self.info = dataclasses.replace(info, device=f"cuda:{device_id}",
                                        extra={**info.extra, "providers": [CUDA_EP], "runner": "cuda-streams",
                                               "onnxruntime": self._ort.__version__})
        self._slots: dict[int, _OrtSlot] = {}
        self._run_options: Any = None

    @classmethod
    def from_engine(cls, engine: Engine) -> OrtCudaStreamEngine:
        """The runner's sessions for an opened engine, with its CUDA provider options (engine.tf32) and
        engine.cuda_graph (an OnnxRuntimeEngine keeps both as `cuda_provider_options` and `cuda_graph`)."""
        device = engine.info.device
        device_id = int(device.split(":", 1)[1]) if device.startswith("cuda:") else 0
        options = getattr(engine, "cuda_provider_options", None)
        return cls(engine.info, device_id=device_id, provider_options=options,
                   cuda_graph=bool(getattr(engine, "cuda_graph", True)))

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        ort = self._ort
        run_options = ort.RunOptions()
        run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        self._run_options = run_options
        try:
            for b in slots:
                self._slots[b.index] = self._open_slot(b)
        except BaseException:
            self.release_slots()
            raise

    def _open_slot(self, b: SlotBinding) -> _OrtSlot:
        ort = self._ort
        path = self.info.model_path
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        cuda_options = {**self.provider_options, "device_id": str(self.device_id),
                        "user_compute_stream": str(b.stream_handle)}
        if self.cuda_graph:
            cuda_options["enable_cuda_graph"] = "1"
        try:
            session = ort.InferenceSession(path, sess_options=opts, providers=[(CUDA_EP, cuda_options)])
        except Exception as exc:  # ORT's own Fail/InvalidGraph/... types
            raise ModelError(f"ONNX Runtime (CUDA) cannot load the model: {str(exc).strip()[:400]}", where=path,
                             fix="check the model file, and that onnxruntime-gpu matches the installed CUDA") from exc
        got = session.get_providers()
        if not got or got[0] != CUDA_EP:
            raise EngineError(f"ONNX Runtime did not start its CUDA provider (session providers: {got})", where=path,
                              fix="check that the CUDA and cuDNN libraries onnxruntime-gpu needs are installed")
        bound_stream = session.get_provider_options().get(CUDA_EP, {}).get("user_compute_stream")
        if bound_stream != str(b.stream_handle):
            raise EngineError(f"ONNX Runtime {ort.__version__} did not take the slot's CUDA stream "
                              f"(user_compute_stream is {bound_stream!r})", where=path,
                              fix="use onnxruntime-gpu 1.16 or newer")
        binding = session.io_binding()
        slot = _OrtSlot(session, binding, b.stream_handle, b.input_ptr, tuple(b.output_ptrs), b.batch)
        self._bind(slot, b.input_ptr, b.output_ptrs)
        return slot

    def _bind(self, slot: _OrtSlot, input_ptr: int, output_ptrs: Sequence[int]) -> None:
        """Bind the slot's buffers: `slot.rows` images (a dynamic batch dimension bound at that size)."""
        spec, model = self.info.inputs[0], self.info.model_path

        def shape(dims: tuple[int | str | None, ...], name: str) -> list[int]:
            lead = dims[0] if dims else None
            fixed = dims if isinstance(lead, int) and lead > 0 else (slot.rows, *dims[1:])
            return list(static_shape(fixed, name, model))

        slot.binding.bind_input(spec.name, "cuda", self.device_id, np.dtype(spec.dtype).type,
                                shape(spec.shape, spec.name), input_ptr)
        if len(output_ptrs) != len(self.info.outputs):
            raise EngineError(f"{len(output_ptrs)} output buffers for {len(self.info.outputs)} outputs")
        for out, ptr in zip(self.info.outputs, output_ptrs):
            slot.binding.bind_output(out.name, "cuda", self.device_id, np.dtype(out.dtype).type,
                                     shape(out.shape, out.name), ptr)

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...],
                batch: int = 1, /) -> None:
        """Enqueue the slot's inference: every image its buffers hold (`SlotBinding.batch`, bound once; a smaller
        `batch` computes padding rows: a CUDA graph keeps its shapes)."""
        slot = self._slots.get(slot_index)
        if slot is None:
            raise EngineError(f"slot {slot_index} was not prepared", where=self.info.model_path)
        if stream_handle != slot.stream_handle:
            raise EngineError(f"slot {slot_index} was prepared for another CUDA stream; an ONNX Runtime session keeps "
                              "the stream it was created with", where=self.info.model_path)
        if input_ptr != slot.input_ptr or tuple(output_ptrs) != slot.output_ptrs:
            if self.cuda_graph:
                raise EngineError(f"slot {slot_index}'s buffers moved; its captured CUDA graph is bound to the old ones",
                                  where=self.info.model_path, fix="prepare the slots again (a new runner)")
            self._bind(slot, input_ptr, output_ptrs)
            slot.input_ptr, slot.output_ptrs = input_ptr, tuple(output_ptrs)
        try:
            slot.session.run_with_iobinding(slot.binding, self._run_options)
        except Exception as exc:
            raise EngineError(f"ONNX Runtime (CUDA) inference failed: {str(exc).strip()[:400]}",
                              where=f"{self.info.model_path} (slot {slot_index})",
                              fix="a model with nodes ONNX Runtime places on the CPU cannot be captured as a CUDA graph: "
                                  "set engine.cuda_graph: false in the config" if self.cuda_graph else None) from exc

    def release_slots(self) -> None:
        self._slots.clear()
        self._run_options = None
