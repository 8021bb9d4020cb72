"""Publishing detections over MQTT, and subscribing to them.

For the daemon (one call, one owner):

    with open_publisher(cfg, engine_info=engine.info, metadata=metadata) as pub:
        pub.publish_result(result)           # every FrameResult, also when it has no detections
        pub.publish_stats(pipeline_figures)  # periodically (cfg.mqtt.stats_interval_s)
    # leaving the block: sends what is spooled (up to mqtt.drain_timeout_s), publishes `offline`

- `open_publisher(cfg, *, engine_info=None, metadata=None) -> Publisher` opens the spool, starts the
  sender and tries the broker once. Raises `PublishError` when the broker refuses us for a reason
  retrying cannot fix (unknown CA, expired certificate, hostname mismatch, refused client certificate,
  refused credentials); an unreachable broker is logged and retried forever, messages spooled meanwhile.
- `Publisher.publish_result(result, engine_info=None)` returns in tens of microseconds: it copies what
  the message needs and queues it; the writer thread numbers, encodes and commits it to the spool
  (SQLite WAL), the sender thread sends it. The pipeline's thread never waits for disk or network.
  `engine_info` defaults to the one given to `open_publisher`; class labels come from `metadata`.
- `Publisher.publish_stats(figures)` publishes `figures` (any JSON-able dict) on the stats topic, with
  the publisher's own figures under `mqtt` (connection, spool: queued, dropped, replayed).
- `Publisher.close()` (or leaving the `with`): drain, `offline`, disconnect. Safe to call twice.

Topics (`<prefix>` is mqtt.topic_prefix): `<prefix>/<device_id>/<camera>/detections` (QoS mqtt.qos),
`<prefix>/<device_id>/status` (retained `online`/`offline`, `offline` is the Last Will),
`<prefix>/<device_id>/stats` (retained), `<prefix>/<device_id>/<camera>/status` (retained JSON: `online`,
`offline` or `reconnecting` with the reason; `Publisher.publish_camera_status`). Message formats: message.py
and edge_sdk/schemas/.

For consumers: `DetectionSubscriber` (subscriber.py) delivers parsed messages filtered by device,
camera and class, and counts gaps and duplicates per camera by sequence number.

Delivery guarantees (QoS 1, the default):
- A message is committed to the spool (SQLite WAL) within milliseconds of `publish_result`
  (`wait_spooled` waits for it; `close` commits everything). From then on it survives a broker outage
  of any length, reconnects, and a crash or restart of the daemon, until the broker acknowledges it.
  A SIGKILL loses only results handed over in the last moments and not yet committed (as it loses the
  frames inside the pipeline). Only the spool bounds (mqtt.spool.max_mb, max_age_s) drop committed
  messages: the oldest first, counted on the stats topic and visible to consumers as a gap in `seq`.
  (A power cut may lose the last moments too: commits are not fsynced one by one; the file is never
  corrupted by SQLite itself.)
- A full disk (spool.py, backlog.py): nothing already in the spool is lost; new messages wait in memory
  (bounded, lost only by a crash meanwhile) and are written when there is room; beyond the bound the oldest are
  dropped, counted (`spool.dropped_disk_full`), said in the log with the path and the fix. A reserve file beside
  the spool keeps SQLite able to checkpoint and delete on a 100% full disk. Free space is checked at start.
- A damaged spool file (torn page, random bytes) is moved aside as `<spool>.damaged-<time>`, what can be read is
  salvaged into a fresh spool, and it is said loudly (log, `spool.damaged`). A spool that cannot be written at
  all (a disk turned read-only) makes `Publisher.problem()` say so: the daemon stops feeding the watchdog.
- At least once: a message in flight when the connection drops is sent again; consumers drop
  duplicates by (device, camera, seq) or message_id (DetectionSubscriber does).
- Beyond the broker's PUBACK it is the broker's job: Mosquitto acknowledges before it saves, so a broker
  killed with SIGKILL loses what it had accepted but neither delivered to a connected subscriber nor
  saved (autosave). Use persistent subscriber sessions (fixed client id, QoS 1) and a short autosave
  interval; tests/publish/test_outage.py shows what that gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_sdk.publish.base import Publisher
from edge_sdk.publish.settings import BrokerSettings, PublisherSettings, TlsSettings

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.engines.base import EngineInfo
    from edge_sdk.engines.model_info import ModelMetadata
    from edge_sdk.publish.mqtt import MqttPublisher

__all__ = ["BrokerSettings", "Publisher", "PublisherSettings", "TlsSettings", "open_publisher"]


def open_publisher(cfg: AppConfig, *, engine_info: EngineInfo | None = None,
                   metadata: ModelMetadata | None = None) -> MqttPublisher:
    """The publisher configured by `cfg.mqtt`, started. Use it as a context manager."""
    from edge_sdk.publish.mqtt import MqttPublisher

    settings = PublisherSettings.from_config(cfg)
    label = metadata.label if metadata is not None else str
    return MqttPublisher(settings, engine_info=engine_info, label=label).start()
