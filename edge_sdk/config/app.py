"""The whole app config: device, model, sources, engine, decode, pipeline, MQTT, logging."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from edge_sdk.config.base import Section
from edge_sdk.config.build import BuildConfig
from edge_sdk.config.calibration import CalibrationConfig
from edge_sdk.config.daemon import DaemonConfig
from edge_sdk.config.events import EventsConfig, HomeAssistantConfig, PreviewConfig
from edge_sdk.config.fleet import FleetConfig
from edge_sdk.config.mqtt import MqttConfig
from edge_sdk.config.precision import Precision
from edge_sdk.config.preprocess import PreprocessConfig
from edge_sdk.config.source import SourceConfig
from edge_sdk.engines.base import EngineConfigBase
from edge_sdk.engines.registry import default_engine_config, engine_config_union

if TYPE_CHECKING:  # mypy sees the base class; narrow with isinstance on a backend's config class
    EngineConfig = EngineConfigBase
else:  # the registered backends' sections, a union discriminated on `type` (engines/registry.py)
    EngineConfig = engine_config_union()


def _default_device_id() -> str:
    host = socket.gethostname().split(".")[0] or "edge"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in host)[:64]


class ModelConfig(Section):
    path: str = Field("models/demo/yolo-demo.onnx", description="FP32 ONNX model (relative to the config file)")
    name: str | None = Field(None, description="model name in messages; default the file name without suffix")
    precision: Precision = Field(
        "fp32", description="fp32: the model as it is (never turned into FP16 quietly); fp16: its FP16 form (a GPU "
                            "engine: TensorRT, or ONNX Runtime's CUDA provider); int8: the Q/DQ model made by "
                            "`edge-sdk build`")
    labels: str | list[str] | None = Field(
        None, description="class names: a file (one name per line, or a JSON/YAML list or {id: name} mapping; "
                          "relative to the config file) or an inline list; default the model's own (metadata "
                          "`names`, `labels`, ..., or a PaddleDetection infer_cfg.yml beside it), else the ids")
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig,
                                         description="how frames become the model input; each key left out is "
                                                     "read from the model (see docs/models.md)")


class DecodeConfig(Section):
    type: str = Field("auto", description="auto, yolov8, yolov5, end2end, or a dotted path module:function")
    conf_thres: float = Field(0.25, ge=0.0, le=1.0, description="minimum score of a detection")
    iou_thres: float = Field(0.45, gt=0.0, le=1.0, description="IoU above which NMS suppresses a box of the same class")
    max_det: int = Field(100, ge=1, le=10000, description="maximum detections per frame")
    classes: list[str | int] | None = Field(None, description="keep only these classes (names or ids); null keeps all")


class PipelineConfig(Section):
    queue_size: int = Field(2, ge=1, le=64, description="frames buffered between stages")
    background_nice: int = Field(0, ge=0, le=19, description="niceness added to capture/preprocess/decode threads "
                                 "so the engine's threads win the CPU on small machines (0 = same priority)")


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    format: Literal["auto", "journal", "text", "json"] = Field(
        "auto", description="auto: journal style under systemd (no timestamps), text with timestamps otherwise")


class AppConfig(Section):
    version: Literal[1] = Field(1, description="config schema version")
    device: str = Field("cpu", description="device profile: cpu, orin-agx, orin-nx, orin-nano, or auto (detect the board)")
    device_id: str = Field(default_factory=_default_device_id, pattern=r"^[A-Za-z0-9_-]{1,64}$",
                           description="this device's id in MQTT topics; default the host name")
    state_dir: str = Field("state", description="writable state (spool, build outputs); relative to the config file")
    model: ModelConfig = Field(default_factory=ModelConfig, description="the detection model")
    engine: EngineConfig = Field(default_factory=default_engine_config, description="the inference engine, by type")
    decode: DecodeConfig = Field(default_factory=DecodeConfig, description="output decoding and NMS")
    sources: list[SourceConfig] = Field(..., min_length=1, max_length=32, description="cameras (an AGX Orin decodes 22 "
                                        "1080p30 streams in hardware: edge_sdk/device/decode_budget.py)")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig, description="pipeline queues and workers")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT publishing")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="logging")
    daemon: DaemonConfig = Field(default_factory=DaemonConfig, description="service behaviour under systemd")
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig, description="calibration frames (INT8)")
    build: BuildConfig = Field(default_factory=BuildConfig, description="the INT8 step of `edge-sdk build`")
    fleet: FleetConfig = Field(default_factory=FleetConfig, description="fleet membership and model rollouts")
    events: EventsConfig | None = Field(None, description="tracking, zones, lines and events; absent: no events")
    preview: PreviewConfig = Field(default_factory=PreviewConfig, description="live annotated MJPEG preview (off)")
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig,
                                               description="Home Assistant MQTT discovery (off)")

    # Set by the loader: the directory relative paths are resolved from. Not a key of the file (nor of the schema).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        names = [s.name for s in value]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"camera names must be unique; repeated: {', '.join(dup)}")
        return value

    @model_validator(mode="after")
    def _engine_fits_precision(self) -> AppConfig:
        providers = getattr(self.engine, "providers", None)
        if self.model.precision == "fp16" and providers and providers[0] == "CPUExecutionProvider":
            raise ValueError("model.precision fp16 needs a GPU engine: engine.type tensorrt, or onnxruntime with "
                             "providers [CUDAExecutionProvider] (ONNX Runtime's CPU provider has no FP16 kernels)")
        return self

    @model_validator(mode="after")
    def _events_fit_cameras(self) -> AppConfig:
        if self.events is not None:
            unknown = sorted(set(self.events.cameras) - {s.name for s in self.sources})
            if unknown:
                raise ValueError(f"events.cameras names unknown cameras {unknown}; cameras are "
                                 f"{[s.name for s in self.sources]}")
        if self.homeassistant.enabled and (self.events is None or not self.mqtt.enabled):
            raise ValueError("homeassistant.enabled needs an events section and mqtt.enabled")
        return self

    @property
    def base_dir(self) -> Path:
        """The directory relative paths are resolved from: the config file's (set by the loader), else the cwd."""
        return self._base_dir

    @base_dir.setter
    def base_dir(self, value: Path) -> None:
        self._base_dir = value

    def side_run(self, name: str, spool_dir: Path) -> AppConfig:
        """A copy for a run beside the service (provision's smoke run, `edge-sdk bench`) that never touches the
        service's MQTT state: its own client id (`edge-sdk-<device_id>-<name>`; the service's id would make the
        broker kick one of them off at every connect), its own throw-away spool in `spool_dir` (its messages are
        never replayed by the service, nor the service's old ones counted as its own), and its own topics under
        `<prefix>/<device_id>/<name>/` (its retained status never overwrites the service's, and consumers of
        `<prefix>/+/+/detections` do not see its frames; an ACL granting the device `<prefix>/<device_id>/#`
        allows them)."""
        cfg = self.model_copy(deep=True)
        m = cfg.mqtt
        m.client_id = f"{m.client_id or 'edge-sdk-' + cfg.device_id}-{name}"
        m.topic_prefix = f"{m.topic_prefix}/{cfg.device_id}/{name}"
        m.spool.path = str(spool_dir / f"{name}-spool.sqlite")
        return cfg

    def resolve(self, path: str) -> Path:
        """A path from the config, resolved against the config file's directory."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def model_name(self) -> str:
        return self.model.name or Path(self.model.path).stem
