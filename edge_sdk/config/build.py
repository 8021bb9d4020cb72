"""`build:` — the INT8 step of `edge-sdk build`: calibration method, Q/DQ placement, accuracy gate, repair.

Defaults give the TensorRT form (symmetric INT8 activations, per-channel symmetric weights, Q/DQ on the
inputs of Conv/MatMul/Gemm) plus a CPU form that ONNX Runtime's integer kernels accelerate, both from one
set of calibration statistics, and refuse a result that loses more than `max_map_drop` mAP50-95 points.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edge_sdk.config.base import Section

Method = Literal["minmax", "entropy", "percentile"]

#: The calibration method `edge-sdk build` uses unless the config names one: the best of the three on the
#: demo model in tools/bench_int8.py (see the build report for the figures).
DEFAULT_METHOD: Method = "percentile"


class BuildConfig(Section):
    dir: str | None = Field(None, description="build directory (relative to the config file); "
                                              "default <state_dir>/build/<model name>")
    method: Method = Field(DEFAULT_METHOD, description="calibration method of onnxruntime.quantization: "
                                                       "minmax, entropy or percentile")
    percentile: float = Field(99.999, ge=90.0, le=100.0, description="percentile method: share of |values| kept in range")
    histogram_bins: int = Field(2048, ge=256, le=16384, description="entropy/percentile methods: histogram bins per tensor")
    op_types: list[str] = Field(default_factory=lambda: ["Conv", "MatMul", "Gemm"], min_length=1,
                                description="op types TensorRT runs in INT8: Q/DQ go on their inputs (and weights)")
    exclude_nodes: list[str] = Field(default_factory=list,
                                     description="node names (or fnmatch patterns like '/detect/dfl/*') kept in float")
    keep_decode_float: bool = Field(True, description="keep the box-decoding tail in float (a Conv fed by Softmax, "
                                                      "i.e. YOLOv8's DFL): quantizing it costs box precision")
    cpu_form: Literal["ort", "trt"] = Field(
        "ort", description="the INT8 model `edge-sdk run` uses on ONNX Runtime: ort = U8S8 Q/DQ that ONNX Runtime's "
                           "integer kernels accelerate; trt = the TensorRT-form model (simulated, slower than FP32)")
    cpu_int8_silu: bool = Field(True, description="ort form: also run SiLU (Sigmoid, Mul) and the C2f Concat/Add/"
                                                  "MaxPool/Resize in INT8 (faster on the CPU; the head's decode stays float)")
    cpu_float_input_layer: bool = Field(True, description="ort form: keep the input layer (the conv that reads the "
                                                          "image, and its SiLU) in float: faster on ONNX Runtime's CPU "
                                                          "with 3 input channels, and more accurate")
    max_map_drop: float = Field(1.0, ge=0.0, le=100.0,
                                description="accuracy budget: the largest drop of mAP50-95 (points) of INT8 against "
                                            "FP32 on the held-out frames")
    min_layer_sqnr_db: float = Field(
        20.0, ge=0.0, le=100.0,
        description="placement: a layer whose own output INT8 reproduces at under this SQNR (dB; input at its "
                    "calibrated scale, weights per channel, on calibration frames) stays float in both forms before the "
                    "gate (a depthwise conv whose input channels span very different ranges); 0 = off")
    accept_over_budget: bool = Field(False, description="ship the INT8 model even when the gate fails "
                                                        "(the report says so); false fails the build")
    gate_bootstrap: int = Field(100, ge=0, le=10000,
                                description="draws of the held-out frames for the 90% interval of each shipped form's "
                                            "drop (how far the gate's figure can be trusted); 0 = no interval")
    gate_min_class_objects: int = Field(
        10, ge=0, le=100000, description="classes with fewer reference objects in the held-out frames are reported "
                                         "per class but do not decide the gate (the deciding mAP is over the other "
                                         "classes); 0 = every class decides")
    repair: bool = Field(True, description="when over budget, keep the most quantization-sensitive layers in float and retry")
    max_float_layers: int = Field(8, ge=0, le=1000, description="repair limit: most layers kept in float")
    repair_min_gain: float = Field(0.05, ge=0.0, le=100.0,
                                   description="repair stops when a step lowers the drop by less than this many mAP50-95 "
                                               "points (more float layers no longer help)")
    repair_time_limit_s: float = Field(600.0, ge=0.0, le=86400.0,
                                       description="repair stops starting new attempts after this many seconds per form "
                                                   "(0 = no limit)")
    cpu_min_speedup: float = Field(1.1, ge=0.0, le=100.0,
                                   description="the INT8 CPU form ships only when this build measured it at least this "
                                               "many times faster than FP32 on this machine; otherwise FP32 runs and the "
                                               "report says so (0 = ship INT8 whatever its speed)")
    trt_min_speedup: float = Field(1.05, ge=0.0, le=100.0,
                                   description="with engine.type tensorrt: the INT8 engine ships only when it passed the "
                                               "accuracy gate and measured at least this many times faster than the FP16 "
                                               "engine on this device; otherwise FP16 ships and the report says why "
                                               "(0 = INT8 whatever its speed)")
    sensitivity_frames: int = Field(6, ge=1, le=1000, description="calibration frames the per-layer sensitivity is measured on")
    speed_runs: int = Field(20, ge=1, le=10000, description="timed runs of each model for the report's latency")
    threads: int = Field(0, ge=0, le=256, description="ONNX Runtime threads for calibration and the gate; 0 = all cores")
    trt_versions: list[str] = Field(default_factory=lambda: ["8.6.1", "10.3.0"], min_length=1,
                                    description="TensorRT versions to write calibration caches for (header TRT-<n>-...)")

    @field_validator("trt_versions")
    @classmethod
    def _versions(cls, value: list[str]) -> list[str]:
        for v in value:
            parts = v.split(".")
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                raise ValueError(f"TensorRT version {v!r} must look like 8.6.1 or 10.3.0")
        return value
