"""The rollout agent: runs inside the daemon when `fleet.enabled`, and changes the model only when it is safe.

    desired (retained, QoS 1)  <prefix>/<device>/model/desired   {"version": "2.1", "sha256": "<of the bundle file>",
                                                                  "url": "http://host/b.bundle"}   (or "path": "/x.bundle")
    reported (retained, QoS 1) <prefix>/<device>/model/reported  {"state": "active" | "applying" | "rolled_back", ...}

One attempt, in order; the first step that fails ends it with state `rolled_back`, the step (`stage`) and the
reason, and the previous model keeps running (nothing was swapped before `swap`):

    download  the bundle (http(s):// URL or a path), its sha256 checked against the desired message's
    verify    the signature against the trusted keys, every file against the signed manifest; installed
    gate      smoke run + accuracy gate on the device's own recent frames (devgate.py)
    swap      the model swapped live, through the daemon's reload path (the one SIGHUP uses; MQTT session kept)
    trial     for `rollout.trial_s` the new model's live fps and detections per frame are compared with the old
              model's just before the swap; outside the bounds it is swapped back (rolled back)

Success writes state/fleet/active.json (the daemon runs that model from then on, also after a restart) and
reports `active` with the version, precision, gate and trial figures. A desired bundle that failed is not tried
again until the desired message names another one. The agent owns one MQTT client (its own client id) to the
broker the daemon publishes to; on a fleet that is the local broker, bridged to the central one.

Threads: paho's network thread only queues what arrives; the agent's worker thread does the work; the swap
itself happens on the daemon's run loop (`SwapQueue`), never concurrently with a SIGHUP reload.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_sdk.config.app import AppConfig, ModelConfig
from edge_sdk.errors import BundleError, EdgeSdkError
from edge_sdk.fleet.devgate import GateResult, RecentFrame
from edge_sdk.fleet.state import FleetState
from edge_sdk.frame import FrameResult

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def desired_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/model/desired"


def reported_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/model/reported"


@dataclass
class SwapRequest:
    """A model change for the daemon's run loop; `finish` is called there with the reload's outcome."""

    model: ModelConfig
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False
    error: str = ""

    def finish(self, ok: bool, error: str = "") -> None:
        self.ok, self.error = ok, error
        self.done.set()


class SwapQueue:
    def __init__(self) -> None:
        self._q: queue.Queue[SwapRequest] = queue.Queue()

    def put(self, req: SwapRequest) -> None:
        self._q.put(req)

    def take(self) -> SwapRequest | None:
        try:
            return self._q.get_nowait()
        except queue.Empty:
            return None


@dataclass(frozen=True)
class Desired:
    version: str
    sha256: str
    source: str

    @classmethod
    def parse(cls, payload: bytes) -> Desired:
        try:
            d = json.loads(payload)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        source = d.get("url") or d.get("path")
        sha = str(d.get("sha256", "")).lower()
        if not isinstance(source, str) or not source:
            raise ValueError("names no bundle ('url' or 'path')")
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError("has no valid 'sha256' of the bundle")
        return cls(str(d.get("version", "?")), sha, source)


class Failed(Exception):
    def __init__(self, stage: str, reason: str, figures: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.stage, self.reason, self.figures = stage, reason, figures or {}


class LiveFigures:
    """Per model (sha256), the time and detection count of each result, for the trial; and recent frames."""

    def __init__(self, recent: int, interval_s: float) -> None:
        self._results: deque[tuple[float, str, int]] = deque(maxlen=20000)
        self.frames: deque[RecentFrame] = deque(maxlen=recent)
        self.interval_s = interval_s
        self._next_frame = 0.0
        self.current_sha = ""
        self._lock = threading.Lock()

    def observe(self, result: FrameResult) -> None:
        """On the publish thread: cheap (an append; one frame copy per interval)."""
        sha = result.model.engine_info.model_sha256 if result.model is not None else ""
        now = time.monotonic()
        with self._lock:
            self.current_sha = sha
            self._results.append((now, sha, len(result.detections)))
            if now >= self._next_frame:
                self._next_frame = now + self.interval_s
                d = result.detections
                from edge_sdk.decode.base import Detections

                copy = Detections(d.boxes.copy(), d.scores.copy(), d.class_ids.copy())
                self.frames.append(RecentFrame(result.frame.camera, result.frame.image.copy(), copy, sha))

    def window(self, sha: str, since: float) -> dict[str, Any]:
        with self._lock:
            rows = [(t, n) for t, s, n in self._results if s == sha and t >= since]
        if not rows:
            return {"frames": 0, "fps": None, "detections_per_frame": None}
        span = rows[-1][0] - rows[0][0]
        fps = (len(rows) - 1) / span if span > 0 else None
        return {"frames": len(rows), "fps": round(fps, 3) if fps else None,
                "detections_per_frame": round(sum(n for _t, n in rows) / len(rows), 3)}

    def recent(self, sha: str) -> list[RecentFrame]:
        with self._lock:
            return [f for f in self.frames if f.model_sha256 == sha]


class RolloutAgent:
    def __init__(self, cfg: AppConfig, swaps: SwapQueue, engine_sha: Callable[[], str]) -> None:
        self.cfg = cfg  # updated by the daemon after each swap
        self.swaps = swaps
        self.engine_sha = engine_sha
        self.state = FleetState(cfg)
        r = cfg.fleet.rollout
        self.live = LiveFigures(r.recent_frames, r.frame_interval_s)
        self.topic_desired = desired_topic(cfg.mqtt.topic_prefix, cfg.device_id)
        self.topic_reported = reported_topic(cfg.mqtt.topic_prefix, cfg.device_id)
        self._inbox: queue.Queue[bytes] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollout-agent", daemon=True)
        self._client: Any = None
        self.last_report: dict[str, Any] = {}

    # -- life cycle ----------------------------------------------------------------------------------
    def start(self) -> RolloutAgent:
        from edge_sdk.publish.connection import connect_args, make_client
        from edge_sdk.publish.settings import BrokerSettings

        broker = BrokerSettings.from_config(self.cfg.mqtt, self.cfg.resolve)
        # A persistent session: a desired state that arrives while the agent is disconnected (a restart of the local
        # broker, of the daemon) is queued for it. Through a bridge it arrives as a live, not a retained, message.
        client = make_client(broker, f"edge-sdk-{self.cfg.device_id}-rollout", persistent=True, reconnect=True)
        client.reconnect_delay_set(1, 10)
        client.on_connect = lambda c, *_a: c.subscribe(self.topic_desired, qos=1)
        client.on_message = lambda _c, _u, msg: self._inbox.put(bytes(msg.payload))
        client.connect_async(**connect_args(broker, persistent=True))
        client.loop_start()
        self._client = client
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()

    def observe(self, result: FrameResult) -> None:
        self.live.observe(result)

    # -- the worker ----------------------------------------------------------------------------------
    def _run(self) -> None:
        self._recover()
        if not self.last_report:
            self._report("active", running=self._running())
        while not self._stop.is_set():
            try:
                payload = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if not payload:
                continue  # the retained desired state was cleared
            try:
                self._handle(payload)
            except Exception:  # the agent must never take the daemon down
                log.exception("rollout: unexpected failure")
                self._report("rolled_back", stage="agent", reason="unexpected failure in the rollout agent (see the log)",
                             running=self._running())

    def _recover(self) -> None:
        attempt = self.state.attempt
        if attempt is None:
            return
        self.state.attempt = None
        reason = f"the daemon stopped during the trial of {attempt.get('version')}: back on the previous model"
        log.error("rollout: %s", reason)
        last = {"sha256": attempt.get("sha256"), "state": "rolled_back", "stage": "trial", "reason": reason,
                "version": attempt.get("version")}
        self.state.last = last
        self._report("rolled_back", stage="trial", reason=reason, desired=attempt, running=self._running())

    def _running(self) -> dict[str, Any]:
        active = self.state.active
        if active is not None:
            return {k: active.get(k) for k in ("name", "version", "precision", "model_sha256", "sha256")}
        return {"name": self.cfg.model_name, "version": "configured", "precision": self.cfg.model.precision,
                "model_sha256": self.engine_sha()}

    def _handle(self, payload: bytes) -> None:
        try:
            desired = Desired.parse(payload)
        except ValueError as exc:
            self._report("rolled_back", stage="desired", reason=f"the desired state {exc}", running=self._running())
            return
        active = self.state.active
        if active is not None and active.get("sha256") == desired.sha256:  # again (a reconnect, a restart)
            self._report("active", running=self._running(), desired=vars(desired), gate=active.get("gate"),
                         trial=active.get("trial"))
            return
        last = self.state.last
        if last is not None and last.get("sha256") == desired.sha256 and last.get("state") == "rolled_back":
            self._report("rolled_back", stage=last.get("stage"), reason=last.get("reason"), desired=vars(desired),
                         running=self._running(), gate=last.get("gate"))
            return
        t0 = time.monotonic()
        try:
            figures = self._attempt(desired)
        except Failed as exc:
            log.error("rollout of %s: %s failed: %s", desired.version, exc.stage, exc.reason)
            self.state.last = {"sha256": desired.sha256, "version": desired.version, "state": "rolled_back",
                               "stage": exc.stage, "reason": exc.reason, "gate": exc.figures}
            self._report("rolled_back", stage=exc.stage, reason=exc.reason, desired=vars(desired),
                         running=self._running(), gate=exc.figures, seconds=round(time.monotonic() - t0, 2))
            return
        log.info("rollout of %s: active after %.1f s", desired.version, time.monotonic() - t0)
        self._report("active", running=self._running(), desired=vars(desired), seconds=round(time.monotonic() - t0, 2),
                     **figures)

    def _attempt(self, desired: Desired) -> dict[str, Any]:
        from edge_sdk.fleet.bundle import install_bundle
        from edge_sdk.fleet.fetch import fetch_bundle
        from edge_sdk.fleet.keys import trusted_keys

        r = self.cfg.fleet.rollout
        self._report("applying", stage="download", desired=vars(desired), running=self._running())
        max_bytes = int(r.max_bundle_mb * (1 << 20))
        try:
            path = fetch_bundle(desired.source, desired.sha256, self.state.downloads, timeout_s=r.download_timeout_s,
                                max_bytes=max_bytes)
        except BundleError as exc:
            raise Failed("download", exc.render()) from None
        try:
            info = install_bundle(path, trusted_keys(self.cfg.resolve(r.trusted_keys)), self.state.bundles,
                                  max_bytes=max_bytes)
        except BundleError as exc:
            raise Failed("verify", exc.render()) from None
        placed: list[str] = []
        if self.cfg.engine.type == "tensorrt" and info.engines:
            from edge_sdk.fleet.prebuilt import place_prebuilt

            placed = place_prebuilt(info, str(getattr(self.cfg.engine, "engine_dir", "build/engines")))
            log.info("rollout of %s: prebuilt engines placed in the engine cache: %s", desired.version, ", ".join(placed))
        model = ModelConfig(path=str(info.model_path), name=info.name, precision="int8" if info.precision == "int8" else "fp32")
        new_cfg = self.cfg.model_copy(update={"model": model})
        old_model = self.cfg.model
        old_sha = self.engine_sha()
        self._report("applying", stage="gate", desired=vars(desired), running=self._running())
        gate = self._gate(new_cfg, old_sha)
        if not gate.passed:
            raise Failed("gate", gate.reason, gate.figures)
        since = max(0.0, time.monotonic() - max(r.trial_s, 10.0))
        before = self.live.window(old_sha, since)
        self.state.attempt = {"sha256": desired.sha256, "version": desired.version}
        swap_time = time.monotonic()
        self._swap(model, "swap")
        new_sha = self.engine_sha()
        trial = self._trial(new_sha, swap_time, before)
        if trial.reason:
            self._swap(old_model, "rollback")
            self.state.attempt = None
            raise Failed("trial", trial.reason, {**gate.figures, "trial": trial.figures})
        from edge_sdk.fleet.bundle import sha256_file

        self.state.active = {"name": info.name, "version": info.version, "sha256": desired.sha256,
                             "precision": model.precision, "model_path": str(info.model_path),
                             "model_sha256": sha256_file(info.model_path), "gate": gate.figures, "trial": trial.figures,
                             "key_id": info.key_id, "time": round(time.time(), 3)}
        self.state.attempt = None
        self.state.last = {"sha256": desired.sha256, "version": desired.version, "state": "active"}
        self._prune(info.folder)
        return {"gate": gate.figures, "trial": trial.figures, "prebuilt_engines": placed or None}

    def _gate(self, new_cfg: AppConfig, old_sha: str) -> GateResult:
        from edge_sdk.fleet.devgate import gate_fp32, gate_int8

        r = self.cfg.fleet.rollout
        if new_cfg.model.precision == "int8":
            return gate_int8(new_cfg)
        deadline = time.monotonic() + max(30.0, r.min_frames * r.frame_interval_s * 3)
        while len(frames := self.live.recent(old_sha)) < r.min_frames:
            if time.monotonic() > deadline or self._stop.is_set():
                return GateResult(False, f"gate: only {len(frames)} recent frames of the running model "
                                         f"(rollout.min_frames {r.min_frames}): are the cameras delivering?", {})
            time.sleep(0.2)
        try:
            return gate_fp32(new_cfg, frames)
        except EdgeSdkError as exc:
            return GateResult(False, f"smoke run: the new model does not load or run: {exc.message}", {})

    def _swap(self, model: ModelConfig, stage: str) -> None:
        req = SwapRequest(model)
        self.swaps.put(req)
        while not req.done.wait(0.5):
            if self._stop.is_set():
                raise Failed(stage, "the daemon is stopping")
        if not req.ok:
            raise Failed(stage, f"the live swap failed: {req.error}")

    @dataclass
    class _Trial:
        reason: str
        figures: dict[str, Any]

    def _trial(self, new_sha: str, swap_time: float, before: dict[str, Any]) -> RolloutAgent._Trial:
        r = self.cfg.fleet.rollout
        end = swap_time + r.trial_s
        hard_end = swap_time + max(r.trial_s, r.trial_max_s)
        while not self._stop.is_set():
            now = time.monotonic()
            after = self.live.window(new_sha, swap_time)
            if now >= end and after["frames"] >= r.min_trial_frames:
                break
            if now >= hard_end:
                return self._Trial(f"trial: {after['frames']} results from the new model in {now - swap_time:.0f} s "
                                   f"(at least {r.min_trial_frames} needed)", {"before": before, "after": after})
            time.sleep(0.25)
        figures = {"before": before, "after": after, "seconds": round(time.monotonic() - swap_time, 1)}
        old_fps, new_fps = before.get("fps"), after.get("fps")
        if old_fps and new_fps is not None and new_fps < r.min_fps_ratio * old_fps:
            return self._Trial(f"trial: {new_fps:.2f} fps against {old_fps:.2f} before the swap "
                               f"(below {r.min_fps_ratio:g}x)", figures)
        old_dpf, new_dpf = before.get("detections_per_frame"), after.get("detections_per_frame")
        if old_dpf is not None and new_dpf is not None and old_dpf >= 0.05:
            ratio, bound = new_dpf / old_dpf, r.trial_max_detection_ratio
            if not 1.0 / bound <= ratio <= bound:
                return self._Trial(f"trial: {new_dpf:.2f} detections per frame against {old_dpf:.2f} before the swap "
                                   f"(outside 1/{bound:g}..{bound:g}x)", figures)
        return self._Trial("", figures)

    def _prune(self, keep: Any) -> None:
        import shutil

        folders = sorted((p for p in self.state.bundles.iterdir() if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        running = {str(keep)}
        for old in folders[self.cfg.fleet.rollout.keep_bundles:]:
            if str(old) not in running:
                shutil.rmtree(old, ignore_errors=True)

    # -- reporting -----------------------------------------------------------------------------------
    def _report(self, state: str, **fields: Any) -> None:
        msg = {"schema_version": SCHEMA_VERSION, "type": "model_reported", "device_id": self.cfg.device_id,
               "site": self.cfg.fleet.site, "time": round(time.time(), 3), "state": state,
               **{k: v for k, v in fields.items() if v is not None}}
        self.last_report = msg
        if self._client is not None:
            self._client.publish(self.topic_reported, json.dumps(msg, separators=(",", ":"), default=str), qos=1,
                                 retain=True)
