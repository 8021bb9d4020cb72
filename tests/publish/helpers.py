"""Synthetic frame results and a paced stream for publisher tests (no model needed: the publisher only
sees FrameResults), and a publisher/subscriber pair on a test broker."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.decode.base import Detections
from edge_sdk.engines.base import EngineInfo, TensorSpec
from edge_sdk.frame import Frame, FrameResult
from edge_sdk.publish.mqtt import MqttPublisher
from edge_sdk.publish.settings import BrokerSettings, PublisherSettings

ENGINE = EngineInfo(type="onnxruntime", model_path="models/test.onnx", model_sha256="0123456789abcdef" * 4,
                    precision="fp32", inputs=(TensorSpec("images", (1, 3, 64, 64), "float32"),), outputs=(),
                    device="cpu")
LABELS = {0: "person", 1: "car", 2: "dog"}
_IMAGE = np.zeros((480, 640, 3), np.uint8)  # shared: the publisher reads only its shape


def frame_result(camera: str, frame_id: int, n_dets: int = 2) -> FrameResult:
    """A result with `n_dets` detections whose classes cycle person, car, dog."""
    frame = Frame(frame_id, camera, _IMAGE, time.monotonic(), time.time())
    k = np.arange(n_dets, dtype=np.float32)
    boxes = np.stack([10 + 20 * k, 20 + 10 * k, 110 + 20 * k, 220 + 10 * k], axis=1).astype(np.float32)
    scores = (0.9 - 0.1 * k).astype(np.float32)
    class_ids = (np.arange(n_dets) + frame_id) % 3
    return FrameResult(frame, Detections(boxes.reshape(-1, 4), scores, class_ids.astype(np.int64)))


def publisher_settings(port: int, spool: Path | None, *, device_id: str = "dev1", client_id: str | None = None,
                       broker: BrokerSettings | None = None, **kw: Any) -> PublisherSettings:
    defaults: dict[str, Any] = {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0, "drain_timeout_s": 3.0}
    defaults.update(kw)
    return PublisherSettings(broker=broker or BrokerSettings(port=port, connect_timeout_s=3.0), device_id=device_id,
                             client_id=client_id or f"pub-{device_id}", spool_path=spool, model_name="test-model",
                             **defaults)


def open_test_publisher(settings: PublisherSettings) -> MqttPublisher:
    return MqttPublisher(settings, engine_info=ENGINE, label=lambda c: LABELS.get(c, str(c))).start()


class PacedStream:
    """Publishes frames of several cameras at `fps` each from a thread, like a pipeline would."""

    def __init__(self, publisher: MqttPublisher, cameras: tuple[str, ...] = ("cam0", "cam1"), fps: float = 30.0,
                 first_frame: int = 0) -> None:
        self.publisher = publisher
        self.cameras = cameras
        self.period = 1.0 / fps
        self.published: dict[str, int] = defaultdict(int)  # frames handed over, per camera
        self.first_frame = first_frame
        self.max_call_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paced-stream", daemon=True)

    def start(self) -> PacedStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        next_t = time.monotonic()
        frame_id = self.first_frame
        while not self._stop.is_set():
            for cam in self.cameras:
                t0 = time.perf_counter()
                self.publisher.publish_result(frame_result(cam, frame_id))
                self.max_call_s = max(self.max_call_s, time.perf_counter() - t0)
                self.published[cam] += 1
            frame_id += 1
            next_t += self.period
            self._stop.wait(max(0.0, next_t - time.monotonic()))


def wait_until(predicate: Any, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
