"""`edge-sdk fleet status` over a real broker's retained messages."""

from __future__ import annotations

import json
import time

import pytest

from edge_sdk.cli.main import main
from tests.fleet.test_bridge import _publish
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def test_status_lists_each_device_with_model_fps_cameras_and_rollout(broker: MosquittoBroker,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    stats = {"type": "stats", "time": now, "stages": {"total": {"fps": 4.5}},
             "sources": [{"camera": "cam0", "state": "streaming"}, {"camera": "cam1", "state": "reconnecting"}]}
    for site, dev, state, reason in (("plant-3", "d1", "active", None), ("lab", "d2", "rolled_back", "gate: too few")):
        report = {"type": "model_reported", "time": now, "state": state, "reason": reason,
                  "running": {"version": "2.1" if state == "active" else "1.0", "precision": "fp32"}}
        _publish(broker.port, f"{site}/{dev}/model/reported", [json.dumps(report).encode()], retain=True)
        _publish(broker.port, f"{site}/{dev}/stats", [json.dumps(stats).encode()], retain=True)
        _publish(broker.port, f"{site}/{dev}/status", [b"online"], retain=True)
        _publish(broker.port, f"{site}/{dev}/bridge", [b"1"], retain=True)
    assert main(["fleet", "status", "--broker", f"127.0.0.1:{broker.port}", "--json", "--wait", "5"]) == 0
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["d1"]["version"] == "2.1" and rows["d1"]["rollout"] == "active" and rows["d1"]["site"] == "plant-3"
    assert (rows["d1"]["fps"], rows["d1"]["cameras_online"], rows["d1"]["cameras"]) == (4.5, 1, 2)
    assert rows["d2"]["rollout"] == "rolled_back" and rows["d2"]["reason"] == "gate: too few"
    assert rows["d2"]["bridge"] == "up" and rows["d2"]["status"] == "online" and rows["d2"]["last_seen_age_s"] < 60
    assert main(["fleet", "status", "--broker", f"127.0.0.1:{broker.port}", "--site", "lab"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["SITE", "DEVICE", "MODEL", "PRECISION"] and len(out) == 2
    assert out[1].split()[:5] == ["lab", "d2", "1.0", "fp32", "rolled_back"] and "1/2" in out[1]
