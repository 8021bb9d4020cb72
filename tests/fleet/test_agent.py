"""The rollout agent in a real daemon: refused, gated, trial-failed and good bundles, over a real broker."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.config import load_config
from edge_sdk.daemon import run_service
from edge_sdk.fleet.bundle import BundleSpec, create_bundle, sha256_file
from edge_sdk.fleet.keys import generate
from edge_sdk.pipeline.pipeline import Pipeline
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.fleet.test_bundle import _rewrite
from tests.pipeline.conftest import write_video
from tests.publish.conftest import TopicCollector
from tests.support.broker import MosquittoBroker
from tests.support.onnx_models import constant_output_model

pytestmark = pytest.mark.broker
NAMES = {0: "person", 1: "car"}


def _model(path: Path, cars: int = 1, cls: int = 1, version: str = "1") -> Path:
    """A 64x64 'detector' that always sees `cars` boxes of class `cls` (the first one centred at 32,32)."""
    out = np.zeros((1, 6, 64), np.float32)
    out[0, :4, :] = 1
    for i in range(cars):
        out[0, :, i] = [32 if i == 0 else 8 + 7 * i, 32, 16, 8, 0.0, 0.0]
        out[0, 4 + cls, i] = 0.9 - 0.01 * i
    constant_output_model(path, out, names=NAMES)
    import onnx

    m = onnx.load(str(path))
    onnx.helper.set_model_props(m, {**{p.key: p.value for p in m.metadata_props}, "version": version})
    onnx.save(m, str(path))
    return path


class Daemon:
    """run_service in a thread (no signal handlers there); stopped through the pipeline."""

    def __init__(self, cfg_path: Path) -> None:
        self.cfg = load_config(str(cfg_path))
        self.stop = threading.Event()
        self.error: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        def tick(p: Pipeline) -> None:
            if self.stop.is_set():
                p.stop()

        try:
            run_service(self.cfg, on_tick=tick)
        except BaseException as exc:  # reported by close()
            self.error.append(exc)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.error, self.error


def _reported(col: TopicCollector, sha: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in reversed(col.json()):
            if msg.get("state") in ("active", "rolled_back") and (msg.get("desired") or {}).get("sha256") == sha:
                return msg
        time.sleep(0.1)
    raise AssertionError(f"no final report for {sha[:8]}: {col.json()[-3:]}")


def _next_model_sha(sub: DetectionSubscriber, after: float) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        msg = sub.get(timeout=1)
        if msg is not None and msg.received_time > after:
            return str(msg.model["sha256"])
    raise AssertionError("no detection message")


def test_refused_gated_trial_failed_then_good_bundle(broker: MosquittoBroker, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "fleet.key"
    generate(key)
    old = _model(tmp_path / "old.onnx")
    bundles = tmp_path / "served"
    bundles.mkdir()

    def bundle(name: str, model: Path) -> tuple[Path, str]:
        out = bundles / f"{name}.bundle"
        create_bundle(BundleSpec(model=model, version=name, name="det"), key, out)
        return out, sha256_file(out)

    good, good_sha = bundle("2", _model(tmp_path / "good.onnx", version="2"))
    _, wrong_sha = bundle("3", _model(tmp_path / "person.onnx", cls=0, version="3"))
    _, noisy_sha = bundle("4", _model(tmp_path / "noisy.onnx", cars=5, version="4"))
    tampered = _rewrite(good, bundles / "5.bundle",  # one byte of the model changed after signing
                        lambda n, d: d[:-1] + bytes([d[-1] ^ 1]) if n == "model.onnx" else d)
    tampered_sha = sha256_file(tampered)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(bundles)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    video = write_video(tmp_path / "clip.avi", 40)
    cfg_path = tmp_path / "app.yaml"
    cfg_path.write_text(f"""device_id: d1
state_dir: {tmp_path / "state"}
model:
  path: {old}
decode:
  type: yolov8
sources:
  - name: cam0
    uri: file://{video}?loop=1&realtime=1&fps=10
mqtt:
  port: {broker.port}
  reconnect_min_s: 0.2
  reconnect_max_s: 1
fleet:
  enabled: true
  site: lab
  rollout:
    trusted_keys: {key.parent}
    frame_interval_s: 0.2
    min_frames: 3
    trial_s: 2
    max_detection_ratio: 100
    trial_max_detection_ratio: 2
""")
    reported = TopicCollector(broker.port, "edge/d1/model/reported")
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), devices=["d1"]).open()
    daemon = Daemon(cfg_path)
    try:
        from tests.fleet.test_bridge import _publish

        def desire(path_or_url: str, sha: str) -> dict[str, Any]:
            body = {"version": "x", "sha256": sha, ("url" if path_or_url.startswith("http") else "path"): path_or_url}
            _publish(broker.port, "edge/d1/model/desired", [json.dumps(body).encode()], retain=True)
            return _reported(reported, sha)

        old_sha = sha256_file(old)
        r = desire(str(tampered), tampered_sha)
        assert (r["state"], r["stage"]) == ("rolled_back", "verify") and "does not match the signed manifest" in r["reason"]
        r = desire(f"{url}/3.bundle", wrong_sha)
        assert (r["state"], r["stage"]) == ("rolled_back", "gate") and "agreement" in r["reason"], r
        assert r["running"]["model_sha256"] == old_sha
        r = desire(f"{url}/4.bundle", noisy_sha)
        assert (r["state"], r["stage"]) == ("rolled_back", "trial") and "detections per frame" in r["reason"], r
        assert _next_model_sha(sub, time.time()) == old_sha  # swapped back
        r = desire(f"{url}/2.bundle", good_sha)
        assert r["state"] == "active" and r["running"]["version"] == "2", r
        assert r["gate"]["agreement_map50"] == pytest.approx(100.0) and r["trial"]["after"]["frames"] >= 3
        new_sha = sha256_file(tmp_path / "good.onnx")
        assert _next_model_sha(sub, time.time()) == new_sha
    finally:
        daemon.close()
    # a restart runs the rolled-out model, and the retained desired state does not trigger a second rollout
    n = len(reported.messages)
    daemon = Daemon(cfg_path)
    try:
        assert _next_model_sha(sub, time.time()) == new_sha
        deadline = time.monotonic() + 20
        while len(reported.messages) == n and time.monotonic() < deadline:
            time.sleep(0.1)
        later = reported.json()[n:]
        assert later and all(m["state"] == "active" for m in later)
        # the desired state seen again is answered with the same outcome, naming what was desired
        deadline = time.monotonic() + 20
        while not any((m.get("desired") or {}).get("sha256") == good_sha for m in reported.json()[n:]):
            assert time.monotonic() < deadline, reported.json()[n:]
            time.sleep(0.1)
    finally:
        daemon.close()
        sub.close()
        reported.close()
        server.shutdown()
