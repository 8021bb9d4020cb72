"""The simulated fleet's uplink: a TCP relay between the devices' bridges and the central broker, which a test can
cut (every open connection reset, new ones refused) and restore on the same port.

Why not stop the central broker instead: that is another fault. Mosquitto (2.0.11, the central broker run here)
does not restore MQTT 5 shared subscriptions from its persistence file after a restart (the member's session comes
back, its `$share/...` subscription does not), so what the bridges forward after a restart and before each
consumer has subscribed again is routed to nobody and dropped: measured in
tests/fleet/test_shared.py::test_a_restarted_mosquitto_forgets_shared_subscriptions_until_members_resubscribe
and written in docs/fleet.md. A lost uplink is what a device sees when the central site or the network in between
goes away, and the bridge's persistent queue must cover it with nothing lost.

    uplink = Uplink(central_port).start()     # the bridges connect to uplink.port
    uplink.cut(); ...; uplink.restore()
    uplink.close()
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Uplink:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self.cuts = 0

    def start(self) -> Uplink:
        """Listen (on a free port the first time, on the same port after a cut) and relay every connection."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        t = threading.Thread(target=self._accept, args=(listener,), name="uplink-accept", daemon=True)
        t.start()
        with self._lock:
            self._threads.append(t)
        return self

    def cut(self) -> None:
        """The uplink goes down: new connections are refused and every open one is reset at once."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            pairs, self._pairs = set(self._pairs), set()
        for a, b in pairs:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
        self.cuts += 1

    def restore(self) -> None:
        """The uplink is back, on the same port."""
        if self._listener is None:
            self.start()

    def close(self) -> None:
        self.cut()
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(5)

    # -- relaying ------------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                device, _addr = listener.accept()
            except OSError:  # cut or closed
                return
            try:
                central = socket.create_connection((self.host, self.target_port), timeout=5)
                central.settimeout(None)
            except OSError:
                device.close()
                continue
            pair = (device, central)
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    device.close()
                    central.close()
                    return
                self._pairs.add(pair)
                self._threads = [t for t in self._threads if t.is_alive()]
                for src, dst in ((device, central), (central, device)):
                    t = threading.Thread(target=self._pump, args=(src, dst, pair), name="uplink-pump", daemon=True)
                    t.start()
                    self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:  # one side ended: end both (an MQTT connection is not half-open)
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._pairs.discard(pair)
            for s in pair:
                with contextlib.suppress(OSError):
                    s.close()
