"""Detection and stats messages validate against the JSON Schemas kept in the repo."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from edge_sdk.decode.base import Detections
from edge_sdk.publish.message import (
    ModelRef,
    detections_message,
    detections_topic,
    encode,
    load_schema,
    stats_message,
    stats_topic,
    status_topic,
)
from edge_sdk.publish.subscriber import DetectionMessage
from tests.publish.helpers import ENGINE, LABELS, frame_result

MODEL = ModelRef("test-model", ENGINE.model_sha256, "fp32", "onnxruntime")


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _message(result, seq: int = 1) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(encode(detections_message(result, device_id="dev1", seq=seq, model=MODEL,
                                                label=lambda c: LABELS.get(c, str(c)))))


def test_detection_message_validates_and_keeps_the_boxes() -> None:
    result = frame_result("cam0", 7, n_dets=3)
    msg = _message(result, seq=8)
    _validator("detection").validate(msg)
    assert (msg["schema_version"], msg["type"], msg["device_id"], msg["camera"]) == (1, "detections", "dev1", "cam0")
    assert (msg["frame_id"], msg["seq"]) == (7, 8)
    assert msg["image"] == {"width": 640, "height": 480}
    assert msg["model"] == {"name": "test-model", "sha256": ENGINE.model_sha256, "precision": "fp32",
                            "engine": "onnxruntime"}
    assert msg["capture_time"] == pytest.approx(result.frame.t_capture_wall, abs=1e-5)
    assert msg["publish_time"] >= msg["capture_time"] and msg["latency_ms"] >= 0
    boxes = result.detections.boxes
    for i, det in enumerate(msg["detections"]):
        assert det["class_id"] == int(result.detections.class_ids[i])
        assert det["label"] == LABELS[det["class_id"]]
        assert det["score"] == pytest.approx(float(result.detections.scores[i]), abs=1e-4)
        assert det["box"] == pytest.approx(boxes[i].tolist(), abs=0.01)
        assert det["box_norm"] == pytest.approx((boxes[i] / [640, 480, 640, 480]).tolist(), abs=1e-5)


def test_empty_frame_still_makes_a_message() -> None:
    msg = _message(frame_result("cam1", 0, n_dets=0))
    _validator("detection").validate(msg)
    assert msg["detections"] == []


def test_boxes_are_clipped_and_non_finite_detections_dropped() -> None:
    result = frame_result("cam0", 1, n_dets=0)
    result.detections = Detections(np.array([[-5, 10, 700, 500], [np.nan, 0, 1, 1]], np.float32),
                                   np.array([0.8, 0.7], np.float32), np.array([1, 0]))
    msg = _message(result)
    _validator("detection").validate(msg)
    assert len(msg["detections"]) == 1
    assert msg["detections"][0]["box"] == [0.0, 10.0, 640.0, 480.0]
    assert msg["detections"][0]["box_norm"] == [0.0, pytest.approx(10 / 480, abs=1e-6), 1.0, 1.0]


def test_schema_rejects_a_broken_message() -> None:
    msg = _message(frame_result("cam0", 3))
    v = _validator("detection")
    for key, bad in (("seq", 0), ("camera", "cam/0"), ("message_id", "x")):
        broken = dict(msg, **{key: bad})
        assert not v.is_valid(broken), key
    del msg["frame_id"]
    assert not v.is_valid(msg)


def test_subscriber_parses_what_the_publisher_builds() -> None:
    result = frame_result("cam0", 4, n_dets=2)
    payload = encode(detections_message(result, device_id="dev1", seq=5, model=MODEL, label=str))
    parsed = DetectionMessage.parse("edge/dev1/cam0/detections", payload)
    assert (parsed.device_id, parsed.camera, parsed.frame_id, parsed.seq) == ("dev1", "cam0", 4, 5)
    assert [d.class_id for d in parsed.detections] == result.detections.class_ids.tolist()
    with pytest.raises(ValueError):
        DetectionMessage.parse("t", b"{not json")
    with pytest.raises(ValueError):
        DetectionMessage.parse("t", b'{"type": "detections", "schema_version": 1}')


def test_stats_message_carries_pipeline_figures_and_spool_counts() -> None:
    publisher = {"connected": True, "broker": "mqtt://127.0.0.1:1883", "client_id": "c", "qos": 1, "sent": 3,
                 "rejected": 0, "reconnects": 1, "last_error": None,
                 "spool": {"queued": 0, "queued_bytes": 0, "dropped": 2, "dropped_total": 5, "replayed": 7,
                           "oldest_age_s": None, "errors": 0}}
    msg = json.loads(encode(stats_message("dev1", {"results": 10, "fps": float("nan"), "stages": {"infer": {}}},
                                          publisher)))
    _validator("stats").validate(msg)
    assert msg["results"] == 10 and msg["fps"] is None and msg["mqtt"]["spool"]["dropped"] == 2


def test_topics() -> None:
    assert detections_topic("edge", "d", "cam0") == "edge/d/cam0/detections"
    assert status_topic("site/a", "d") == "site/a/d/status"
    assert stats_topic("edge", "d") == "edge/d/stats"
    _validator("status").validate("online")
    assert not _validator("status").is_valid("maybe")
