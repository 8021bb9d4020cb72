"""EXTEND_TIMEOUT_USEC while the model loads (a TensorRT build when its cache misses can outlast
TimeoutStartSec=300), against a real AF_UNIX datagram socket as NOTIFY_SOCKET."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from edge_sdk.daemon.notify import Notifier
from tests.daemon.conftest import StallableCamera, start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.pipeline.conftest import app_yaml


def test_extending_asks_for_more_time_while_inside_and_stops_after(tmp_path: Path) -> None:
    with NotifySocket(tmp_path / "notify.sock") as ns:
        n = Notifier({"NOTIFY_SOCKET": ns.env_value})
        ticks: list[float] = []
        with n.extending("building the TensorRT engine", every_s=0.05, extend_s=90, tick=lambda: ticks.append(1)):
            deadline = time.monotonic() + 10
            while len(ns.with_key("EXTEND_TIMEOUT_USEC")) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        left = time.monotonic()
        extends = ns.with_key("EXTEND_TIMEOUT_USEC")
        assert len(extends) >= 3 and len(ticks) >= 3
        assert extends[0]["EXTEND_TIMEOUT_USEC"] == "90000000"
        assert extends[0]["STATUS"].startswith("building the TensorRT engine (")
        time.sleep(0.3)  # 6 periods: a thread still running would have sent more
        assert ns.with_key("EXTEND_TIMEOUT_USEC", since=left + 0.1) == [], "nothing after leaving the block"


def test_extending_stops_at_its_limit_so_a_hung_load_still_times_out(tmp_path: Path) -> None:
    with NotifySocket(tmp_path / "notify.sock") as ns:
        n = Notifier({"NOTIFY_SOCKET": ns.env_value})
        ticks: list[float] = []
        with n.extending("loading", every_s=0.05, limit_s=0.3, tick=lambda: ticks.append(time.monotonic())):
            deadline = time.monotonic() + 10
            while (not ticks or ticks[-1] < ticks[0] + 1.0) and time.monotonic() < deadline:
                time.sleep(0.05)  # a load that takes three times the limit
        extends = [t for t, m in ns.messages if "EXTEND_TIMEOUT_USEC" in m]
        assert extends and max(extends) - min(extends) < 0.6, "no extension after limit_s"
        assert ticks[-1] - ticks[0] >= 1.0, "the tick (watchdog) goes on: the old engine still serves"


def test_extending_outside_systemd_does_nothing() -> None:
    ran = threading.Event()
    with Notifier({}).extending("loading", tick=ran.set):
        pass
    assert not ran.is_set()


def test_the_daemon_extends_the_start_timeout_while_it_loads_the_model(tmp_path: Path, camera: StallableCamera,
                                                                       const_model: Path) -> None:
    cfg = app_yaml(tmp_path, const_model, f"file://{camera.fifo}")
    with NotifySocket(tmp_path / "notify.sock") as ns:
        proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value})
        try:
            ns.wait_for("READY", 60)
        finally:
            rc, _out, err = stop_daemon(proc)
        assert rc == 0, err
        keys = [next(iter(m)) for _, m in ns.messages]
        assert "EXTEND_TIMEOUT_USEC" in keys[:keys.index("READY")], keys
        extend = ns.with_key("EXTEND_TIMEOUT_USEC")[0]
        assert int(extend["EXTEND_TIMEOUT_USEC"]) >= 30_000_000 and "loading the model" in extend["STATUS"]
