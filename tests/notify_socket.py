"""A service manager's notify socket, played by the test: what the bridge sends to $NOTIFY_SOCKET."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class NotifySocket:
    sock: socket.socket
    address: str  # as $NOTIFY_SOCKET spells it

    def receive(self, timeout: float = 5.0) -> dict[str, str]:
        """The next message, as its NAME=value fields."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n"))

    def receive_until(self, name: str, timeout: float = 10.0) -> list[dict[str, str]]:
        """Every message up to and including the first that sets ``name``."""
        deadline = time.monotonic() + timeout
        messages: list[dict[str, str]] = []
        while not messages or name not in messages[-1]:
            messages.append(self.receive(max(0.01, deadline - time.monotonic())))
        return messages


@contextmanager
def listening() -> Iterator[NotifySocket]:
    """A datagram socket in the abstract namespace, the kind systemd itself hands out."""
    name = f"scim-ldap-bridge-test/{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        yield NotifySocket(sock, "@" + name)
