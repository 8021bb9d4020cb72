"""The publisher interface: where `FrameResult`s go. One implementation per module (`mqtt.py`)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from edge_sdk.engines.base import EngineInfo
from edge_sdk.frame import FrameResult
from edge_sdk.sources.status import CameraStatus

_P = TypeVar("_P", bound="Publisher")


class Publisher(abc.ABC):
    """Publishes one message per frame, periodic stats, and the device's availability.

    A context manager: `close` (on exit) publishes `offline` and releases the connection and the spool.
    `publish_result` never blocks on disk or network: it returns once the result is handed over (the
    MQTT publisher queues it for its spool writer), whatever the broker's state.
    """

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abc.abstractmethod
    def publish_result(self, result: FrameResult, engine_info: EngineInfo | None = None,
                       label: Callable[[int], str] | None = None, model_name: str | None = None) -> None:
        """Publish the detections of one frame (also when there are none). `engine_info`, `label` (class id to
        name) and `model_name` default to those given when the publisher was opened (after a live model swap the
        caller names the model that produced the result)."""

    @abc.abstractmethod
    def publish_stats(self, figures: Mapping[str, Any]) -> None:
        """Publish the pipeline's figures on the stats topic, with the publisher's own added."""

    @abc.abstractmethod
    def publish_camera_status(self, status: CameraStatus) -> None:
        """Publish a camera's availability (online, offline, reconnecting, with the reason) on its retained
        status topic; only the newest per camera waits while the broker is away."""

    def problem(self) -> str | None:
        """Why the publisher cannot do its job (e.g. its spool cannot be written at all), or None. Part of the
        service's health (edge_sdk.daemon.health): a problem stops the watchdog pings."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Flush what can be flushed, say `offline`, release everything. Safe to call twice."""
