"""Outages of the directory (issue 16, points 3 and 5), each against a slapd of the test's own: once the
bridge knows no server answers, requests get 503 with Retry-After at once, not after a timeout; the
background probe finds a stalled server, and a server's return, within about a second; failover to the
next URL costs no wait; and a restart of slapd costs no request.

The bounds are generous (a request's 503 within 1 s, the probe's verdict within 3 s), and the timeouts
of the configuration are set longer than them (5 s), so that a request that waited on the directory
instead of failing fast breaks the bound."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import falcon.testing
import ldap3
import pytest

from bridge.app import create_app, create_services
from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.servers import TIMEOUT
from bridge.mapping.model import MapSet
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Subtree

SLOW = 5.0  # connect and operation timeouts: what a request that does not fail fast would wait
FAST = 1.0  # the bound on a request that fails fast
PROBE_BOUND = 3.0  # the bound on the probe finding a server down, or back


@dataclass
class Bridge:
    """The app over a pool, with the slapds behind its URLs (the first is the preferred one)."""

    client: ScimClient
    anonymous: falcon.testing.TestClient
    pool: ConnectionPool
    servers: list[Slapd]

    def lookup(self, name: str = "nobody@contoso.com") -> falcon.testing.Result:
        return self.client.simulate_get(f"{SCIM}/Users", params={"filter": f'userName eq "{name}"'})


def server(directory: Path) -> Slapd:
    return Slapd(directory, extra_schema=[default_schema_path()], memberof=False, refint=False)


def base_tree(info: SlapdInfo) -> Subtree:
    """The launcher's own ou=people and ou=groups, which every slapd of a test has alike."""
    return Subtree(info.suffix, info.user_base, info.group_base, f"ou=disabled,{info.suffix}")


@pytest.fixture
def bridge_over(maps: MapSet) -> Iterator[Callable[..., Bridge]]:
    """A factory: the app over ``urls`` (the first slapd's by default), with SLOW timeouts and the probe's
    defaults (every 0.5 s, 1 s to answer); keyword arguments replace ldap settings."""
    pools: list[ConnectionPool] = []

    def build(servers: list[Slapd], urls: tuple[str, ...] | None = None, **ldap: Any) -> Bridge:
        info = servers[0].info
        password = ldap.pop("password", info.password)
        settings = subtree_settings(info, base_tree(info))
        config = replace(
            settings.ldap,
            urls=urls or (info.url,),
            connect_timeout=SLOW,
            operation_timeout=SLOW,
            pool_size=4,
            **ldap,
        )
        settings = replace(settings, ldap=config)
        pool = ConnectionPool(config, Secret(password))
        pools.append(pool)
        app = create_app(create_services(settings, LdapDirectory(pool), maps))
        return Bridge(ScimClient(app), falcon.testing.TestClient(app), pool, servers)

    yield build
    for pool in pools:
        pool.close()


@contextmanager
def running(path: Path) -> Iterator[Slapd]:
    """A slapd of the test's own in ``path``, stopped (and woken if paused) at the end."""
    slapd = server(path)
    slapd.start()
    try:
        yield slapd
    finally:
        slapd.stop()


@pytest.fixture
def one(tmp_path: Path) -> Iterator[list[Slapd]]:
    with running(tmp_path / "a") as a:
        yield [a]


@pytest.fixture
def two(tmp_path: Path) -> Iterator[list[Slapd]]:
    with running(tmp_path / "a") as a, running(tmp_path / "b") as b:
        yield [a, b]


@contextmanager
def silent_port() -> Iterator[str]:
    """An ldap:// URL whose port accepts connections (the kernel's backlog does) and never answers: a
    blackholed server, as a firewall that drops or a proxy that stops forwarding makes one look."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def timed(call: Callable[[], falcon.testing.Result]) -> tuple[falcon.testing.Result, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def until(condition: Callable[[], bool], within: float) -> float:
    """Seconds until ``condition()`` held, asked every 50 ms; fails after ``within`` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


def assert_fast_503(bridge: Bridge) -> None:
    """A lookup and a create are each refused with 503 and Retry-After, within FAST."""
    for call in (bridge.lookup, lambda: bridge.client.post_user({"userName": "late@contoso.com"})):
        response, seconds = timed(call)
        assert response.status_code == 503, response.text
        assert response.headers.get("retry-after", "").isdigit()
        assert seconds < FAST, f"a 503 took {seconds:.2f} s"


