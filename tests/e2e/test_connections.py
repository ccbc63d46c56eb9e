"""The real server under connection pressure (issue 16, point 1): idle connections and a slowloris past
``server.connection_limit`` are closed by ``channel_timeout`` and ``read_timeout`` and keep no request
out for long, and ``/healthz`` answers while every worker thread waits on a directory that stopped."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import OPENLDAP_MAP, TOKEN
from tests.e2e.conftest import Bridge, serve_with
from tests.slapd_fixtures import Subtree

CHANNEL_TIMEOUT = 1  # seconds; the settings take whole seconds
READ_TIMEOUT = 2
LIMIT = 4
TRICKLE = 0.25  # a slow client's byte every this many seconds: far more often than CHANNEL_TIMEOUT
SLACK = 2.0  # the server looks once a second; a loaded test machine adds a little


def _port(bridge: Bridge) -> int:
    return int(bridge.url.split(":")[2].split("/")[0])


def _ldap(slapd: SlapdInfo, user_base: str, group_base: str, **more: Any) -> dict[str, Any]:
    return {
        "urls": [slapd.url],
        "tls": "none",
        "bind_dn": slapd.bind_dn,
        "user_base": user_base,
        "group_base": group_base,
        **more,
    }


@dataclass
class Attacker:
    """One connection held open: silent, or sending a header byte every ``TRICKLE`` seconds."""

    sock: socket.socket
    slow: bool
    opened: float = field(default_factory=time.monotonic)
    closed: float | None = None  # when the server closed it
    sent: int = 0

    def hold(self, stop: threading.Event) -> None:
        """Wait for the server to close the connection, trickling bytes meanwhile when ``slow``."""
        self.sock.settimeout(TRICKLE)
        if self.slow:
            self.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        while not stop.is_set():
            try:
                if self.sock.recv(1024) == b"":
                    break
            except TimeoutError:
                if self.slow:
                    try:
                        self.sock.send(b"a")
                        self.sent += 1
                    except OSError:
                        break
                continue
            except OSError:  # reset: closed by the server with our bytes unread
                break
        if not stop.is_set():
            self.closed = time.monotonic()


@contextmanager
def attackers(port: int, slow: int, idle: int) -> Iterator[list[Attacker]]:
    """``slow`` then ``idle`` connections to ``port``, each held by a thread until the server closes it."""
    held = [Attacker(socket.create_connection(("127.0.0.1", port)), True) for _ in range(slow)]
    held += [Attacker(socket.create_connection(("127.0.0.1", port)), False) for _ in range(idle)]
    stop = threading.Event()
    threads = [threading.Thread(target=one.hold, args=(stop,), daemon=True) for one in held]
    for thread in threads:
        thread.start()
    try:
        yield held
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        for one in held:
            one.sock.close()


def timed_get(port: int, path: str, timeout: float) -> tuple[int, float]:
    """GET ``path`` with the token: the status and the seconds it took."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        status = conn.getresponse().status
    finally:
        conn.close()
    return status, time.monotonic() - started


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-worker-processes"])
def test_idle_and_slow_connections_past_the_limit_are_closed_and_keep_no_request_out(
    slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path, processes: int
) -> None:
    """Slowloris and idle connections past ``server.connection_limit``: /healthz and a SCIM request are
    answered within seconds, and each trickling connection is closed though it never went idle (with every
    place taken, once its request has been arriving for ``channel_timeout``; tests/http/test_server.py
    covers ``read_timeout`` with places to spare). With workers, each holds LIMIT: nine attackers still
    outnumber the places of two."""
    server = {"connection_limit": LIMIT, "channel_timeout": CHANNEL_TIMEOUT, "read_timeout": READ_TIMEOUT}
    ldap = _ldap(slapd, ldap_subtree.user_base, ldap_subtree.group_base)
    serving = contextmanager(serve_with)
    with serving(tmp_path, ldap, slapd.password, OPENLDAP_MAP, processes=processes, server=server) as bridge:
        port = _port(bridge)
        assert timed_get(port, "/scim/v2/Users", 5)[0] == 200  # warm: the pool is open
        # Three slowloris connections take three places at once, then six idle ones: nine in all, more
        # than twice the limit, so most wait in the kernel's queue until a place frees.
        with attackers(port, slow=3, idle=6) as held:
            time.sleep(0.2)
            started = time.monotonic()
            health, health_took = timed_get(port, "/healthz", 15)
            users, users_took = timed_get(port, "/scim/v2/Users?count=1", 15)
            # Waiting: one round of idle connections (one second each, four at a time), not a minute.
            bound = READ_TIMEOUT + 2 * CHANNEL_TIMEOUT + 2 * SLACK
            assert (health, users) == (200, 200)
            assert time.monotonic() - started < bound, (health_took, users_took)
            deadline = time.monotonic() + READ_TIMEOUT + CHANNEL_TIMEOUT + SLACK
            while any(one.closed is None for one in held) and time.monotonic() < deadline:
                time.sleep(0.1)
            lasted = [None if one.closed is None else round(one.closed - one.opened, 2) for one in held]
            assert all(one.closed is not None for one in held), lasted
            for one in held[:3]:
                # Never idle (a byte every quarter second), yet closed: at its read_timeout at the latest, and
                # sooner, after channel_timeout, while every place is taken and connections wait.
                assert one.closed is not None, lasted
                assert one.sent >= CHANNEL_TIMEOUT / TRICKLE / 2, (one.sent, lasted)
                assert CHANNEL_TIMEOUT - 0.5 <= one.closed - one.opened <= READ_TIMEOUT + SLACK, lasted
        assert timed_get(port, "/healthz", 5)[0] == 200


@pytest.fixture
def stoppable_slapd(tmp_path: Path) -> Iterator[Slapd]:
    """A slapd of this test's own, which it may stop with SIGSTOP without stalling any other test."""
    server = Slapd(tmp_path / "slapd", extra_schema=[default_schema_path()])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_healthz_answers_while_every_worker_thread_waits_on_a_stopped_directory(
    stoppable_slapd: Slapd, tmp_path: Path
) -> None:
    info = stoppable_slapd.info
    ldap = _ldap(info, info.user_base, info.group_base, operation_timeout=6, pool_size=2)
    server = {"threads": 2}
    with contextmanager(serve_with)(tmp_path, ldap, info.password, OPENLDAP_MAP, server=server) as bridge:
        port = _port(bridge)
        assert timed_get(port, "/scim/v2/Users", 5)[0] == 200
        busy: list[tuple[int, float]] = []
        stoppable_slapd.pause()
        try:
            waiting = [
                threading.Thread(target=lambda: busy.append(timed_get(port, "/scim/v2/Users", 30)))
                for _ in range(4)  # twice the threads: two run, two are queued behind them
            ]
            for thread in waiting:
                thread.start()
            time.sleep(0.2)
            status, took = timed_get(port, "/healthz", 5)
            assert not busy, busy  # every request to the directory was still unanswered
        finally:
            stoppable_slapd.resume()
        assert status == 200 and took < 0.5, took
        for thread in waiting:
            thread.join(30)
        assert len(busy) == 4
