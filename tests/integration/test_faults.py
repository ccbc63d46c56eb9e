"""Directory faults under load (issue #7, point 7): slapd killed in the middle of an Entra-like load and
started again, and slapd stalled with SIGSTOP. Every request answered 2xx is in the directory
afterwards, every failed one was answered 503 with Retry-After, none 500, and no thread hangs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import falcon.testing
import ldap3
import pytest

from bridge.app import create_app, create_services
from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Inspector, Subtree, make_subtree

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Own:
    """A slapd of this test's own (the session one must not be killed), a subtree in it, and an app."""

    server: Slapd
    info: SlapdInfo
    subtree: Subtree
    client: ScimClient
    pool: ConnectionPool


@pytest.fixture
def own(tmp_path: Path, maps: MapSet) -> Iterator[Own]:
    server = Slapd(tmp_path / "slapd", extra_schema=[default_schema_path()], memberof=False, refint=False)
    with server as info, make_subtree(info) as subtree:
        settings = subtree_settings(info, subtree)
        ldap = replace(settings.ldap, connect_timeout=1.0, operation_timeout=1.0, pool_size=4)
        settings = replace(settings, ldap=ldap)
        pool = ConnectionPool(settings.ldap, Secret(info.password))
        yield Own(
            server,
            info,
            subtree,
            ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps))),
            pool,
        )
        pool.close()  # the server's own exit wakes a paused slapd before stopping it


