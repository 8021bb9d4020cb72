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
from edge_sdk.decode.registry import detect_layout, get_decoder
from edge_sdk.engines.base import Engine
from edge_sdk.engines.model_info import ModelMetadata, read_metadata
from edge_sdk.engines.registry import open_engine
from edge_sdk.errors import ConfigError, ModelError
from edge_sdk.sources.base import ReconnectPolicy, Source
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


def class_ids_from(names: list[str | int] | None, metadata: ModelMetadata,
                   where: str = "decode.classes") -> frozenset[int] | None:
    """Class names or ids from a config key as ids; ConfigError naming `where` for an unknown name."""
    if names is None:
        return None
    by_name = {v: k for k, v in metadata.names.items()}
    ids = set()
    for n in names:
        if isinstance(n, int):
            ids.add(n)
        elif n in by_name:
            ids.add(by_name[n])
        else:
            known = ", ".join(metadata.names.values()) or "(the model lists no class names)"
            raise ConfigError(f"unknown class {n!r}", where=where, fix=f"use one of: {known}")
    return frozenset(ids)


def open_model(cfg: AppConfig) -> ModelBundle:
    """Load the model into its engine and pick the decoder. The caller owns (closes) the engine."""
    path = model_path_for(cfg)
    metadata = read_metadata(path)
    engine = open_engine(cfg.engine.type, str(path), cfg.engine)
    try:
        name = cfg.decode.type
        if name == "auto":
            name = detect_layout(engine.info.outputs[0].shape, metadata.num_classes)
        decoder = get_decoder(name)
        params = DecodeParams(conf_thres=cfg.decode.conf_thres, iou_thres=cfg.decode.iou_thres,
                              max_det=cfg.decode.max_det, classes=class_ids_from(cfg.decode.classes, metadata))
    except BaseException:
        engine.close()
        raise
    log.info("model %s: %s engine on %s, %s, decoder %s, %d classes", path.name, engine.info.type,
             engine.info.device, engine.info.precision, name, len(metadata.names))
    return ModelBundle(path, metadata, engine, decoder, name, params)


def make_sources(cfg: AppConfig) -> list[Source]:
    return [open_source(s.uri, s.name, base_dir=cfg.base_dir, deliver_all=s.deliver_all, queue_size=s.queue_size,
                        reconnect=ReconnectPolicy(s.reconnect_initial_s, s.reconnect_max_s),
                        stall_timeout_s=s.stall_timeout_s)
            for s in cfg.sources]


@contextlib.contextmanager
def open_sources(cfg: AppConfig) -> Iterator[list[Source]]:
    with contextlib.ExitStack() as stack:
        sources = []
        for src in make_sources(cfg):
            sources.append(stack.enter_context(src))
            log.info("camera %s: opened %s", src.camera, src.uri.redacted())
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
