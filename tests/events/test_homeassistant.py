"""Home Assistant discovery payloads against Home Assistant's documented discovery schema (transcribed in
ha_discovery.schema.json) and topic format, and every state topic they name is one the events layer writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from edge_sdk.events.homeassistant import CameraEntities, discovery_messages

SCHEMA = json.loads((Path(__file__).parent / "ha_discovery.schema.json").read_text())
# homeassistant/components/mqtt/discovery.py: TOPIC_MATCHER
TOPIC = re.compile(r"^(?P<prefix>.+?)/(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$")


def _messages() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    cams = [CameraEntities("cam0", ["car", "person"], {"drive way": ["car"]}, ["gate"]),
            CameraEntities("cam1", ["car", "person"], {}, [])]
    return list(discovery_messages(discovery_prefix="homeassistant", topic_prefix="edge", device_id="box-1",
                                   device_name="edge-sdk box-1", model_name="yolo-demo", cameras=cams))


def test_every_payload_follows_the_discovery_schema() -> None:
    msgs = _messages()
    seen_ids = set()
    for topic, payload in msgs:
        m = TOPIC.match(topic)
        assert m is not None and m["prefix"] == "homeassistant", topic
        jsonschema.validate(payload, {**SCHEMA, "$ref": f"#/$defs/{m['component']}"})
        assert payload["unique_id"] not in seen_ids
        seen_ids.add(payload["unique_id"])
    components = [TOPIC.match(t)["component"] for t, _ in msgs]  # type: ignore[index]
    # online + cam0: 2 classes, zone car + all, gate in/out; cam1: 2 classes
    assert components.count("binary_sensor") == 1 and components.count("sensor") == 2 + 2 + 2 + 2


def test_state_topics_are_those_the_layer_publishes_and_availability_is_the_status_topic() -> None:
    states = {p["state_topic"] for _, p in _messages()}
    assert states == {"edge/box-1/status", "edge/box-1/cam0/objects", "edge/box-1/cam1/objects",
                      "edge/box-1/cam0/zones/drive way/count", "edge/box-1/cam0/lines/gate/count"}
    for _, p in _messages():
        if "availability" in p:
            assert p["availability"] == [{"topic": "edge/box-1/status"}]


def test_the_schema_rejects_what_home_assistant_rejects() -> None:
    _, good = next((t, p) for t, p in _messages() if "/sensor/" in t)
    for bad in ({**good, "stat_t": "x"}, {k: v for k, v in good.items() if k != "state_topic"},
                {**good, "device": {"name": "no identifiers"}}, {**good, "state_class": "sometimes"}):
        try:
            jsonschema.validate(bad, {**SCHEMA, "$ref": "#/$defs/sensor"})
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted: {bad}")