def test_a_killed_directory_is_503_at_once_and_the_first_request_after_its_return_succeeds(
    bridge_over: Callable[..., Bridge], one: list[Slapd]
) -> None:
    bridge = bridge_over(one)
    assert bridge.lookup().status_code == 200
    one[0].kill()
    assert_fast_503(bridge)
    ready, seconds = timed(lambda: bridge.anonymous.simulate_get("/readyz"))
    assert ready.status_code == 503 and ready.json["reason"] == "unreachable" and seconds < FAST
    assert bridge.anonymous.simulate_get("/healthz").status_code == 200
    one[0].restart()
    created = bridge.client.post_user({"userName": "back@contoso.com"})
    assert created.status_code == 201, created.text  # the very first request, a write
    assert bridge.anonymous.simulate_get("/readyz").status_code == 200


def test_a_stalled_directory_is_found_by_the_probe_and_then_requests_get_503_at_once(
    bridge_over: Callable[..., Bridge], one: list[Slapd]
) -> None:
    bridge = bridge_over(one)
    created = bridge.client.post_user({"userName": "stalled@contoso.com"})
    assert created.status_code == 201
    one[0].pause()
    waiting: dict[str, tuple[falcon.testing.Result, float]] = {}
    title = {"op": "replace", "path": "title", "value": "Engineer"}
    calls: dict[str, Callable[[], falcon.testing.Result]] = {
        "read": bridge.lookup,
        "write": lambda: bridge.client.patch_user(created.json["id"], title),  # one modify, nothing first
    }
    threads = {
        what: threading.Thread(target=lambda w=what: waiting.update({w: timed(calls[w])})) for what in calls
    }
    for thread in threads.values():
        thread.start()
    verdicts: list[float] = []

    def probe_says_timeout() -> bool:
        ready, seconds = timed(lambda: bridge.anonymous.simulate_get("/readyz"))
        verdicts.append(seconds)
        return ready.status_code == 503 and ready.json["reason"] == "timeout"

    until(probe_says_timeout, PROBE_BOUND)
    assert max(verdicts) < 1.5, f"/readyz took {max(verdicts):.2f} s"  # the probe's 1 s, and slack
    assert bridge.anonymous.simulate_get("/healthz").status_code == 200
    assert_fast_503(bridge)
    # The read waiting on the stalled server was cut short when the probe found it (not after its 5 s);
    # the write waits for its answer, which alone can say whether it was carried out.
    threads["read"].join(PROBE_BOUND)
    read, seconds = waiting["read"]
    assert read.status_code == 503 and seconds < PROBE_BOUND, (read.status_code, seconds)
    assert threads["write"].is_alive()
    one[0].resume()
    threads["write"].join(SLOW)
    assert waiting["write"][0].status_code == 200, waiting["write"][0].text
    until(lambda: bridge.lookup().status_code == 200, PROBE_BOUND)
    assert bridge.client.post_user({"userName": "resumed@contoso.com"}).status_code == 201


