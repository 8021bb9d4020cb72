"""SIGTERM while the broker is down: the daemon (`python -m edge_sdk.cli.main run`) still drains and exits 0, well
within the unit's TimeoutStopSec (daemon.drain_timeout_s + 10 s), keeps what it could not send in its spool and
sends it at the next start: a persistent subscriber then has every frame the stopped run took in. Real Mosquitto
(killed with SIGKILL, restarted with its persistence), a real notify socket."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.daemon.conftest import start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.daemon.test_signals import _config, _model
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def _frames(status: str) -> int:
    m = re.search(r"(\d+) frames", status)
    return int(m.group(1)) if m else -1


def test_sigterm_with_the_broker_down_exits_at_once_and_loses_nothing(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    cfg = _config(tmp_path, _model(tmp_path / "a.onnx", 0.9, 1), port=broker.port)
    text = cfg.read_text().replace("  stats_interval_s: 1.0\n", "  stats_interval_s: 1.0\n  reconnect_max_s: 1\n")
    cfg.write_text(text.replace("daemon:\n  drain_timeout_s: 5\n", "daemon:\n  drain_timeout_s: 5\n  status_interval_s: 0.5\n"))
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="sigterm-down", persistent=True,
                              drop_duplicates=False, max_reconnect_delay_s=1).open()
    seqs: set[int] = set()
    try:
        assert broker.wait_saved(), "the subscriber's session is on disk before the broker is killed"
        with NotifySocket(tmp_path / "notify.sock") as ns:
            proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value}, "--json")
            try:
                ns.wait_for("READY", 60)
                while (m := sub.get(timeout=20)) is None:
                    pass
                seqs.add(m.seq)
                broker.kill()  # SIGKILL: the daemon's spool keeps everything from here on
                t_down = time.monotonic()
                before = max((_frames(s["STATUS"]) for s in ns.with_key("STATUS")), default=0)
                deadline = time.monotonic() + 20
                while max((_frames(s["STATUS"]) for s in ns.with_key("STATUS", since=t_down)), default=-1) < before + 5:
                    assert time.monotonic() < deadline, "no frames went through while the broker was down"
                    time.sleep(0.05)
            finally:
                t_term = time.monotonic()
                rc, out, err = stop_daemon(proc, timeout=60)
                took = time.monotonic() - t_term
        assert rc == 0, err
        assert took < 5 + 10, f"SIGTERM with the broker down took {took:.1f} s (TimeoutStopSec is drain_timeout_s + 10)"
        first = json.loads(out.strip().splitlines()[-1])
        assert first["stopped_by"] == "SIGTERM" and first["frames"] > 0
        assert re.search(r"\d+ message\(s\) remain spooled for the next start", err), err[-2000:]

        broker.start()  # the broker is back; the daemon starts again and sends what the spool kept
        proc = start_daemon(cfg, {}, "--json")
        try:
            deadline = time.monotonic() + 60
            while not set(range(1, first["frames"] + 1)) <= seqs:
                assert time.monotonic() < deadline, sorted(set(range(1, first["frames"] + 1)) - seqs)[:20]
                if (m := sub.get(timeout=0.5)) is not None:
                    seqs.add(m.seq)
        finally:
            rc, _out, err = stop_daemon(proc)
        assert rc == 0, err
    finally:
        sub.close()
        broker.stop()
