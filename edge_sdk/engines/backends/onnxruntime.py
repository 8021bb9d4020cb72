"""ONNX Runtime engine: the CPU default everywhere, and the CUDA provider where onnxruntime-gpu exists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from edge_sdk.engines.base import Backend, Engine, EngineConfigBase, EngineInfo, TensorSpec
from edge_sdk.engines.model_info import file_sha256
from edge_sdk.errors import EngineError, ModelError
from edge_sdk.lazy import lazy_import

if TYPE_CHECKING:
    from edge_sdk.cuda.ort_cuda import OrtCudaStreamEngine

_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(uint16)": "uint16", "tensor(int16)": "int16",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(bool)": "bool"}

Provider = Literal["CPUExecutionProvider", "CUDAExecutionProvider"]


def _cpu_only() -> list[Provider]:
    return ["CPUExecutionProvider"]


class OnnxRuntimeEngineConfig(EngineConfigBase):
    type: Literal["onnxruntime"] = Field("onnxruntime", description="ONNX Runtime (CPU everywhere; CUDA with onnxruntime-gpu)")
    providers: list[Provider] = Field(
        default_factory=_cpu_only,
        description="execution providers in order of preference; none is added silently")
    intra_op_threads: int = Field(0, ge=0, le=256, description="threads inside one inference; 0 = ONNX Runtime's "
                                                              "choice (one per core), or with several workers the "
                                                              "CPUs this process may use divided by `workers`")
    workers: int = Field(1, ge=1, le=16, description="inferences in flight at once on the one session, each on its "
                                                     "own thread (results stay in frame order). 1: lowest latency; "
                                                     "2 with 1 thread each: more frames/s on a small CPU (no "
                                                     "cross-thread barriers inside an inference), ~2x latency")
    graph_rewrites: bool = Field(True, description="apply in-memory graph rewrites that compute the same function "
                                                   "faster before loading (the model file is not changed): on the CPU, "
                                                   "YOLOv8's DFL (Softmax then a 1x1 Conv) as reductions, and in INT8 "
                                                   "Q/DQ models nearest upsampling as NHWC channel copies, Concats on "
                                                   "the quantized bytes, each SiLU as one byte lookup (a native "
                                                   "op setup.py builds with the C compiler), the head's float 1x1 "
                                                   "convs as integer matmuls and its other float convs with folded "
                                                   "weights; "
                                                   "elsewhere a Softmax over a "
                                                   "middle axis over the last axis. See engines/graph_rewrite.py")
    tf32: bool = Field(True, description="CUDA provider: let float32 convolutions and matmuls use TF32 on Ampere and "
                                         "newer (ONNX Runtime's default; moves boxes by up to ~2 px against FP32); "
                                         "false: plain FP32")
    cuda_graph: bool = Field(True, description="CUDA provider in the CUDA-stream runner: capture each inference as a "
                                               "CUDA graph (one launch per frame); false for a model with nodes ONNX "
                                               "Runtime places on the CPU, which cannot be captured")


def _import_ort() -> Any:
    return lazy_import("onnxruntime", needed_for="the onnxruntime engine")


def _precision_of(path: Path) -> str:
    """int8 if the graph holds QuantizeLinear nodes, else the input's float type."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # reported properly when the session is created
        return "fp32"
    if any(n.op_type == "QuantizeLinear" for n in model.graph.node):
        return "int8"
    float16 = 10  # onnx.TensorProto.FLOAT16: an FP16 model (its inputs may stay float32, as edge-sdk converts them)
    if any(i.type.tensor_type.elem_type == float16 for i in model.graph.input) or any(
            t.data_type == float16 for t in model.graph.initializer):
        return "fp16"
    return "fp32"


