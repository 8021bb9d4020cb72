"""configs/events-demo.yaml, the config apps/README.md tells users to run, loads and means what it says."""

from __future__ import annotations

from pathlib import Path

from edge_sdk.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_events_demo_config_loads_with_its_zone_line_and_extras() -> None:
    cfg = load_config(ROOT / "configs/events-demo.yaml")
    assert cfg.events is not None and cfg.preview.enabled and cfg.homeassistant.enabled
    cam = cfg.events.cameras["cam0"]
    assert set(cam.zones) == {"left"} and set(cam.lines) == {"middle"} and cfg.events.snapshots.enabled
    assert cfg.resolve(cfg.model.path).resolve() == ROOT / "models/demo/yolo-demo.onnx"
