"""The events layer: per camera, after decode, on the pipeline's publish thread (`on_result`).

    with EventLayer.from_config(cfg, metadata, publisher) as layer:   # None when nothing is enabled
        parts = PipelineParts(..., on_result=layer.on_result)
    # leaving: every track ends (`end` events), snapshots are written, the preview stops

Each result goes to its camera's `CameraEvents` (tracker, zones, lines; camera.py); the events and the
retained state it returns go to the publisher (`publish_message`: the same spool, QoS and sender as the
detections, so an event is never lost while the broker is down); the best frames go to the snapshot
encoder, and, while someone watches, a frame goes to the preview encoder. Work here is bounded: the tracker
(a fraction of a millisecond a frame) and handing references over; nothing here waits for a disk, a
socket or an encoder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.config.events import EventsConfig
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.events.camera import CameraEvents, FrameFacts, Output
from edge_sdk.events.draw import Drawable
from edge_sdk.events.geometry import Line, Zone
from edge_sdk.events.messages import event_builder, events_stream, state_payload
from edge_sdk.frame import FrameResult
from edge_sdk.tracking import ByteTracker, TrackSettings

log = logging.getLogger(__name__)


class MessageSink(Protocol):
    """Where events go: the MQTT publisher (`MqttPublisher` is one)."""

    def publish_message(self, topic: str, build: Callable[[int | None], bytes], *, stream: str | None = None,
                        retain: bool = False) -> None: ...

    def topic(self, *parts: str) -> str: ...


def tracker_settings(cfg: EventsConfig) -> TrackSettings:
    t = cfg.tracker
    return TrackSettings(high_thresh=t.high_thresh, low_thresh=t.low_thresh, new_track_thresh=t.new_track_thresh,
                         match_thresh=t.match_thresh, track_buffer=t.track_buffer, min_hits=t.min_hits)


class EventLayer:
    def __init__(self, cfg: AppConfig, metadata: ModelMetadata, sink: MessageSink | None) -> None:
        self.cfg = cfg
        self.metadata = metadata
        self.sink = sink
        self.events_cfg = cfg.events
        self.cameras: dict[str, CameraEvents] = {}
        self.last_facts: dict[str, FrameFacts] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()  # close() may come from another thread than on_result
        self._closed = False
        self.snapshots = None
        self.preview = None
        names = [s.name for s in cfg.sources]
        if self.events_cfg is not None:
            ev = self.events_cfg
            self.class_ids = metadata.class_ids(ev.classes, "events.classes")
            for cam in names:
                self.cameras[cam] = self._camera(cam, ev)
            if ev.snapshots.enabled:
                from edge_sdk.events.snapshots import SnapshotManager

                folder = Path(ev.snapshots.path).expanduser()
                folder = folder if folder.is_absolute() else cfg.resolve(cfg.state_dir) / folder
                self.snapshots = SnapshotManager(ev.snapshots, folder, self._publish_snapshot if sink else None)
        if cfg.preview.enabled:
            from edge_sdk.events.preview import PreviewServer

            self.preview = PreviewServer(cfg.preview, names).start()
        self.birth_watcher: Any = None
        if cfg.homeassistant.enabled and sink is not None:
            self.send_discovery()
            self.birth_watcher = self._watch_birth()

    @classmethod
    def from_config(cls, cfg: AppConfig, metadata: ModelMetadata, sink: MessageSink | None) -> EventLayer | None:
        """The layer, or None when neither events nor the preview are configured."""
        if cfg.events is None and not cfg.preview.enabled:
            return None
        return cls(cfg, metadata, sink)

    def _camera(self, camera: str, ev: EventsConfig) -> CameraEvents:
        zones_cfg = ev.cameras.get(camera)
        md = self.metadata

        def zones(w: int, h: int) -> list[Zone]:
            if zones_cfg is None:
                return []
            return [Zone.of(n, z, w, h, md.class_ids(z.classes, f"events.cameras.{camera}.zones.{n}.classes"))
                    for n, z in zones_cfg.zones.items()]

        def lines(w: int, h: int) -> list[Line]:
            if zones_cfg is None:
                return []
            return [Line.of(n, ln, w, h, md.class_ids(ln.classes, f"events.cameras.{camera}.lines.{n}.classes"))
                    for n, ln in zones_cfg.lines.items()]

        if zones_cfg is not None:  # resolve names now: a typo fails at startup, not at the first frame
            zones(1, 1)
            lines(1, 1)
        return CameraEvents(camera, ByteTracker(tracker_settings(ev)), md.label, class_ids=self.class_ids,
                            zone_factory=zones, line_factory=lines, update_interval_s=ev.update_interval_s,
                            count_labels=self.count_labels())

    def count_labels(self) -> list[str]:
        """Classes whose counts are published (and offered to Home Assistant): every class of the model, or
        events.classes, or homeassistant.classes."""
        chosen = self.cfg.homeassistant.classes or (self.events_cfg.classes if self.events_cfg else None)
        ids = self.metadata.class_ids(chosen, "homeassistant.classes") if chosen else None
        names = self.metadata.names
        return sorted(names[i] if i in names else str(i) for i in (ids if ids is not None else names))

    # -- the pipeline hook --------------------------------------------------------------------------------
    def on_result(self, result: FrameResult) -> None:
        f = result.frame
        with self._lock:
            if self._closed:
                return
            cam = self.cameras.get(f.camera)
            facts = FrameFacts(f.camera, int(f.frame_id), float(f.t_capture_wall), f.width, f.height)
            self.last_facts[f.camera] = facts
            d = result.detections
            if cam is not None:
                label = result.model.label if result.model is not None else self.metadata.label
                cam.label = label
                out = cam.process(facts, np.asarray(d.boxes, np.float64).reshape(-1, 4),
                                  np.asarray(d.scores, np.float64).reshape(-1), np.asarray(d.class_ids, np.int64).reshape(-1))
                if self.snapshots is not None:
                    for track_id in cam.visible:
                        self.snapshots.observe(f.camera, cam.tracks[track_id], f.image, facts.time)
                self._emit(cam, out)
            if self.preview is not None and self.preview.wants(f.camera, time.monotonic()):
                self._preview(cam, result)

    def _emit(self, cam: CameraEvents, out: Output) -> None:
        if self.snapshots is not None:
            for t in out.ended:
                self.snapshots.finish(cam.camera, t)
        for body in out.events:
            kind = body["event"]
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if self.sink is not None:
                self.sink.publish_message(self.sink.topic(cam.camera, "events"),
                                          event_builder(body, self.cfg.device_id), stream=events_stream(cam.camera))
        if self.sink is not None:
            for parts, value in out.state:
                self.sink.publish_message(self.sink.topic(cam.camera, *parts), state_payload(value), retain=True)

    def _preview(self, cam: CameraEvents | None, result: FrameResult) -> None:
        assert self.preview is not None
        f = result.frame
        if cam is not None:
            items = [Drawable(t.box, f"{t.id} {t.label} {t.score:.2f}", t.id)
                     for t in (cam.tracks[i] for i in cam.visible)]
            occupancy = ", ".join(f"{z.name}: {sum(1 for t in cam.tracks.values() if z.name in t.zones)}" for z in cam.zones)
            caption = f"{f.camera}  {len(cam.tracks)} tracked" + (f"  {occupancy}" if occupancy else "")
            self.preview.offer(f.camera, f.image, items, cam.zones, cam.lines, caption)
            return
        label = result.model.label if result.model is not None else self.metadata.label
        d = result.detections
        items = [Drawable(tuple(float(v) for v in b), f"{label(int(c))} {float(s):.2f}", int(c))  # type: ignore[arg-type]
                 for b, s, c in zip(np.asarray(d.boxes).reshape(-1, 4), np.asarray(d.scores).reshape(-1),
                                    np.asarray(d.class_ids).reshape(-1))]
        self.preview.offer(f.camera, f.image, items, caption=f.camera)

    def _publish_snapshot(self, camera: str, label: str, data: bytes) -> None:
        if self.sink is not None:
            self.sink.publish_message(self.sink.topic(camera, "snapshot", label), lambda _seq: data, retain=True)

    def _watch_birth(self) -> Any:
        """Send the discovery again whenever Home Assistant announces itself (ha_birth.py)."""
        from edge_sdk.events.ha_birth import BirthWatcher
        from edge_sdk.publish.settings import BrokerSettings

        ha = self.cfg.homeassistant
        broker = BrokerSettings.from_config(self.cfg.mqtt, self.cfg.resolve)
        topic = ha.birth_topic or f"{ha.discovery_prefix}/status"
        return BirthWatcher(broker, topic, f"edge-sdk-{self.cfg.device_id}-ha", self.send_discovery).start()

    def send_discovery(self) -> None:
        """Publish (retained, through the spool) every Home Assistant discovery config of this device."""
        import json

        from edge_sdk.events.homeassistant import CameraEntities, discovery_messages

        sink = self.sink
        if sink is None:
            return
        labels = self.count_labels()
        cams = []
        for name, cam in self.cameras.items():
            czones = self.events_cfg.cameras.get(name) if self.events_cfg else None
            zones = {}
            for zn, z in (czones.zones.items() if czones else []):
                ids = self.metadata.class_ids(z.classes, f"events.cameras.{name}.zones.{zn}.classes")
                zones[zn] = labels if ids is None else sorted(self.metadata.label(i) for i in ids)
            cams.append(CameraEntities(cam.camera, labels, zones, list(czones.lines) if czones else []))
        prefix = sink.topic().rsplit("/", 1)[0]
        ha = self.cfg.homeassistant
        for topic, payload in discovery_messages(
                discovery_prefix=ha.discovery_prefix, topic_prefix=prefix, device_id=self.cfg.device_id,
                device_name=ha.device_name or f"edge-sdk {self.cfg.device_id}", model_name=self.cfg.model_name,
                cameras=cams):
            data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
            sink.publish_message(topic, lambda _seq, d=data: d, retain=True)  # type: ignore[misc]
        log.info("Home Assistant discovery published under %s/ for %d camera(s)", ha.discovery_prefix, len(cams))

    # -- life cycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """End every track (their `end` events are published), write the last snapshots, stop the preview."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for name, cam in self.cameras.items():
                facts = self.last_facts.get(name)
                if facts is not None:
                    self._emit(cam, cam.flush(facts))
        if self.birth_watcher is not None:
            self.birth_watcher.close()
        if self.snapshots is not None:
            self.snapshots.close()
        if self.preview is not None:
            self.preview.close()

    def __enter__(self) -> EventLayer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"events": dict(self.counts),
                               "tracks": {c: len(cam.tracks) for c, cam in self.cameras.items()}}
        if self.snapshots is not None:
            out["snapshots"] = self.snapshots.stats()
        if self.preview is not None:
            out["preview"] = self.preview.stats()
        return out