class OnnxRuntimeEngine(Engine):
    """An ONNX Runtime session. `infer` returns fresh arrays owned by the caller."""

    def __init__(self, model_path: str | os.PathLike[str], *, providers: list[str] | None = None,
                 intra_op_threads: int = 0, inter_op_threads: int = 1, graph_rewrites: bool = True,
                 workers: int = 1, tf32: bool = True, cuda_graph: bool = True) -> None:
        ort = _import_ort()
        path = Path(model_path)
        if not path.is_file():
            raise ModelError("model file not found", where=str(path),
                             fix="check model.path in the config (relative paths are resolved from the config file)")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.concurrency = max(1, workers)
        if intra_op_threads == 0 and self.concurrency > 1:  # share the CPUs between the workers
            intra_op_threads = max(1, _usable_cpus() // self.concurrency)
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = inter_op_threads
        opts.log_severity_level = 3
        wanted = providers or ["CPUExecutionProvider"]
        missing = [p for p in wanted if p not in ort.get_available_providers()]
        if missing:
            raise EngineError(f"ONNX Runtime has no {', '.join(missing)} in this installation "
                              f"(available: {', '.join(ort.get_available_providers())})",
                              where="engine.providers",
                              fix="install onnxruntime-gpu for CUDAExecutionProvider, or use the CPU provider")
        rewritten = None
        if graph_rewrites:
            from edge_sdk.engines.graph_rewrite import rewrite_for_cpu

            rewritten = rewrite_for_cpu(path, cpu=wanted[0] == "CPUExecutionProvider")
            for library in rewritten.libraries if rewritten else ():
                opts.register_custom_ops_library(library)
        #: CUDA provider options this engine's sessions use (and the runner's per-slot sessions: ort_cuda.py)
        self.cuda_provider_options: dict[str, str] = {} if tf32 else {"use_tf32": "0"}
        self.cuda_graph = cuda_graph
        session_providers: list[Any] = [(p, dict(self.cuda_provider_options)) if p == "CUDAExecutionProvider" else p
                                        for p in wanted]
        try:
            source: str | bytes = rewritten.model_bytes if rewritten else str(path)
            self._session = ort.InferenceSession(source, sess_options=opts, providers=session_providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
            raise ModelError(f"ONNX Runtime cannot load the model: {str(exc).strip()[:400]}", where=str(path),
                             fix="check that the file is a complete ONNX model (re-export or re-copy it)") from exc
        inputs = tuple(TensorSpec(i.name, tuple(i.shape), _ORT_TYPES.get(i.type, i.type))
                       for i in self._session.get_inputs())
        outputs = tuple(TensorSpec(o.name, tuple(o.shape), _ORT_TYPES.get(o.type, o.type))
                        for o in self._session.get_outputs())
        _check_image_input(inputs, path)
        self._input_names = [i.name for i in inputs]
        self._output_names = [o.name for o in outputs]
        device = "cuda:0" if wanted[0].startswith("CUDA") else "cpu"
        self.info = EngineInfo(type="onnxruntime", model_path=str(path), model_sha256=file_sha256(path),
                               precision=_precision_of(path), inputs=inputs, outputs=outputs, device=device,
                               extra={"providers": self._session.get_providers(),
                                      "onnxruntime": ort.__version__,
                                      "workers": self.concurrency, "intra_op_threads": intra_op_threads,
                                      "tf32": tf32, "cuda_graph": cuda_graph,
                                      "graph_rewrites": dict(rewritten.applied) if rewritten else {}})

    @classmethod
    def open(cls, model_path: str, config: OnnxRuntimeEngineConfig) -> OnnxRuntimeEngine:
        """What `engine.type: onnxruntime` opens (engines/registry.py)."""
        return cls(model_path, providers=list(config.providers), intra_op_threads=config.intra_op_threads,
                   graph_rewrites=config.graph_rewrites, workers=config.workers, tf32=config.tf32,
                   cuda_graph=config.cuda_graph)

    def stream_engine(self) -> OrtCudaStreamEngine | None:
        """On the CUDA provider: per-slot sessions of this model on the runner's streams (edge_sdk/cuda/ort_cuda.py),
        with this engine's provider options and cuda_graph; on the CPU: None (CPU workers run `infer`)."""
        if not self.info.runs_on_gpu:
            return None
        from edge_sdk.cuda.ort_cuda import OrtCudaStreamEngine

        return OrtCudaStreamEngine.from_engine(self)

    @classmethod
    def cuda_stream_engine(cls, model_path: str, *, provider_options: dict[str, str] | None = None,
                           cuda_graph: bool = True) -> OrtCudaStreamEngine:
        """`model_path` on ONNX Runtime's CUDA provider as the runner drives it (its I/O read with a CPU session)."""
        from edge_sdk.cuda.ort_cuda import OrtCudaStreamEngine

        with cls(model_path, providers=["CPUExecutionProvider"], graph_rewrites=False) as probe:
            engine = OrtCudaStreamEngine.from_engine(probe)
        engine.provider_options, engine.cuda_graph = dict(provider_options or {}), cuda_graph
        return engine

    def infer_impl(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Thread-safe: ONNX Runtime sessions accept concurrent `run` calls (see `workers`)."""
        session = self._session
        if session is None:  # closed by another thread after `infer` checked
            raise EngineError("engine is closed", where=self.info.model_path)
        outs = session.run(self._output_names, dict(zip(self._input_names, inputs)))
        return [np.asarray(o) for o in outs]

    def close_impl(self) -> None:
        self._session = None


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _check_image_input(inputs: tuple[TensorSpec, ...], path: Path) -> None:
    """One 4-D image input of a type edge-sdk feeds; what else the model needs (its size, layout, side inputs,
    weights listed as inputs) is settled by edge_sdk.model.prepare before an engine opens it."""
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        listed = ", ".join(f"{i.name} {list(i.shape)}" for i in inputs)
        raise ModelError(f"the model has inputs {listed}; a detector takes one image tensor (4 dimensions)",
                         where=str(path), fix="open it through the pipeline (which fixes weights listed as inputs and "
                                              "known side inputs), or export it with the image as its only input")
    spec = inputs[0]
    if spec.dtype not in ("float32", "float16", "uint8"):
        raise ModelError(f"input {spec.name!r} is {spec.dtype}; expected float32, float16 or uint8", where=str(path),
                         fix="export the model with a float32 image input")


BACKEND = Backend(OnnxRuntimeEngineConfig, OnnxRuntimeEngine.open)
