"""A rollout of an INT8 bundle goes through the INT8 build and its accuracy gate on the device (devgate.gate_int8):
a real daemon (run_service), a real broker, real ONNX Runtime quantization of a tiny convolutional detector on the
device's calibration frames. A bundle that cannot be built as INT8 (a graph with nothing to quantize) is rolled
back at the gate with the build's reason and the running model stays; a good one ships INT8 and the daemon runs it."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.fleet.bundle import BundleSpec, create_bundle, sha256_file
from edge_sdk.fleet.keys import generate
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.fleet.test_agent import Daemon, _model, _reported
from tests.pipeline.conftest import write_video
from tests.publish.conftest import TopicCollector
from tests.quant.tiny_detector import tiny_detector
from tests.support.broker import MosquittoBroker

pytestmark = [pytest.mark.broker]


def _versioned(src: Path, dst: Path, version: str) -> Path:
    import onnx

    m = onnx.load(str(src))
    onnx.helper.set_model_props(m, {**{p.key: p.value for p in m.metadata_props}, "version": version})
    onnx.save(m, str(dst))
    return dst


def _publish_desired(port: int, body: dict[str, str]) -> None:
    import json

    from tests.fleet.test_bridge import _publish

    _publish(port, "edge/d8/model/desired", [json.dumps(body).encode()], retain=True)


@pytest.mark.timeout(600)
def test_an_int8_bundle_is_built_and_gated_on_the_device(broker: MosquittoBroker, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "fleet.key"
    generate(key)
    frames = tmp_path / "calibration"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        cv2.imwrite(str(frames / f"f{i:03d}.png"), (rng.random((120, 160, 3)) * 255).astype(np.uint8))
    running = tiny_detector(tmp_path / "tiny.onnx")
    int8_bundle = tmp_path / "int8.bundle"
    create_bundle(BundleSpec(model=_versioned(running, tmp_path / "tiny-2.onnx", "2"), version="2", name="tiny",
                             build={"precision": "int8"}), key, int8_bundle)
    flat_bundle = tmp_path / "flat.bundle"  # a constant-output graph: nothing an INT8 build can quantize
    create_bundle(BundleSpec(model=_model(tmp_path / "flat.onnx", version="3"), version="3", name="flat",
                             build={"precision": "int8"}), key, flat_bundle)
    video = write_video(tmp_path / "clip.avi", 40)
    cfg_path = tmp_path / "app.yaml"
    # Loose bounds: the random tiny detector's INT8 form is far more sensitive than a trained model's; this is the
    # rollout's mechanics (tests/quant covers the gate's figures and what ships where).
    cfg_path.write_text(f"""device_id: d8
state_dir: {tmp_path / "state"}
model:
  path: {running}
calibration:
  dir: {frames}
build:
  max_map_drop: 100
  cpu_min_speedup: 0
sources:
  - name: cam0
    uri: file://{video}?loop=1&realtime=1&fps=10
mqtt:
  port: {broker.port}
  reconnect_min_s: 0.2
  reconnect_max_s: 1
fleet:
  enabled: true
  rollout:
    trusted_keys: {key.parent}
    frame_interval_s: 0.2
    min_frames: 3
    trial_s: 2
    min_fps_ratio: 0.1
    trial_max_detection_ratio: 100
""")
    reported = TopicCollector(broker.port, "edge/d8/model/reported")
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), devices=["d8"]).open()
    daemon = Daemon(cfg_path)
    try:
        flat_sha = sha256_file(flat_bundle)
        _publish_desired(broker.port, {"version": "3", "sha256": flat_sha, "path": str(flat_bundle)})
        r = _reported(reported, flat_sha, timeout=240)
        assert (r["state"], r["stage"]) == ("rolled_back", "gate"), r
        assert r["reason"].startswith("gate (INT8 build): ") and r["gate"]["kind"] == "int8-build", r
        assert r["running"]["version"] == "configured" and r["running"]["precision"] == "fp32", r

        int8_sha = sha256_file(int8_bundle)
        _publish_desired(broker.port, {"version": "2", "sha256": int8_sha, "path": str(int8_bundle)})
        r = _reported(reported, int8_sha, timeout=240)
        assert r["state"] == "active", r
        assert r["running"]["version"] == "2" and r["running"]["precision"] == "int8", r
        assert r["gate"]["kind"] == "int8-build" and r["gate"]["decision"] == "pass", r
        assert "within 100" in r["gate"]["detail"], r  # the INT8 build's accuracy gate, with this device's bound
        assert r["running"]["model_sha256"] == sha256_file(tmp_path / "tiny-2.onnx")  # the bundle's source model
        after = time.time()
        deadline = time.monotonic() + 30
        while (msg := sub.get(timeout=1)) is None or msg.received_time <= after:
            assert time.monotonic() < deadline, "no detection from the rolled-out model"
        assert msg.model.get("precision") == "int8", msg.model
        built = msg.model["sha256"]  # what runs: the INT8 form built on the device, not the bundle's FP32 file
        assert len(built) == 64 and built not in (r["running"]["model_sha256"], sha256_file(running)), msg.model
    finally:
        daemon.close()
        sub.close()
        reported.close()
