"""Home Assistant MQTT discovery: retained `<discovery_prefix>/<component>/<node_id>/<object_id>/config`
messages that make each camera's per-class counts, zone occupancy, line crossings and the device's online
state appear in Home Assistant without YAML, as Frigate's integration does.

Entities (node_id `edge_sdk_<device_id>`; all under one Home Assistant device):
- sensor `<camera> <label>`: tracked objects of that class in view (state `<prefix>/<device>/<camera>/objects`)
- sensor `<camera> <zone> <label>` and `<camera> <zone> all`: objects in the zone (`.../zones/<zone>/count`)
- sensor `<camera> <line> in` / `out`: crossings since the daemon started, per class in the attributes
  (`.../lines/<line>/count`; state_class total_increasing, so a restart starts a new cycle)
- binary_sensor `online` (device_class connectivity) on `<prefix>/<device>/status` (the daemon, its Last Will)
- binary_sensor `<camera> online` (connectivity) on the camera's retained `<prefix>/<device>/<camera>/status`
  (edge_sdk/schemas/camera_status.schema.json): on while frames arrive, off while it is `reconnecting` or
  `offline`, with the state and its reason as attributes.
- Availability: every camera entity needs both topics (availability_mode all): the device's status says
  `online` and the camera's says `online` (anything else, `reconnecting` included, is unavailable). Counts of
  a camera that stopped delivering show "unavailable", not a stale number.

Payloads follow the documented discovery schema (full key names, no abbreviations); tests check them
against it (tests/events/ha_discovery.schema.json). An entity whose config message is emptied is removed
by Home Assistant; publish_discovery never does that, so renamed zones leave their old entities behind
until removed in Home Assistant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edge_sdk import __version__

_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_CAMERA_ATTRIBUTES = "{{ {'state': value_json.state, 'reason': value_json.reason, 'since': value_json.since} | tojson }}"


def safe_id(text: str) -> str:
    """An id Home Assistant accepts in a discovery topic (letters, digits, '-', '_')."""
    return _SAFE.sub("_", text)


@dataclass(frozen=True)
class CameraEntities:
    camera: str
    labels: list[str]  # classes counted in view
    zones: dict[str, list[str]]  # zone -> classes it counts
    lines: list[str]


def discovery_messages(*, discovery_prefix: str, topic_prefix: str, device_id: str, device_name: str,
                       model_name: str, cameras: list[CameraEntities]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(topic, payload) of every discovery config message."""
    node = safe_id(f"edge_sdk_{device_id}")
    base = f"{topic_prefix}/{device_id}"
    status = f"{base}/status"
    device = {"identifiers": [node], "name": device_name, "manufacturer": "edge-sdk", "model": model_name,
              "sw_version": __version__}
    origin = {"name": "edge-sdk", "sw_version": __version__}
    online = "{{ 'online' if value_json.state == 'online' else 'offline' }}"

    def topic(component: str, object_id: str) -> str:
        return f"{discovery_prefix}/{component}/{node}/{safe_id(object_id)}/config"

    yield topic("binary_sensor", "online"), {
        "name": "Online", "unique_id": f"{node}_online", "state_topic": status, "payload_on": "online",
        "payload_off": "offline", "device_class": "connectivity", "entity_category": "diagnostic",
        "device": device, "origin": origin}
    for cam in cameras:
        state = f"{base}/{cam.camera}"
        camera_status = f"{state}/status"
        common = {"device": device, "origin": origin, "availability_mode": "all",
                  "availability": [{"topic": status}, {"topic": camera_status, "value_template": online}]}
        oid = f"{cam.camera}_online"
        yield topic("binary_sensor", oid), {
            "name": f"{cam.camera} online", "unique_id": f"{node}_{safe_id(oid)}", "state_topic": camera_status,
            "value_template": "{{ 'ON' if value_json.state == 'online' else 'OFF' }}", "payload_on": "ON",
            "payload_off": "OFF", "json_attributes_topic": camera_status, "json_attributes_template": _CAMERA_ATTRIBUTES,
            "device_class": "connectivity", "entity_category": "diagnostic", "device": device, "origin": origin,
            "availability": [{"topic": status}]}
        for label in cam.labels:
            oid = f"{cam.camera}_{label}_count"
            yield topic("sensor", oid), {
                "name": f"{cam.camera} {label}", "unique_id": f"{node}_{safe_id(oid)}", "state_topic": f"{state}/objects",
                "value_template": _value(label), "state_class": "measurement", "icon": "mdi:counter", **common}
        for zone, labels in cam.zones.items():
            for label in [*labels, "all"]:
                oid = f"{cam.camera}_{zone}_{label}_occupancy"
                yield topic("sensor", oid), {
                    "name": f"{cam.camera} {zone} {label}", "unique_id": f"{node}_{safe_id(oid)}",
                    "state_topic": f"{state}/zones/{zone}/count", "value_template": _value(label),
                    "state_class": "measurement", "icon": "mdi:map-marker-radius", **common}
        for line in cam.lines:
            for direction in ("in", "out"):
                oid = f"{cam.camera}_{line}_{direction}"
                count = f"{state}/lines/{line}/count"
                yield topic("sensor", oid), {
                    "name": f"{cam.camera} {line} {direction}", "unique_id": f"{node}_{safe_id(oid)}",
                    "state_topic": count, "value_template": f"{{{{ value_json.{direction}_total }}}}",
                    "json_attributes_topic": count, "json_attributes_template": f"{{{{ value_json['{direction}'] | tojson }}}}",
                    "state_class": "total_increasing", "icon": "mdi:transit-transfer", **common}


def _value(label: str) -> str:
    return "{{ value_json[" + repr(label) + "] | default(0) }}"
