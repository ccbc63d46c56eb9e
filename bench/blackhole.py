"""A TCP proxy on loopback that can stop forwarding: a directory behind a network that drops packets.

``Blackhole(host, port)`` listens on a free loopback port and relays every connection to ``host:port``,
both ways, until :meth:`Blackhole.swallow`. From then on it still accepts connections (as a kernel's
backlog would) but passes no byte either way and answers nothing, until :meth:`Blackhole.forward`, which
lets the held bytes through, as a healed network would. When the upstream refuses or closes, the
client's connection is closed too, so a killed server behind it still looks killed.

One thread per direction of each connection: the drill holds a few dozen at most.
"""

from __future__ import annotations

import contextlib
import socket
import threading

HOST = "127.0.0.1"


class Blackhole:
    """The proxy; :attr:`url` is what the bridge is configured with."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server((HOST, 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"ldap://{HOST}:{self.port}"
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="blackhole-accept", daemon=True).start()

    def swallow(self) -> None:
        """Stop passing bytes: connections stay open and silent."""
        self._flowing.clear()

    def forward(self) -> None:
        """Pass bytes again, those held included."""
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self._listener.close()
        with self._lock:
            held, self._sockets = set(self._sockets), set()
        for sock in held:
            sock.close()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._keep(client)
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()  # a connection made while swallowing reaches nothing until it flows again
        try:
            upstream = socket.create_connection(self._upstream, timeout=5)
        except OSError:
            client.close()  # the server is down: so is this connection
            return
        upstream.settimeout(None)
        self._keep(upstream)
        threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()
        self._relay(upstream, client)

    def _relay(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                if self._closed:
                    break
                target.sendall(data)
        except OSError:
            pass  # either side went away: close both
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._lock:
            self._sockets.discard(source)
            self._sockets.discard(target)
