"""Wire the pipeline's parts from an `AppConfig`: model, engine, decoder, sources and publisher.

`open_parts(cfg)` is a context manager that owns everything it opens and closes it in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.decode.base import DecodeParams, Decoder
from edge_sdk.engines.base import Engine
from edge_sdk.engines.batch import BatchPlan
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.engines.registry import open_engine
from edge_sdk.errors import ConfigError, EdgeSdkError, ModelError
from edge_sdk.model.resolve import model_cache_dir
from edge_sdk.pipeline.executors import max_batch_for
from edge_sdk.preprocess.spec import PreprocessSpec, ultralytics_spec
from edge_sdk.sources.base import Source
from edge_sdk.sources.reconnect import ReconnectPolicy
from edge_sdk.sources.registry import open_source

log = logging.getLogger(__name__)


@dataclass
class ModelBundle:
    path: Path
    metadata: ModelMetadata
    engine: Engine
    decoder: Decoder
    decoder_name: str
    params: DecodeParams
    preprocess: PreprocessSpec | None = None  # None: Ultralytics' letterbox at the engine's input size
    resolved: Any = None  # the edge_sdk.model.resolve.ResolvedModel it came from

    @property
    def spec(self) -> PreprocessSpec:
        """The model's preprocessing (Ultralytics' letterbox at the engine's input size when none was settled)."""
        return self.preprocess or ultralytics_spec(self.engine.info.input_hw)


def model_path_for(cfg: AppConfig) -> Path:
    """The ONNX file to run: the FP32 model, or the INT8 Q/DQ model made by `edge-sdk build`."""
    fp32 = cfg.resolve(cfg.model.path)
    if not fp32.is_file():
        raise ModelError("model file not found", where=str(fp32),
                         fix="set model.path in the config to an existing ONNX file (relative to the config file)")
    if cfg.model.precision == "int8":
        from edge_sdk.quant import resolve_int8_model

        return Path(resolve_int8_model(cfg))
    return fp32


def open_model(cfg: AppConfig, *, fp32: bool = False) -> ModelBundle:
    """Check and fix the model, load it into its engine, run one inference on a blank input, pick and check
    the decoder (`fp32`: the FP32 model whatever model.precision says). The caller owns (closes) the engine."""
    from edge_sdk.model.decoding import choose_decoder, first_image
    from edge_sdk.model.resolve import origin_summary, resolve_model

    source = cfg.resolve(cfg.model.path)
    batch = max_batch_for(cfg)
    from edge_sdk.engines.trt.plan_file import ENGINE_SUFFIXES

    if source.suffix in ENGINE_SUFFIXES:  # a TensorRT engine built elsewhere (trtexec, Ultralytics) or by edge-sdk
        path = source
        engine, resolved = open_engine_file(cfg, source)
    else:
        path = source if fp32 else model_path_for(cfg)
        resolved = resolve_model(path, cfg.model, base_dir=cfg.base_dir, cache_dir=model_cache_dir(cfg),
                                 conventions_from=source, batch=batch)
        run_path = resolved.path
        if cfg.model.precision == "fp16" and not fp32:
            from edge_sdk.engines.trt.fp16 import fp16_model

            run_path = fp16_model(resolved.path, model_cache_dir(cfg))
        engine = open_engine(cfg.engine.type, str(run_path), cfg.engine.model_copy(update={"max_batch": batch}))
    try:
        rows = BatchPlan.of(engine.info, 1).rows_for(1)  # the model's fixed batch, or one image where it varies
        probe_spec = resolved.preprocess.with_changes(batch=rows)
        probe = first_image(probe_engine(engine, probe_spec, resolved.path), rows)
        names = [o.name for o in engine.info.outputs]
        decoder, resolved, how = choose_decoder(cfg.decode.type, resolved, names, probe)
        metadata = resolved.metadata
        params = DecodeParams(conf_thres=cfg.decode.conf_thres, iou_thres=cfg.decode.iou_thres,
                              max_det=cfg.decode.max_det, classes=metadata.class_ids(cfg.decode.classes))
    except BaseException:
        engine.close()
        raise
    spec = resolved.preprocess
    log.info("model %s: %s engine on %s, %s, decoder %s (%s), %d classes%s", path.name, engine.info.type,
             engine.info.device, engine.info.precision, decoder.name, how, len(metadata.names),
             f" ({resolved.labels_origin})" if resolved.labels_origin else "")
    log.info("model %s: preprocess %s [%s]", path.name, spec.describe(), origin_summary(spec))
    plan = BatchPlan.of(engine.info, batch)
    if batch > 1 or plan.rows > 1:
        log.info("model %s: up to %d frame(s) per inference across %d camera(s)%s", path.name, plan.fill,
                 len(cfg.sources), "" if plan.variable else f" ({plan.rows} images computed each time)")
    if resolved.stated_nothing():
        log.warning("model %s states nothing about its preprocessing and the config sets none: using %s; if it "
                    "was trained otherwise, set model.preprocess.* (docs/models.md)", path.name, spec.describe())
    for note in resolved.prepared.notes:
        log.warning("model %s: %s", path.name, note)
    return ModelBundle(path, metadata, engine, decoder, decoder.name, params, spec, resolved)


