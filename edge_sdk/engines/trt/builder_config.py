"""The IBuilderConfig of each API path: precision flags, memory limit, optimization level, DLA, calibrator.

What each path sets (tests/trt/test_builder_contract.py checks exactly this against a recording stand-in):

| | 8.6 | 10.x | 11.x |
|---|---|---|---|
| int8 | INT8 + FP16 flags | INT8 + FP16 flags | none (types from the FP16-converted Q/DQ ONNX) |
| fp16 | FP16 flag | FP16 flag | none (types from the FP16-converted ONNX) |
| DLA | device DLA, core, GPU_FALLBACK | same | same (TensorRT 11.4+; none on 10.8+ and 11.0-11.3) |
| DLA + int8 | + cache-only calibrator | + cache-only calibrator | - |
| always | WORKSPACE limit, optimization level, timing cache, DETAILED profiling | + progress monitor | + progress monitor |
| tf32: false | TF32 flag cleared | same | same |
| dynamic batch | a batch profile + PROFILE_SHARING_0806 | a batch profile (contexts share it) | a batch profile |

A dynamic batch (the ONNX's leading input dimension, kept by edge_sdk/model/prepare.py when the pipeline batches)
gets one optimization profile: batch 1 to `engine.max_batch` (else the camera count), tuned for `engine.opt_batch`
(else the max); on DLA, which has no dynamic shapes, exactly the max. Every slot's execution context uses it: profiles
are shared between contexts by default from TensorRT 10 on, and on 8.6 with the preview feature PROFILE_SHARING_0806.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from edge_sdk.engines.trt.calibrator import CacheOnlyCalibrator
from edge_sdk.engines.trt.dla import LayerPlacement, configure_dla, layers_off_dla, refuse_without_fallback
from edge_sdk.engines.trt.progress import ProgressLog, make_progress_monitor
from edge_sdk.engines.trt.version import Features
from edge_sdk.errors import BuildError

if TYPE_CHECKING:
    import tensorrt as trt

Precision = Literal["fp32", "fp16", "int8"]


@dataclass(frozen=True)
class BuildSettings:
    """Builder settings that go into the engine manifest (a change rebuilds the engine)."""

    precision: Precision
    dla_core: int | None = None
    gpu_fallback: bool = True
    workspace_mb: int = 1024
    optimization_level: int = 3
    tf32: bool = True  # TensorRT's default: FP32 convolutions and matmuls may use TF32 (Ampere and newer)
    batch: tuple[int, int, int] | None = None  # (min, opt, max) of a dynamic batch's optimization profile

    def builder_dict(self) -> dict[str, object]:
        """The builder part of the engine cache key (the batch profile only where there is one, so the keys of
        engines of a fixed batch stay what they were)."""
        out: dict[str, object] = {"workspace_mb": self.workspace_mb, "optimization_level": self.optimization_level,
                                  "gpu_fallback": self.gpu_fallback, "tf32": self.tf32}
        if self.batch is not None:
            out["batch_profile"] = list(self.batch)
        return out

    def as_dict(self) -> dict[str, object]:
        return {"precision": self.precision, "dla_core": self.dla_core, **self.builder_dict()}


@dataclass
class ConfiguredBuild:
    """What was set on the config, and the objects that must stay alive until the build returns."""

    builder_flags: list[str] = field(default_factory=list)
    fallback_layers: list[LayerPlacement] = field(default_factory=list)
    calibrator: CacheOnlyCalibrator | None = None
    progress: ProgressLog | None = None
    monitor: trt.IProgressMonitor | None = None


def configure(config: trt.IBuilderConfig, network: trt.INetworkDefinition, settings: BuildSettings,
              features: Features, calib_cache: bytes | None, builder: trt.Builder | None = None) -> ConfiguredBuild:
    import tensorrt as trt

    done = ConfiguredBuild()
    if builder is not None:
        add_batch_profile(builder, config, network, settings, features, done)
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mb << 20)
    config.builder_optimization_level = settings.optimization_level
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if not settings.tf32:  # TensorRT sets TF32 by default: FP32 layers may round inputs to TF32's 10-bit mantissa
        config.clear_flag(trt.BuilderFlag.TF32)
        done.builder_flags.append("-TF32")
    if features.precision_flags and settings.precision in ("fp16", "int8"):
        if settings.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            done.builder_flags.append("INT8")
        config.set_flag(trt.BuilderFlag.FP16)  # INT8 layers' neighbours run FP16, not FP32
        done.builder_flags.append("FP16")
    if settings.dla_core is not None:
        configure_dla(config, settings.dla_core, settings.gpu_fallback)
        if settings.gpu_fallback:
            done.builder_flags.append("GPU_FALLBACK")
        done.fallback_layers = layers_off_dla(network, config)
        refuse_without_fallback(done.fallback_layers, settings.gpu_fallback, network.num_layers)
        if settings.precision == "int8" and features.dla_calibrator:
            if calib_cache is None:
                raise BuildError(f"DLA INT8 on TensorRT {features.path} needs the calibration cache of the INT8 step",
                                 where="calib_cache",
                                 fix="pass the .cache file the INT8 step wrote next to the Q/DQ model, "
                                     "or build for the GPU (engine.dla_core: null)")
            done.calibrator = CacheOnlyCalibrator(calib_cache)
            config.int8_calibrator = done.calibrator.calibrator
    if features.progress_monitor:
        done.progress = ProgressLog()
        done.monitor = make_progress_monitor(done.progress)
        config.progress_monitor = done.monitor
    return done


def add_batch_profile(builder: trt.Builder, config: trt.IBuilderConfig, network: trt.INetworkDefinition,
                      settings: BuildSettings, features: Features, done: ConfiguredBuild) -> None:
    """One optimization profile for the network's dynamic batch (see the module docstring); none for a fixed one."""
    import tensorrt as trt

    shapes = {t.name: _dims(t.shape) for t in (network.get_input(i) for i in range(network.num_inputs))}
    dynamic = {name: shape for name, shape in shapes.items() if shape and shape[0] < 0}
    if not dynamic:
        return
    others = [name for name, shape in dynamic.items() if any(d < 0 for d in shape[1:])]
    if others:
        raise BuildError(f"inputs {others} have dynamic dimensions other than the batch", where="engine.type tensorrt",
                         fix="export the model with a fixed input size (edge-sdk fixes it: build from the model the "
                             "pipeline prepared)")
    low, opt, high = settings.batch or (1, 1, 1)
    if settings.dla_core is not None:
        low = opt = high  # DLA runs static shapes only: exactly the max (a partial batch is padded)
    profile = builder.create_optimization_profile()
    for name, shape in dynamic.items():
        rest = list(shape[1:])
        profile.set_shape(name, trt.Dims([low, *rest]), trt.Dims([opt, *rest]), trt.Dims([high, *rest]))
    config.add_optimization_profile(profile)
    done.builder_flags.append(f"profile batch {low}/{opt}/{high}")
    if features.path == "8.6":  # from 10.0 on every context may use the one profile; on 8.6 only with this
        config.set_preview_feature(trt.PreviewFeature.PROFILE_SHARING_0806, True)
        done.builder_flags.append("PROFILE_SHARING_0806")


def _dims(dims: trt.Dims) -> tuple[int, ...]:
    return tuple(int(dims[i]) for i in range(len(dims)))
