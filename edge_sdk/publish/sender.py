"""The network side of the MQTT publisher: one thread that owns the paho client and sends the spool.

    publish_result ─▶ queue ─▶ writer thread ─▶ spool (SQLite) ─▶ sender thread ─▶ broker
                                                           ◀── PUBACK: delete ──┘

The thread drives paho's external-loop API (`loop_read`/`loop_write`/`loop_misc` on our own `select`,
woken through a socket pair when a message is appended), so nothing else ever touches the client.

- While connected it keeps up to `window` messages in flight, oldest first; each acknowledged message is
  deleted from the spool. QoS 0 messages are deleted once written to the socket.
- When the connection drops, paho's own unacknowledged messages are discarded and everything still in
  the spool is sent again, in order, after the reconnect (at least once: a message whose PUBACK was
  lost arrives twice; consumers drop it by seq/message_id).
- Reconnects use exponential backoff with jitter, forever. A cause that retrying cannot fix (TLS trust,
  refused credentials) is logged as an error naming it; at startup `open_publisher` raises it instead.
- Availability: `online` (retained) after each CONNACK; `offline` is the Last Will, and is published
  cleanly by `stop` before the DISCONNECT.
- State messages (`post_state`: each camera's status) are retained, QoS 1, sent directly, not spooled: only
  the newest per topic waits while offline, and every topic's newest state is published again after each
  connect (a broker that lost its retained messages gets them back). `stop` sends pending ones before `offline`.
"""

from __future__ import annotations

import logging
import select
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_sdk.publish.backoff import backoff_delay
from edge_sdk.publish.connection import (
    ConnectFailure,
    connect_args,
    explain_closed,
    explain_connack,
    explain_exception,
    make_client,
)
from edge_sdk.publish.message import STATUS_OFFLINE, STATUS_ONLINE, stats_topic, status_topic
from edge_sdk.publish.settings import PublisherSettings
from edge_sdk.publish.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

_BATCH = 256  # spool rows read per query
_OFFLINE_ACK_WAIT_S = 2.0
_HOUSEKEEPING_S = 1.0


