"""The systemd notify protocol against a real AF_UNIX datagram socket set as NOTIFY_SOCKET, with the real
daemon (`python -m edge_sdk.cli.main run`) as a subprocess on a camera stream that can be stalled."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

from edge_sdk.daemon.notify import Notifier
from tests.daemon.conftest import StallableCamera, start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.pipeline.conftest import app_yaml
from tests.publish.helpers import wait_until

DAEMON = """daemon:
  watchdog_stall_s: 1.0
  status_interval_s: 0.5
"""


def _wait_ready(ns: NotifySocket, proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ns.with_key("READY"):
            return ns.with_key("READY")[0]
        if proc.poll() is not None:
            raise AssertionError(f"the daemon exited ({proc.returncode}) before READY: {proc.communicate()[1]}")
        time.sleep(0.05)
    proc.terminate()
    raise AssertionError(f"no READY within {timeout} s: {proc.communicate(timeout=30)[1]}")


def test_notifier_path_and_abstract_sockets(tmp_path: Path) -> None:
    with NotifySocket(tmp_path / "notify.sock") as path_sock:
        n = Notifier({"NOTIFY_SOCKET": path_sock.env_value})
        assert n.ready("up")
        msg = path_sock.wait_for("READY", 5)
        assert msg == {"READY": "1", "STATUS": "up", "MAINPID": str(os.getpid())}
        n.close()
    name = f"edge-sdk-test-{uuid.uuid4().hex}"
    with NotifySocket(abstract_name=name) as abstract:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.stopping("bye")
        assert abstract.wait_for("STOPPING", 5) == {"STOPPING": "1", "STATUS": "bye"}
        n.close()


def test_notifier_off_without_socket_and_watchdog_for_other_pid() -> None:
    n = Notifier({})
    assert not n.enabled and not n.ready("x")
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000"}).watchdog_interval_s == 2.0
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "0"}).watchdog_interval_s is None
    # A vanished socket is an expected condition: False, not an exception.
    assert not Notifier({"NOTIFY_SOCKET": "/nonexistent/notify.sock"}).watchdog()


def test_ready_watchdog_only_while_frames_flow_then_stopping(tmp_path: Path, camera: StallableCamera,
                                                            const_model: Path) -> None:
    cfg = app_yaml(tmp_path, const_model, f"file://{camera.fifo}", DAEMON)
    with NotifySocket(tmp_path / "notify.sock") as ns:
        proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "1000000"})
        try:
            ready = _wait_ready(ns, proc)
            assert ready["MAINPID"] == str(proc.pid)
            assert "running" in ready["STATUS"] and "fps" in ready["STATUS"]
            keys = [next(iter(m)) for _, m in ns.messages]
            assert "WATCHDOG" not in keys[:keys.index("READY")], "no pings before READY"
            t_flow = time.monotonic()
            assert wait_until(lambda: len(ns.with_key("WATCHDOG", since=t_flow)) >= 2, 30), \
                "frames flow: the watchdog must be fed"

            camera.pause()  # the camera stalls: no frame arrives any more
            t_pause = time.monotonic()
            # The daemon says so once watchdog_stall_s passed (however busy this machine is), and from then on
            # sends no ping: a ping sent before that STATUS was received before it (one datagram socket).
            assert wait_until(lambda: any("stalled" in m["STATUS"] for m in ns.with_key("STATUS", since=t_pause)),
                              30), "the daemon noticed the stall"
            t_stalled = time.monotonic()
            time.sleep(2.5)  # more than two half-intervals of WATCHDOG_USEC=1 s in which a ping would come
            assert ns.with_key("WATCHDOG", since=t_stalled) == [], "no pings while frames do not flow"
            assert proc.poll() is None, "the daemon stays up; systemd decides (WatchdogSec) to restart it"

            camera.resume()
            t_resumed = time.monotonic()
            ns.wait_for("WATCHDOG", 10, since=t_resumed)
        finally:
            rc, _out, err = stop_daemon(proc)
        assert rc == 0, err
        stopping = ns.wait_for("STOPPING", 5)
        assert "SIGTERM" in stopping["STATUS"]
        assert "SIGTERM received: draining" in err
