"""The real daemon on a spool whose disk goes bad: a spool file replaced by random bytes does not keep the
service from starting (moved aside, a fresh spool, said in the log and on the stats topic), and a file system
that fails under it (a loop-mounted ext4 the kernel turns read-only, as a dying SD card does) stops the systemd
watchdog pings so that systemd restarts the service."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.daemon.conftest import start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.pipeline.conftest import write_video
from tests.publish.conftest import TopicCollector
from tests.support.broker import MosquittoBroker
from tests.support.small_fs import fail, failing_ext4

pytestmark = pytest.mark.broker


def test_a_damaged_spool_at_start_and_a_failing_disk_later(tmp_path: Path, const_model: Path) -> None:
    video = write_video(tmp_path / "clip.avi", 30)
    broker = MosquittoBroker(tmp_path / "broker").start()
    with failing_ext4(tmp_path / "state") as state:
        (state / "spool").mkdir()
        (state / "spool" / "mqtt.sqlite").write_bytes(os.urandom(200_000))  # what a bad copy or a bad disk leaves
        cfg = tmp_path / "app.yaml"
        cfg.write_text(f"""device: cpu
device_id: disk
state_dir: {state}
model:
  path: {const_model}
sources:
  - name: cam0
    uri: file://{video}?loop=1&realtime=1&fps=10
mqtt:
  host: 127.0.0.1
  port: {broker.port}
  stats_interval_s: 1.0
daemon:
  watchdog_stall_s: 2.0
  status_interval_s: 0.5
""")
        stats = TopicCollector(broker.port, "edge/disk/stats")
        try:
            with NotifySocket(tmp_path / "notify.sock") as ns:
                proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "1000000"})
                try:
                    ns.wait_for("READY", 60)
                    deadline = time.monotonic() + 20
                    while not stats.json() and time.monotonic() < deadline:
                        time.sleep(0.1)
                    damaged = stats.json()[-1]["mqtt"]["spool"]["damaged"]
                    t_ok = time.monotonic()
                    ns.wait_for("WATCHDOG", 10, since=t_ok)

                    fail(state)  # the kernel turns the file system read-only under the daemon
                    t_fail = time.monotonic()
                    stalled = None
                    while stalled is None and time.monotonic() < t_fail + 40:
                        stalled = next((m for m in ns.with_key("STATUS", since=t_fail)
                                        if m["STATUS"].startswith("stalled")), None)
                        time.sleep(0.1)
                    assert stalled is not None, "an unwritable spool must make the service unhealthy"
                    t_stalled = time.monotonic()
                    time.sleep(2.5)  # more than two watchdog half-intervals
                    assert ns.with_key("WATCHDOG", since=t_stalled) == [], "no pings: systemd restarts the service"
                    assert proc.poll() is None
                finally:
                    rc, _out, err = stop_daemon(proc)
        finally:
            stats.close()
            broker.stop()
        moved = list((state / "spool").glob("mqtt.sqlite.damaged-*"))
    assert damaged is not None and damaged["salvaged"] == 0 and "not a database" in damaged["reason"]
    assert [p.name for p in moved] == [Path(damaged["moved_to"]).name]
    assert "SPOOL DAMAGED" in err and "the spool cannot be written" in err, err[-3000:]
    assert rc == 0, err[-3000:]
    json.dumps(damaged)
