"""Build a TensorRT engine from an ONNX model (normally the INT8 step's Q/DQ model), through the engine cache.

    from edge_sdk.engines.trt.builder import build_engine
    art = build_engine("build/yolo-demo.qdq.onnx", "build/yolo-demo.cache", profile, cfg.engine, "build/engines")
    print(art.describe())           # reused or built, why, precision, DLA fallback layers, build time

`build_engine` is the entry point for `edge-sdk build`, provisioning and selftest. It reuses a cached engine
whose manifest matches (see cache.py), else builds: parse (network.py), configure (builder_config.py), build,
then stores engine and manifest atomically. `build_serialized` is the uncached core.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.engines.trt import cache
from edge_sdk.engines.trt.builder_config import BuildSettings, Precision, configure
from edge_sdk.engines.trt.calibrator import read_calibration_cache
from edge_sdk.engines.trt.dla import check_builder_core, check_requested_core, check_version_has_dla
from edge_sdk.engines.trt.facts import gather
from edge_sdk.engines.trt.key import engine_cache_key, key_digest
from edge_sdk.engines.trt.layers import LayerPrecisions, check_precision, inspect_layers
from edge_sdk.engines.trt.network import parse_onnx
from edge_sdk.engines.trt.timing_cache import TimingCacheUse, attach, save, timing_cache_path
from edge_sdk.engines.trt.trtlog import TrtLog
from edge_sdk.engines.trt.version import Features, TrtVersion, require_tensorrt
from edge_sdk.errors import BuildError, DeviceError, ModelError

if TYPE_CHECKING:
    from edge_sdk.device.profiles import DeviceProfile
    from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig

log = logging.getLogger(__name__)


@dataclass
class SerializedBuild:
    data: bytes
    seconds: float
    network_flags: tuple[str, ...]
    builder_flags: tuple[str, ...]
    fallback_layers: tuple[str, ...]
    num_layers: int
    timing_cache: TimingCacheUse
    phases: tuple[str, ...] = ()  # progress-monitor phases seen (TensorRT >= 10)
    warnings: tuple[str, ...] = ()
    layers: LayerPrecisions | None = None  # None: the built engine could not be inspected (said in the log)


@dataclass(frozen=True)
class EngineArtifact:
    """The result of `build_engine`: where the engine is, and what the build report says about it."""

    engine_path: Path
    manifest_path: Path
    manifest: dict[str, object]
    reused: bool
    reason: str
    precision: str
    tensorrt_version: str
    build_seconds: float | None = None
    fallback_layers: tuple[str, ...] = field(default_factory=tuple)

    @property
    def layer_precisions(self) -> dict[str, object] | None:
        """The build report's per-layer precisions (counts, and each layer's), if the engine was inspected."""
        build = self.manifest.get("build")
        value = build.get("layer_precisions") if isinstance(build, dict) else None
        return value if isinstance(value, dict) else None

    def describe(self) -> str:
        what = "reused" if self.reused else f"built in {self.build_seconds or 0.0:.1f} s"
        lines = [f"{self.engine_path}: {self.precision} engine, TensorRT {self.tensorrt_version}, {what} ({self.reason})"]
        build = self.manifest.get("build")
        summary = build.get("layer_summary") if isinstance(build, dict) else None
        if summary:
            lines.append(f"  {summary}")
        if self.fallback_layers:
            lines.append(f"  {len(self.fallback_layers)} layers run on the GPU, not DLA: " + ", ".join(self.fallback_layers))
        return "\n".join(lines)


def model_types(onnx_path: Path) -> tuple[bool, bool]:
    """(has Q/DQ nodes, has float16 weights) of an ONNX model."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # DecodeError, OSError, ...
        raise ModelError(f"cannot read ONNX model: {exc}", where=str(onnx_path),
                         fix="re-export the model or check that the file was copied completely") from exc
    qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)
    fp16 = any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    return qdq, fp16


def has_qdq(onnx_path: Path) -> bool:
    return model_types(onnx_path)[0]


def settings_for(engine_cfg: TensorRtEngineConfig, precision: Precision, *,
                 dynamic_batch: bool = False) -> BuildSettings:
    """The builder settings of an engine config at `precision` (what the cache key holds; fleet uses it too);
    `dynamic_batch`: the ONNX's batch is dynamic, so the engine gets a batch profile (1, opt, max) from
    `engine.opt_batch` and `engine.max_batch` (the pipeline sets max_batch to the camera count when it is unset)."""
    batch = None
    if dynamic_batch:
        high = engine_cfg.max_batch or 1
        batch = (1, min(engine_cfg.opt_batch or high, high), high)
    return BuildSettings(precision=precision, dla_core=engine_cfg.dla_core, gpu_fallback=engine_cfg.gpu_fallback,
                         workspace_mb=engine_cfg.workspace_mb, optimization_level=engine_cfg.optimization_level,
                         tf32=engine_cfg.tf32, batch=batch)