@dataclass
class Outcomes:
    """Every answer the load got: (what, status, user name or id, Retry-After)."""

    answers: list[tuple[str, int, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    after_fault: int = 0  # how many answers had come when the fault was over

    def resumed(self) -> bool:
        """Whether a change succeeded after the fault was over."""
        return any(status in (200, 201) for _, status, _, _ in self.answers[self.after_fault :])

    def record(self, what: str, response: Any, key: str) -> None:
        with self.lock:
            self.answers.append((what, response.status_code, key, response.headers.get("retry-after")))


def entra_like(client: ScimClient, worker: int, stop: threading.Event, outcomes: Outcomes) -> None:
    """Per user, as an Entra cycle does: a filter lookup that misses, a create, an update, a disable."""
    n = 0
    while not stop.is_set():
        name = f"w{worker}-{n}@contoso.com"
        n += 1
        looked = client.simulate_get(f"{SCIM}/Users", params={"filter": f'userName eq "{name}"'})
        outcomes.record("lookup", looked, name)
        created = client.post_user({"userName": name, "active": True, "displayName": f"W {n}"})
        outcomes.record("create", created, name)
        if created.status_code != 201:
            continue
        user_id = created.json["id"]
        for what, value in (("update", {"path": "title", "value": "Engineer"}), ("disable", None)):
            operation = {"op": "Replace", **(value or {"path": "active", "value": "False"})}
            patched = client.simulate_patch(
                f"{SCIM}/Users/{user_id}", json={"schemas": [PATCH_OP], "Operations": [operation]}
            )
            outcomes.record(what, patched, f"{name}|{what}")


def in_directory(info: SlapdInfo, subtree: Subtree) -> dict[str, dict[str, list[str]]]:
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    entries = conn.extend.standard.paged_search(
        subtree.user_base, "(objectClass=inetOrgPerson)", attributes=["uid", "title", "pwdAccountLockedTime"]
    )
    found = {e["attributes"]["uid"][0]: e["attributes"] for e in entries if e["type"] == "searchResEntry"}
    conn.unbind()
    return found


def run_load(own: Own, fault: Any, workers: int = 4, before: float = 1.0, after: float = 2.0) -> Outcomes:
    outcomes, stop = Outcomes(), threading.Event()
    threads = [
        threading.Thread(target=entra_like, args=(own.client, w, stop, outcomes), daemon=True)
        for w in range(workers)
    ]
    for thread in threads:
        thread.start()
    time.sleep(before)
    fault()
    # Keep the load on for ``after`` seconds, and until a change succeeds again (on a busy machine the
    # first successes after a restart can take longer): resuming is what is checked, not how fast.
    outcomes.after_fault, deadline = len(outcomes.answers), time.monotonic() + 60
    time.sleep(after)
    while time.monotonic() < deadline and not outcomes.resumed():
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return outcomes


def check(outcomes: Outcomes, stored: dict[str, dict[str, list[str]]]) -> None:
    statuses = {status for _, status, _, _ in outcomes.answers}
    assert statuses <= {200, 201, 503}, sorted(statuses)
    assert all(retry for _, status, _, retry in outcomes.answers if status == 503)
    for what, status, key, _ in outcomes.answers:
        name = key.split("|")[0]
        if what == "create" and status == 201:
            assert name in stored, f"{name} was answered 201 but is not in the directory"
        if what == "update" and status == 200:
            assert stored[name].get("title") == ["Engineer"], name
        if what == "disable" and status == 200:
            assert stored[name].get("pwdAccountLockedTime"), name


def test_slapd_killed_mid_load_and_restarted_loses_no_answered_change(own: Own) -> None:
    def crash() -> None:
        own.server.kill()
        time.sleep(1.0)
        own.server.restart()

    outcomes = run_load(own, crash, before=1.5, after=3.0)
    check(outcomes, in_directory(own.info, own.subtree))
    statuses = [status for _, status, _, _ in outcomes.answers]
    assert 503 in statuses, "the fault was not felt: no request was refused while slapd was down"
    assert outcomes.resumed(), "service did not resume within 60 s"


def test_a_stalled_slapd_gives_503_within_the_timeouts_not_hung_threads(own: Own) -> None:
    def stall() -> None:
        own.server.pause()
        started = time.monotonic()
        response = own.client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "x@contoso.com"'})
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and response.headers.get("retry-after"), response.text
        assert response.json["status"] == "503"
        # One operation timeout on the pooled connection, one bind timeout on a fresh one, and slack.
        assert elapsed < 6.0, f"a stalled directory held the request {elapsed:.1f} s"
        time.sleep(1.0)
        own.server.resume()

    outcomes = run_load(own, stall, before=1.0, after=3.0)
    check(outcomes, in_directory(own.info, own.subtree))
    statuses = [status for _, status, _, _ in outcomes.answers]
    assert 503 in statuses
    assert outcomes.resumed(), "service did not resume after the stall"


def test_two_instances_creating_the_same_users_at_once_make_no_duplicates(
    slapd: SlapdInfo, ldap_subtree: Subtree, maps: MapSet, inspector: Inspector
) -> None:
    """Entra retries, and two bridges behind the proxy may both get the same create: the entry's DN
    comes from the userName, so the directory itself refuses the second add (409)."""
    settings = subtree_settings(slapd, ldap_subtree)
    pools = [ConnectionPool(settings.ldap, Secret(slapd.password)) for _ in range(2)]
    clients = [ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps))) for pool in pools]
    names = [f"twin{n}@contoso.com" for n in range(8)]
    statuses: dict[str, list[int]] = {name: [] for name in names}
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def create(client: ScimClient) -> None:
        barrier.wait()
        for name in names:
            status = client.post_user({"userName": name, "active": True}).status_code
            with lock:
                statuses[name].append(status)

    threads = [threading.Thread(target=create, args=(clients[n % 2],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for pool in pools:
        pool.close()
    assert all(sorted(found) == [201, 409, 409, 409] for found in statuses.values()), statuses
    assert sorted(dn.split(",")[0] for dn, _ in inspector.find("(uid=twin*)")) == sorted(
        f"uid={name}" for name in names
    )


def test_readiness_follows_the_directory_and_the_pool_is_measured(own: Own) -> None:
    anonymous = falcon.testing.TestClient(own.client.app)
    lookup = {"filter": 'userName eq "x@contoso.com"'}
    assert anonymous.simulate_get("/readyz").status_code == 200
    assert own.client.simulate_get(f"{SCIM}/Users", params=lookup).status_code == 200
    own.server.kill()
    down = anonymous.simulate_get("/readyz")
    assert down.status_code == 503 and down.json["status"] == "unavailable"
    assert down.json["reason"] == "unreachable" and down.headers.get("retry-after")
    assert anonymous.simulate_get("/healthz").status_code == 200
    own.server.restart()
    assert anonymous.simulate_get("/readyz").status_code == 200
    assert own.client.simulate_get(f"{SCIM}/Users", params=lookup).status_code == 200
    text = anonymous.simulate_get("/metrics").text
    assert "scim_bridge_ldap_connections_in_use 0.0" in text.splitlines()
    opened = [
        line for line in text.splitlines() if line.startswith("scim_bridge_ldap_connections_opened_total ")
    ]
    assert opened and float(opened[0].split()[1]) >= 2  # one before the kill, one after the restart
    assert 'scim_bridge_directory_operations_total{operation="ping",outcome="error"} 1.0' in text
