"""Home Assistant discovery payloads against Home Assistant's documented discovery schema (transcribed in
ha_discovery.schema.json) and topic format; every state topic they name is one the daemon writes; a camera's
entities are available while the device's and the camera's status topics both say online."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from edge_sdk.events.homeassistant import CameraEntities, discovery_messages
from edge_sdk.publish.message import camera_status_message
from edge_sdk.sources.status import CameraStatus

SCHEMA = json.loads((Path(__file__).parent / "ha_discovery.schema.json").read_text())
CAMERA_STATUS_SCHEMA = json.loads((Path(__file__).parents[2] / "edge_sdk/schemas/camera_status.schema.json").read_text())
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
    # device online + each camera online; cam0: 2 classes, zone car + all, gate in/out; cam1: 2 classes
    assert components.count("binary_sensor") == 1 + 2 and components.count("sensor") == 2 + 2 + 2 + 2


def test_state_topics_are_those_the_daemon_publishes() -> None:
    states = {p["state_topic"] for _, p in _messages()}
    assert states == {"edge/box-1/status", "edge/box-1/cam0/status", "edge/box-1/cam1/status",
                      "edge/box-1/cam0/objects", "edge/box-1/cam1/objects",
                      "edge/box-1/cam0/zones/drive way/count", "edge/box-1/cam0/lines/gate/count"}


def _render(template: str, value: dict[str, Any]) -> str:
    """As Home Assistant renders a discovery template: Jinja2 in a sandbox, the payload as `value_json`."""
    return str(ImmutableSandboxedEnvironment().from_string(template).render(value_json=value))


@pytest.mark.parametrize("state", ["online", "reconnecting", "offline"])
def test_a_camera_is_available_only_while_the_daemon_and_the_camera_are_online(state: str) -> None:
    """Availability: the device's status topic and the camera's status topic (faults' camera_status messages),
    both `online`; the camera's connectivity sensor shows its state and reason."""
    status = camera_status_message("box-1", CameraStatus("cam1", state, None if state == "online" else "no frames",
                                                         since=1_764_000_000.0))
    jsonschema.validate(status, CAMERA_STATUS_SCHEMA)
    for topic, p in _messages():
        if "/cam1_" not in topic:
            continue
        if topic.endswith("/cam1_online/config"):
            assert p["state_topic"] == "edge/box-1/cam1/status" and p["availability"] == [{"topic": "edge/box-1/status"}]
            assert _render(p["value_template"], status) == (p["payload_on"] if state == "online" else p["payload_off"])
            assert json.loads(_render(p["json_attributes_template"], status))["state"] == state
            continue
        assert p["availability_mode"] == "all"
        device, camera = p["availability"]
        assert device == {"topic": "edge/box-1/status"} and camera["topic"] == "edge/box-1/cam1/status"
        assert _render(camera["value_template"], status) == ("online" if state == "online" else "offline")


def test_the_schema_rejects_what_home_assistant_rejects() -> None:
    _, good = next((t, p) for t, p in _messages() if "/sensor/" in t)
    for bad in ({**good, "stat_t": "x"}, {k: v for k, v in good.items() if k != "state_topic"},
                {**good, "device": {"name": "no identifiers"}}, {**good, "state_class": "sometimes"}):
        try:
            jsonschema.validate(bad, {**SCHEMA, "$ref": "#/$defs/sensor"})
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted: {bad}")