def test_a_read_whose_server_the_probe_finds_stalled_as_it_starts_is_not_sent(
    bridge_over: Callable[..., Bridge], one: list[Slapd], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the test above once lost: the probe finds the server stalled after the pool chose a
    connection for a read and before the read was listed among those a stall cuts short. The read must
    not go out then, to wait its whole operation timeout."""
    bridge = bridge_over(one)
    assert bridge.lookup().status_code == 200
    pool = bridge.pool
    take = pool._take

    def take_then_stall() -> Any:
        pooled = take()
        pooled.state.failed(TIMEOUT, "the probe's read timed out", probe=True)
        return pooled

    monkeypatch.setattr(pool, "_take", take_then_stall)
    one[0].pause()
    try:
        read, seconds = timed(bridge.lookup)
    finally:
        one[0].resume()
    assert read.status_code == 503 and seconds < FAST, (read.status_code, seconds)


def test_a_refused_bind_is_reported_at_once_without_the_password(
    bridge_over: Callable[..., Bridge], one: list[Slapd]
) -> None:
    bridge = bridge_over(one, password="wrong-Secret-7")
    ready, seconds = timed(lambda: bridge.anonymous.simulate_get("/readyz"))
    assert ready.status_code == 503 and ready.json["reason"] == "bind refused", ready.text
    assert "wrong-Secret-7" not in ready.text and seconds < FAST
    response = bridge.lookup()
    assert response.status_code == 503 and "wrong-Secret-7" not in response.text
    assert bridge.pool.opened == 0  # the refusal is the probe's to retry: requests do not bind again


def test_a_blackholed_first_server_is_skipped_once_the_probe_has_found_it(
    bridge_over: Callable[..., Bridge], one: list[Slapd]
) -> None:
    with silent_port() as blackhole:
        bridge = bridge_over(one, urls=(blackhole, one[0].info.url))
        ready, seconds = timed(lambda: bridge.anonymous.simulate_get("/readyz"))
        assert ready.status_code == 200 and seconds < 2.5  # the blackhole's 1 s at most, then slapd
        time.sleep(PROBE_BOUND - seconds)  # the probe has had its interval and its timeout
        for n in range(3):
            response, seconds = timed(bridge.lookup)
            assert response.status_code == 200 and seconds < FAST, (
                f"{response.status_code} in {seconds:.2f} s"
            )
            body = {"userName": f"via-b{n}@contoso.com"}
            created, seconds = timed(lambda: bridge.client.post_user(body))  # noqa: B023 - called at once
            assert created.status_code == 201 and seconds < FAST


def test_failover_to_the_next_server_costs_no_request_and_the_first_is_preferred_again(
    bridge_over: Callable[..., Bridge], two: list[Slapd]
) -> None:
    first, second = two
    bridge = bridge_over(two, urls=(first.info.url, second.info.url))
    assert bridge.client.post_user({"userName": "on-a@contoso.com"}).status_code == 201
    first.kill()
    for n in range(4):
        response, seconds = timed(bridge.lookup)
        assert response.status_code == 200 and seconds < FAST, f"{response.status_code} in {seconds:.2f} s"
        assert bridge.client.post_user({"userName": f"on-b{n}@contoso.com"}).status_code == 201
    first.restart()
    back: list[str] = []

    def created_on_the_first() -> bool:  # once the probe has seen it answer, connections go to it again
        name = f"on-a-again{len(back)}@contoso.com"
        back.append(name)
        assert bridge.client.post_user({"userName": name}).status_code == 201
        return name in uids(first.info)

    until(created_on_the_first, PROBE_BOUND)
    assert bridge.client.post_user({"userName": "on-a-last@contoso.com"}).status_code == 201
    assert "on-a-last@contoso.com" in uids(first.info)
    assert uids(second.info) == {f"on-b{n}@contoso.com" for n in range(4)} | set(back[:-1])


def uids(info: SlapdInfo) -> set[str]:
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    conn.search(info.user_base, "(objectClass=inetOrgPerson)", attributes=["uid"])
    found = {str(entry["attributes"]["uid"][0]) for entry in conn.response or []}
    conn.unbind()
    return found


# --- point 5: a restart costs no request -------------------------------------------------------------


def burst(bridge: Bridge, tag: str, threads: int = 4, users: int = 4) -> list[tuple[str, int]]:
    """64 requests from 4 threads at once: per user a lookup, a create, a read and an update."""
    answers: list[tuple[str, int]] = []
    lock = threading.Lock()

    def one_thread(t: int) -> None:
        for n in range(users):
            name = f"{tag}-{t}-{n}@contoso.com"
            got = [("lookup", bridge.lookup(name).status_code)]
            created = bridge.client.post_user({"userName": name, "active": True})
            got.append(("create", created.status_code))
            if created.status_code == 201:
                user = f"{SCIM}/Users/{created.json['id']}"
                got.append(("read", bridge.client.simulate_get(user).status_code))
                title = {"op": "replace", "path": "title", "value": "Engineer"}
                got.append(("update", bridge.client.patch_user(created.json["id"], title).status_code))
            with lock:
                answers.extend(got)

    workers = [threading.Thread(target=one_thread, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not any(worker.is_alive() for worker in workers), "a request hung"
    return answers


@pytest.mark.parametrize("how", ["restart", "kill -9 and start"])
def test_a_directory_restart_between_two_bursts_costs_no_request(
    bridge_over: Callable[..., Bridge], one: list[Slapd], how: str
) -> None:
    bridge = bridge_over(one)
    first = burst(bridge, "before")
    assert len(first) == 64 and {status for _, status in first} <= {200, 201}, first
    for cycle in range(3):
        if how != "restart":
            one[0].kill()
        one[0].restart()
        answers = burst(bridge, f"after{cycle}")
        refused = [(what, status) for what, status in answers if status not in (200, 201)]
        assert len(answers) == 64 and not refused, f"cycle {cycle}: {refused}"
    assert len(uids(one[0].info)) == 4 * 16  # every user of the four bursts (16 each) is there