def open_engine_file(cfg: AppConfig, path: Path) -> tuple[Engine, Any]:
    """model.path is a TensorRT engine file: open it (checked for TensorRT version and GPU) and settle its
    preprocessing and labels from the engine's input and the file's metadata (edge_sdk.model.resolve)."""
    from edge_sdk.engines.trt.plan_file import plan_metadata
    from edge_sdk.model.resolve import resolve_engine_file

    if cfg.engine.type != "tensorrt":
        raise ConfigError(f"model.path is a TensorRT engine file ({path.name}) but engine.type is {cfg.engine.type}",
                          where="engine.type", fix="set engine.type: tensorrt, or point model.path at the ONNX model")
    if cfg.model.precision != "fp32":
        log.warning("model.precision %s does not apply to an engine file: it runs as it was built", cfg.model.precision)
    if not path.is_file():
        raise ModelError("engine file not found", where=str(path), fix="set model.path to an existing engine file")
    metadata = plan_metadata(path)
    engine = open_engine(cfg.engine.type, str(path), cfg.engine)
    try:
        spec = engine.info.inputs[0]
        shape = tuple(int(d) for d in spec.shape if isinstance(d, int))
        resolved = resolve_engine_file(path, cfg.model, spec.name, shape, spec.dtype, metadata, base_dir=cfg.base_dir)
    except BaseException:
        engine.close()
        raise
    return engine, resolved


def probe_engine(engine: Engine, spec: PreprocessSpec, where: Path) -> list[Any]:
    """One inference on a blank input: the outputs' real shapes, and a model that cannot run fails here."""
    try:
        return engine.infer(spec.blank())
    except EdgeSdkError:
        raise
    except Exception as exc:  # the runtime's own error types
        raise ModelError(f"the model fails on an input of shape {list(spec.tensor_shape())} {spec.dtype}: "
                         f"{str(exc).strip()[:300]}", where=str(where),
                         fix="check the export with `edge-sdk model check`; re-export if it does not run") from exc


#: Video decoder threads of file sources when the engine runs on a GPU (the URI's `threads=` wins). FFmpeg's frame
#: threads take H.264 decoding off the capture thread, which then only converts to BGR: on the CPU path one
#: thread leaves the cores to the engine; on a GPU the cores are free and one decoding thread is the limit.
GPU_DECODER_THREADS = 4


def make_sources(cfg: AppConfig, *, gpu: bool = False) -> list[Source]:
    """The configured cameras, not started. `gpu`: the engine runs on a GPU (files decode with GPU_DECODER_THREADS)."""
    return [open_source(s.uri, s.name, base_dir=cfg.base_dir, deliver_all=s.deliver_all, queue_size=s.queue_size,
                        reconnect=ReconnectPolicy(s.reconnect_initial_s, s.reconnect_max_s),
                        stall_timeout_s=s.stall_timeout_s, decoder_threads=GPU_DECODER_THREADS if gpu else None)
            for s in cfg.sources]


@contextlib.contextmanager
def open_sources(cfg: AppConfig, *, gpu: bool = False) -> Iterator[list[Source]]:
    """Start every camera; each fails alone. A live camera that cannot be opened now is retried in the
    background (status `reconnecting`); one that is not live (a file) and cannot be opened is marked failed
    (status `offline`) and the others run. Raises the first error only when no camera can ever deliver."""
    with contextlib.ExitStack() as stack:
        sources: list[Source] = []
        failures: list[BaseException] = []
        for src in make_sources(cfg, gpu=gpu):
            sources.append(src)
            try:
                src.start(retry=True)
            except Exception as exc:
                failures.append(exc)
                src.fail(str(exc).splitlines()[0])
                log.error("camera %s: cannot open %s: %s; running without it", src.camera, src.uri.redacted(),
                          src.health.last_error)
                continue
            stack.callback(src.close)
            if src.health.state == "streaming":
                log.info("camera %s: opened %s", src.camera, src.uri.redacted())
        if len(failures) == len(sources):
            raise failures[0]
        yield sources


def open_publisher_for(cfg: AppConfig, bundle: ModelBundle) -> Any:
    """The MQTT publisher, or None when mqtt.enabled is false. Imported lazily (paho-mqtt)."""
    if not cfg.mqtt.enabled:
        return None
    from edge_sdk.publish import open_publisher

    return open_publisher(cfg, engine_info=bundle.engine.info, metadata=bundle.metadata)


def open_event_layer(cfg: AppConfig, bundle: ModelBundle, publisher: Any) -> Any:
    """The events layer (tracking, zones, snapshots, preview; edge_sdk/events/), or None when the config has
    neither `events` nor `preview`. Use it as a context manager and hand `on_result` every result."""
    from edge_sdk.events.layer import EventLayer

    return EventLayer.from_config(cfg, bundle.metadata, publisher)
