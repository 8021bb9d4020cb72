"""`engine:` — which inference engine runs the model, keyed by `type`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge_sdk.config.base import Section

Provider = Literal["CPUExecutionProvider", "CUDAExecutionProvider"]


def _cpu_only() -> list[Provider]:
    return ["CPUExecutionProvider"]


class OnnxRuntimeEngineConfig(Section):
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


class TensorRtEngineConfig(Section):
    type: Literal["tensorrt"] = Field("tensorrt", description="a TensorRT engine built on this device")
    dla_core: int | None = Field(None, ge=0, le=1, description="run on this DLA core (Orin AGX/NX: 0 or 1); null = GPU")
    gpu_fallback: bool = Field(True, description="let layers DLA cannot run fall back to the GPU (listed in the build report)")
    workspace_mb: int = Field(1024, ge=16, le=65536, description="builder memory-pool (workspace) limit in MiB")
    optimization_level: int = Field(3, ge=0, le=5, description="builder optimization level (TensorRT >= 8.6)")
    engine_dir: str = Field("build/engines", description="where engines and their manifests are cached")
    slots: int = Field(2, ge=1, le=8, description="in-flight frames in the CUDA-stream runner (2 = double buffering)")
    calibration_cache: str | None = Field(
        None, description="TensorRT calibration cache from the INT8 step (relative to the model's folder); "
                          "needed for DLA INT8 on TensorRT 8.6/10.x")


EngineConfig = Annotated[OnnxRuntimeEngineConfig | TensorRtEngineConfig, Field(discriminator="type")]