def has_dynamic_batch(onnx_path: Path) -> bool:
    """Whether the model's image input has a dynamic leading (batch) dimension."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    weights = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if vi.name not in weights and len(dims) == 4:
            return not (dims[0].HasField("dim_value") and dims[0].dim_value > 0)
    return False


def choose_precision(onnx_path: Path, requested: Precision | None) -> Precision:
    """The engine's precision: `requested`, or (None) the model's own: int8 for a Q/DQ model, fp16 for float16
    weights, else fp32. Never FP16 unless asked or in the model; contradictions are errors."""
    qdq, fp16 = model_types(onnx_path)
    if requested is None:
        chosen: Precision = "int8" if qdq else "fp16" if fp16 else "fp32"
        log.info("%s: building an %s engine (the model's own precision%s)", onnx_path.name, chosen.upper(),
                 "; model.precision: fp16 asks for FP16" if chosen == "fp32" else "")
        return chosen
    if requested == "int8" and not qdq:
        raise BuildError("INT8 was asked for but the model has no Q/DQ nodes", where=str(onnx_path),
                         fix="pass the Q/DQ model written by the INT8 step (edge-sdk build), or build fp16")
    if requested != "int8" and qdq:
        raise BuildError(f"{requested.upper()} was asked for but the model has Q/DQ nodes, which TensorRT runs in INT8",
                         where=str(onnx_path), fix="build the float model for fp32/fp16, or ask for int8")
    if requested == "fp32" and fp16:
        raise BuildError("FP32 was asked for but the model's weights are float16", where=str(onnx_path),
                         fix="export the model in float32, or ask for fp16")
    return requested


def build_serialized(onnx_path: Path, settings: BuildSettings, version: TrtVersion, *, calib_cache: bytes | None,
                     timing_cache_file: Path) -> SerializedBuild:
    """Parse, configure and build; no cache. `onnx_path` must already be FP16-converted on the 11.x path."""
    import tensorrt as trt

    features: Features = version.features
    trt_log = TrtLog()
    builder = trt.Builder(trt_log.logger)
    if settings.dla_core is not None:
        check_builder_core(settings.dla_core, builder.num_DLA_cores, version)
    parsed = parse_onnx(builder, trt_log.logger, onnx_path, features)
    config = builder.create_builder_config()
    configured = configure(config, parsed.network, settings, features, calib_cache, builder)
    timing = attach(config, timing_cache_file)
    log.info("building %s engine from %s with TensorRT %s (path %s)%s", settings.precision, onnx_path.name,
             version.text, features.path, "" if features.progress_monitor else "; no progress reports on 8.6")
    t0 = time.monotonic()
    serialized = builder.build_serialized_network(parsed.network, config)
    seconds = time.monotonic() - t0
    if serialized is None:
        raise BuildError(f"TensorRT could not build the engine: {trt_log.last_errors()}", where=str(onnx_path),
                         fix="run with -v for TensorRT's log; a larger engine.workspace_mb or another precision may help")
    if configured.calibrator is not None and configured.calibrator.asked_for_data:
        raise BuildError("the calibration cache lacks scales for tensors DLA runs in INT8", where="calib_cache",
                         fix="re-run the INT8 step on this model so that its cache covers every tensor")
    save(config, timing)
    data = bytes(serialized)
    log.info("engine built in %.1f s (%d bytes)", seconds, len(data))
    layers = inspect_built(data, trt_log, settings.dla_core)
    if layers is not None:
        log.info("layer precisions: %s", layers.describe(settings.precision))
        check_precision(layers, settings.precision, str(onnx_path))
    return SerializedBuild(data=data, seconds=seconds, network_flags=parsed.flags,
                           builder_flags=tuple(configured.builder_flags),
                           fallback_layers=tuple(str(p) for p in configured.fallback_layers),
                           num_layers=parsed.network.num_layers, timing_cache=timing,
                           phases=tuple(configured.progress.finished) if configured.progress else (),
                           warnings=tuple(trt_log.warnings), layers=layers)


def inspect_built(data: bytes, trt_log: TrtLog, dla_core: int | None) -> LayerPrecisions | None:
    """Deserialize the just-built engine to read its layers' precisions; None (and a warning) if it cannot be."""
    import tensorrt as trt

    runtime = trt.Runtime(trt_log.logger)
    if dla_core is not None:
        runtime.DLA_core = dla_core
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        log.warning("cannot inspect the built engine's layers (%s); the report lists no precisions",
                    trt_log.last_errors())
        return None
    try:
        return inspect_layers(engine)
    except ValueError as exc:
        log.warning("cannot read the engine inspector's layer list: %s", exc)
        return None