class SpoolSender:
    """Sends the spool to the broker from its own thread. `start`, then `stop` (once)."""

    def __init__(self, settings: PublisherSettings, spool: Spool, stats_payload: Callable[[Any], bytes]) -> None:
        self.s = settings
        self.spool = spool
        self._stats_payload = stats_payload
        self._status_topic = status_topic(settings.topic_prefix, settings.device_id)
        self._stats_topic = stats_topic(settings.topic_prefix, settings.device_id)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._client = make_client(settings.broker, settings.client_id, persistent=True)
        self._client.will_set(self._status_topic, STATUS_OFFLINE, qos=1, retain=True)
        self._client.max_inflight_messages_set(0)  # our window governs; paho must not queue behind it
        self._client.on_connect = self._on_connect
        self._client.on_publish = self._on_publish
        self._client.on_log = self._on_log
        self._thread = threading.Thread(target=self._run, name="mqtt-sender", daemon=True)
        # connection state (sender thread only)
        self._connecting_since: float | None = None
        self._connack: tuple[bool, int | None] | None = None
        self._connack_failure: ConnectFailure | None = None
        self._last_log_error = ""
        self._attempts = 0
        self._next_attempt = 0.0
        self._lost_since: float | None = None
        self._inflight: dict[int, int | None] = {}  # mid -> spool id (None: status/stats)
        self._acked: list[int] = []
        self._cursor = 0
        self._window = settings.max_inflight
        self._replay_until = 0
        self._next_housekeeping = 0.0
        self._last_failure_logged: str | None = None
        # shutdown
        self._stop = threading.Event()
        self._stop_deadline = 0.0
        self._offline_mid: int | None = None
        self._offline_deadline: float | None = None
        self._offline_acked = False
        # shared with other threads (read-only there)
        self._stats_lock = threading.Lock()
        self._stats_figures: Any = None
        self._states: dict[str, bytes] = {}  # topic -> newest retained state payload (under _stats_lock)
        self._states_pending: set[str] = set()
        self._wake_pending = False
        self.first_outcome = threading.Event()
        self.first_failure: ConnectFailure | None = None
        self.connected = False
        self.sent = 0
        self.replayed = 0
        self.rejected = 0
        self.reconnects = 0
        self.last_error: str | None = None

    # -- control (any thread) -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Make the thread look at the spool (and the stop flag) now. Coalesced: one byte until it woke."""
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._wake_w.send(b"\0")
        except OSError:  # buffer full (already awake) or closed
            pass

    def message_added(self) -> None:
        """A message was appended to the spool: wake the thread only if it can send it now."""
        if self.connected:
            self.wake()

    def post_stats(self, figures: Any) -> None:
        """Publish a stats message when connected; only the newest waits while offline."""
        with self._stats_lock:
            self._stats_figures = figures
        self.wake()

    def post_state(self, topic: str, payload: bytes) -> None:
        """Publish a retained state message (QoS 1) when connected; only the newest per topic waits while
        offline, and each topic's newest is published again after every reconnect."""
        with self._stats_lock:
            self._states[topic] = payload
            self._states_pending.add(topic)
        self.wake()

    def stop(self, drain_timeout_s: float) -> None:
        """Send what the spool holds for up to `drain_timeout_s` (if connected), publish `offline`,
        disconnect and end the thread. What is not sent stays in the spool."""
        self._stop_deadline = time.monotonic() + drain_timeout_s
        self._stop.set()
        self.wake()
        if self._thread.is_alive():
            self._thread.join(drain_timeout_s + self.s.broker.connect_timeout_s + _OFFLINE_ACK_WAIT_S + 3.0)
            if self._thread.is_alive():
                log.warning("MQTT sender thread did not stop in time; %d message(s) stay spooled", len(self.spool))
        for sock in (self._wake_r, self._wake_w):
            sock.close()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    # -- paho callbacks (sender thread, inside loop_read/loop_write) -------------------------------
    def _on_connect(self, _client: Any, _userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._connack_failure = explain_connack(reason, self.s.broker)
        else:
            self._connack = (bool(flags.session_present), getattr(props, "ReceiveMaximum", None))

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        if mid == self._offline_mid:
            self._offline_acked = True
        if mid not in self._inflight:
            return
        spool_id = self._inflight.pop(mid)
        if reason.is_failure:  # MQTT 5: the broker refused this message (ACL, size); retrying cannot help
            self.rejected += 1
            log.error("the broker refused a message (%s); it is dropped", reason)
        if spool_id is not None:
            self._acked.append(spool_id)
            self.sent += 1
            if spool_id <= self._replay_until:
                self.replayed += 1

    def _on_log(self, _client: Any, _userdata: Any, level: int, buf: str) -> None:
        from paho.mqtt.enums import LogLevel

        if level == LogLevel.MQTT_LOG_ERR:
            self._last_log_error = buf

    # -- the thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        errors = spool_errors = 0
        try:
            while True:
                try:
                    if self._step():
                        return
                except (sqlite3.Error, SpoolFull) as exc:  # the spool's disk, not the connection: keep the session
                    spool_errors += 1
                    self.last_error = f"spool: {exc}"
                    if spool_errors == 1 or spool_errors % 100 == 0:
                        log.error("MQTT sender: the spool cannot be read or updated (%s; %d time(s)); retrying",
                                  exc, spool_errors)
                    if self._stop.is_set():
                        return
                    self._wait(1.0)
                except Exception as exc:  # a bug: log, reset the connection, go on
                    errors += 1
                    self.last_error = f"sender error: {exc}"
                    if errors == 1 or errors % 100 == 0:
                        log.exception("MQTT sender error (%d so far); reconnecting, messages stay in the spool", errors)
                    if self._stop.is_set():
                        return
                    self.connected = False
                    self._connecting_since = None
                    self._drop_socket()
                    self._inflight.clear()
                    self._acked.clear()  # not deleted: they are sent again (duplicates, not losses)
                    self._attempts += 1
                    self._schedule_retry()
        finally:
            self.connected = False
            self._drop_socket()  # no DISCONNECT: the broker publishes the Last Will, as it should
            self.first_outcome.set()
            try:
                self._flush_acks()
            except Exception as exc:
                log.warning("could not record the last acknowledgements (%s); those messages are sent again", exc)

    def _step(self) -> bool:
        """One turn of the loop; True when the thread should end."""
        self._wake_pending = False  # before looking at the spool: an append from now on wakes us again
        now = time.monotonic()
        stopping = self._stop.is_set()
        if self._client.socket() is None:
            if stopping:
                return True
            if now >= self._next_attempt:
                self._attempt()
            else:
                self._wait(self._next_attempt - now)
            return False
        if stopping and self._shutdown_step(now):
            return True
        if self.connected:
            self._send_stats()
            self._send_states()
            self._pump()
        elif self._connecting_since is not None and now - self._connecting_since > self.s.broker.connect_timeout_s:
            self._drop_socket()
            self._failed(ConnectFailure("unreachable", "no CONNACK within "
                                        f"{self.s.broker.connect_timeout_s:g} s", False,
                                        "check that mqtt.host:mqtt.port is an MQTT broker"))
            return False
        self._io(self._timeout(now))
        self._after_io()
        self._flush_acks()
        self._housekeeping(now)
        return False

    def _timeout(self, now: float) -> float:
        t = min(0.5, max(0.0, self._next_housekeeping - now))
        if self._connecting_since is not None:
            t = min(t, max(0.0, self._connecting_since + self.s.broker.connect_timeout_s - now))
        return max(t, 0.001)

    def _wait(self, seconds: float) -> None:
        try:
            r, _, _ = select.select([self._wake_r], [], [], max(0.0, min(seconds, 1.0)))
        except (OSError, ValueError):
            return
        if r:
            self._drain_wake()

    def _drain_wake(self) -> None:
        self._wake_pending = False  # before reading: a wake() from now on sends a new byte
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _io(self, timeout: float) -> None:
        sock = self._client.socket()
        if sock is None:
            return
        if _pending(sock):  # TLS: decrypted bytes waiting that select cannot see
            timeout = 0.0
        wlist = [sock] if self._client.want_write() else []
        try:
            readable, writable, _ = select.select([sock, self._wake_r], wlist, [], timeout)
        except (OSError, ValueError):  # the socket was closed under us
            readable, writable = [sock], []
        if self._wake_r in readable:
            self._drain_wake()
        if sock in readable or _pending(sock):
            self._client.loop_read()
        if self._client.socket() is not None and (writable or self._client.want_write()):
            self._client.loop_write()
        if self._client.socket() is not None:
            self._client.loop_misc()

    # -- connection life cycle ------------------------------------------------------------------------
    def _drop_socket(self) -> None:
        """Close the socket without a DISCONNECT packet (so a connected session's Last Will fires).
        paho has no public call for this; `_sock_close` is stable across paho 2.x (pinned <3)."""
        if self._client.socket() is not None:
            self._client._sock_close()

    def _attempt(self) -> None:
        self._attempts += 1
        self._connack = None
        self._connack_failure = None
        self._last_log_error = ""
        self._client.drop_out_messages()  # the spool resends; paho must not send its own copies too
        self._inflight.clear()
        try:
            self._client.connect(**connect_args(self.s.broker, persistent=True))
        except Exception as exc:
            self._failed(explain_exception(exc, self.s.broker))
            return
        self._connecting_since = time.monotonic()

    def _after_io(self) -> None:
        if self._connack is not None:
            session_present, receive_max = self._connack
            self._connack = None
            self._online(session_present, receive_max)
        elif self._connack_failure is not None:
            failure, self._connack_failure = self._connack_failure, None
            self._drop_socket()
            self._failed(failure)
        elif self._client.socket() is None:
            if self.connected:
                self._lost()
            elif self._connecting_since is not None:  # closed before CONNACK: often a TLS alert
                self._failed(explain_closed(self._last_log_error, self.s.broker))

    def _online(self, session_present: bool, receive_max: int | None) -> None:
        now = time.monotonic()
        self._connecting_since = None
        self.connected = True
        self._attempts = 0
        self._last_failure_logged = None
        limit = (receive_max or 65535) - 2  # room for status/stats beside the detections
        self._window = max(1, min(self.s.max_inflight, limit))
        self._cursor = 0
        self._inflight.clear()
        self._replay_until = self.spool.last_id
        backlog = len(self.spool)
        self._publish_direct(self._status_topic, STATUS_ONLINE, retain=True)
        with self._stats_lock:
            self._states_pending = set(self._states)  # the broker may have lost them: publish every state again
        if self._lost_since is not None:
            self.reconnects += 1
            log.info("MQTT reconnected to %s after %.1f s offline; replaying %d spooled message(s)",
                     self.s.broker.url, now - self._lost_since, backlog)
        else:
            log.info("MQTT connected to %s as %s (session %s, %d spooled message(s) to send)", self.s.broker.url,
                     self.s.client_id, "resumed" if session_present else "new", backlog)
        self._lost_since = None
        self.first_outcome.set()

    def _lost(self) -> None:
        self.connected = False
        self._connecting_since = None
        self._inflight.clear()
        self._lost_since = time.monotonic()
        reason = self._last_log_error or "the broker closed the connection"
        self.last_error = f"connection lost: {reason}"
        if not self._stop.is_set():
            log.warning("MQTT connection to %s lost (%s); spooling to %s and reconnecting", self.s.broker.url,
                        reason, self.spool.stats().path)
        self._attempts = 0
        self._schedule_retry()

    def _failed(self, failure: ConnectFailure) -> None:
        self._connecting_since = None
        self.connected = False
        if self._lost_since is None:
            self._lost_since = time.monotonic()
        self.last_error = f"{failure.cause}: {failure.detail}"
        if not self.first_outcome.is_set():
            self.first_failure = failure
            self.first_outcome.set()
        elif self._last_failure_logged != failure.cause:
            level = logging.ERROR if failure.fatal else logging.WARNING
            log.log(level, "MQTT connect to %s failed: %s (%s); %d message(s) spooled, retrying%s",
                    self.s.broker.url, failure.cause, failure.detail, len(self.spool),
                    f"; fix: {failure.fix}" if failure.fix and failure.fatal else "")
        self._last_failure_logged = failure.cause
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        delay = backoff_delay(max(1, self._attempts), self.s.reconnect_min_s, self.s.reconnect_max_s)
        self._next_attempt = time.monotonic() + delay

    # -- sending ----------------------------------------------------------------------------------------
    def _pump(self) -> None:
        # `spool.last_id` is read without the spool's lock: a commit it does not show yet wakes us again
        while len(self._inflight) < self._window and self._cursor < self.spool.last_id:
            rows = self.spool.peek(self._cursor, min(_BATCH, self._window - len(self._inflight)))
            if not rows:
                return
            for row in rows:
                info = self._client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
                if info.rc != 0:  # the connection is going down; the loop notices
                    return
                self._cursor = row.id
                if info.is_published():  # QoS 0: written already
                    self._acked.append(row.id)
                    self.sent += 1
                    if row.id <= self._replay_until:
                        self.replayed += 1
                else:
                    self._inflight[info.mid] = row.id
                if self._client.socket() is None:
                    return

    def _publish_direct(self, topic: str, payload: bytes, *, retain: bool) -> int | None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != 0:
            return None
        if not info.is_published():
            self._inflight[info.mid] = None
        return int(info.mid)

    def _send_stats(self) -> None:
        with self._stats_lock:
            figures, self._stats_figures = self._stats_figures, None
        if figures is not None:
            self._publish_direct(self._stats_topic, self._stats_payload(figures), retain=True)

    def _send_states(self) -> None:
        with self._stats_lock:
            pending = [(t, self._states[t]) for t in sorted(self._states_pending)]
            self._states_pending.clear()
        for topic, payload in pending:
            if self._publish_direct(topic, payload, retain=True) is None:  # the connection is going down
                with self._stats_lock:
                    self._states_pending.add(topic)

    def _flush_acks(self) -> None:
        if self._acked:
            ids, self._acked = self._acked, []
            self.spool.ack(ids)

    def _housekeeping(self, now: float) -> None:
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + _HOUSEKEEPING_S
        if len(self.spool) or self.spool.pending_acks:
            self.spool.expire()

    # -- shutdown -----------------------------------------------------------------------------------------
    def _shutdown_step(self, now: float) -> bool:
        """While stopping with a socket open: drain, say offline, disconnect. True when done."""
        if not self.connected:
            if now > self._stop_deadline:
                self._drop_socket()
                return True
            return False
        if self._offline_deadline is None:
            drained = len(self.spool) == 0 and not self._inflight
            if drained or now > self._stop_deadline:
                if not drained:
                    log.warning("MQTT: %d message(s) not sent before shutdown stay in the spool for the next start",
                                len(self.spool))
                self._send_stats()
                self._send_states()
                self._offline_mid = self._publish_direct(self._status_topic, STATUS_OFFLINE, retain=True)
                self._offline_deadline = now + _OFFLINE_ACK_WAIT_S
            return False
        if self._offline_acked or self._offline_mid is None or now > self._offline_deadline:
            self._client.disconnect()  # a clean DISCONNECT: the broker does not publish the Last Will
            self._client.loop_write()
            self.connected = False
            self._drop_socket()
            return True
        return False


def _pending(sock: Any) -> int:
    pending = getattr(sock, "pending", None)
    return int(pending()) if callable(pending) else 0