def build_engine(qdq_onnx: str | Path, calib_cache: str | Path | None, profile: DeviceProfile,
                 engine_cfg: TensorRtEngineConfig, out_dir: str | Path, *, precision: Precision | None = None,
                 calibration_set_sha256: str | None = None, force: bool = False, root: Path = Path("/"),
                 timing_cache_dir: Path | None = None) -> EngineArtifact:
    """Build (or reuse from `out_dir`) the engine of `qdq_onnx` for this device.

    qdq_onnx: the INT8 step's Q/DQ model (int8), or any float ONNX (fp16/fp32).
    calib_cache: the INT8 step's TensorRT calibration cache; needed for DLA INT8 on TensorRT 8.6/10.x, and
        hashed into the manifest when given. calibration_set_sha256: the INT8 step's hash of its calibration
        frames (in the manifest, so a new calibration set rebuilds).
    profile: the device profile (DLA cores, memory budget); engine_cfg: dla_core, gpu_fallback, workspace_mb,
        optimization_level. precision: None = int8 for a Q/DQ model, else fp16.
    Raises DependencyMissing without TensorRT, DeviceError for DLA/memory the device lacks, BuildError when
    TensorRT refuses the model, CalibrationError for a bad calibration cache.
    """
    version = require_tensorrt()
    features = version.features
    onnx_path, out = Path(qdq_onnx), Path(out_dir)
    if not onnx_path.is_file():
        raise ModelError("ONNX model not found", where=str(onnx_path), fix="run the INT8 step first, or check the path")
    chosen = choose_precision(onnx_path, precision)
    settings = settings_for(engine_cfg, chosen, dynamic_batch=has_dynamic_batch(onnx_path))
    if settings.workspace_mb > profile.memory_budget_mb:
        raise DeviceError(f"engine.workspace_mb {settings.workspace_mb} exceeds the {profile.name} memory budget of "
                          f"{profile.memory_budget_mb} MiB", where="engine.workspace_mb",
                          fix=f"set engine.workspace_mb to at most {profile.memory_budget_mb}")
    check_requested_core(settings.dla_core, profile, chosen)
    check_version_has_dla(settings.dla_core, version)
    calib_bytes: bytes | None = None
    if calib_cache is not None:
        calib_bytes, _ = read_calibration_cache(Path(calib_cache), version)
    facts = gather(version, profile, root)
    key = engine_cache_key(onnx_sha256=cache.sha256_file(onnx_path), target=facts.target(), settings=settings,
                           calibration_set_sha256=calibration_set_sha256,
                           calibration_cache_sha256=cache.sha256_bytes(calib_bytes) if calib_bytes is not None else None)
    engine_path = out / (cache.engine_stem(onnx_path, chosen, settings.dla_core) + ".engine")
    decision = cache.decide(engine_path, key)
    if decision.reuse and not force:
        log.info("using cached engine %s: %s", engine_path, decision.reason)
        manifest = cache.read_manifest(cache.manifest_path_for(engine_path))
        layers = manifest.get("build", {})
        fallback = tuple(layers.get("fallback_layers", ())) if isinstance(layers, dict) else ()
        return EngineArtifact(engine_path, cache.manifest_path_for(engine_path), manifest, True, decision.reason,
                              chosen, version.text, None, fallback)
    reason = "forced rebuild" if force else decision.reason
    log.info("building engine %s: %s", engine_path.name, reason)
    build_input = onnx_path
    if features.strongly_typed and chosen in ("fp16", "int8") and not model_types(onnx_path)[1]:
        from edge_sdk.engines.trt.fp16 import convert_to_fp16  # not when the ONNX is FP16 already (model.precision)

        build_input = convert_to_fp16(onnx_path, out / f"{onnx_path.stem}.fp16.onnx").path
    timing_file = timing_cache_path(timing_cache_dir or out / "timing-cache", version, profile.slug)
    built = build_serialized(build_input, settings, version, calib_cache=calib_bytes, timing_cache_file=timing_file)
    manifest = cache.store(engine_path, built.data, {
        "key": key, "key_digest": key_digest(key), "device": facts.as_dict(), "onnx_path": str(onnx_path),
        "calibration_cache_path": str(calib_cache) if calib_cache is not None else None,
        "build": {"seconds": round(built.seconds, 3), "reason": reason, "api_path": features.path,
                  "built_from": str(build_input), "network_flags": list(built.network_flags),
                  "builder_flags": list(built.builder_flags), "fallback_layers": list(built.fallback_layers),
                  "layer_precisions": built.layers.as_dict() if built.layers else None,
                  "layer_summary": built.layers.describe(chosen) if built.layers else "layers not inspected",
                  "num_layers": built.num_layers, "timing_cache": str(built.timing_cache.path),
                  "timing_cache_loaded_bytes": built.timing_cache.loaded_bytes,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}})
    artifact = EngineArtifact(engine_path, cache.manifest_path_for(engine_path), manifest, False, reason, chosen,
                              version.text, built.seconds, built.fallback_layers)
    log.info("%s", artifact.describe())
    return artifact
