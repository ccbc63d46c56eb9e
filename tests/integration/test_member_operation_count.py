"""How many LDAP operations a member add and a member remove cost on slapd (issues #9 and #22).

Entra's commonest group write is a PATCH that adds or removes one member. On OpenLDAP it is one search
(the member ids and the group's own id, together) and one modify, whether this instance has seen the
group lately or not. The modify carries no assertion (slapd's memberof overlay would skip memberOf under
one), so each test also checks the member's memberOf. The operations are slapd's own counts
(``cn=Operations,cn=Monitor``) on a server of this module's own, so an extra search shows here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

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
WORK = ("Search", "Add", "Modify", "Modrdn", "Delete", "Compare", "Extended")
ONE_SEARCH_ONE_MODIFY = {"Search": 1, "Modify": 1}


class Operations:
    """slapd's count of completed operations that do directory work, read over a connection of its own.

    Each call reads until the counts hold still, and takes its own reads' searches off."""

    def __init__(self, info: SlapdInfo) -> None:
        server = ldap3.Server(info.url, get_info=ldap3.NONE)  # no schema: it would check monitor's names
        self._conn = ldap3.Connection(server, info.bind_dn, info.password, auto_bind=True)
        self._last, _ = self._read()

    def _counters(self) -> tuple[dict[str, int], dict[str, int]]:
        self._conn.search(
            "cn=Operations,cn=Monitor",
            "(objectClass=monitorOperation)",
            ldap3.SUBTREE,
            attributes=["monitorOpInitiated", "monitorOpCompleted"],
        )
        initiated: dict[str, int] = {}
        completed: dict[str, int] = {}
        for item in self._conn.response or ():
            name = str(item["dn"]).split(",", 1)[0].removeprefix("cn=").capitalize()
            if name in WORK:
                initiated[name] = int(item["attributes"]["monitorOpInitiated"][0])
                completed[name] = int(item["attributes"]["monitorOpCompleted"][0])
        assert "Search" in completed, "slapd shows no operation counters: monitor=True"
        return initiated, completed

    def _read(self) -> tuple[dict[str, int], int]:
        """The counts once they hold still: every operation initiated is completed (but this read's own
        search), and a second read finds nothing more than the first one's search. slapd keeps counters
        per thread, and an operation another connection finished just before may show a moment late.
        Also how many reads it took: each is a search, counted by the next one."""
        deadline = time.monotonic() + 2.0
        last: dict[str, int] | None = None
        reads = 0
        while True:
            initiated, completed = self._counters()
            reads += 1
            pending = {name: initiated[name] - completed[name] for name in initiated}
            settled = pending.pop("Search") <= 1 and not any(pending.values())
            if last is not None and settled:
                more = {name: n - last.get(name, 0) for name, n in completed.items()}
                if {name: n for name, n in more.items() if n} == {"Search": 1}:  # the last read's own
                    return completed, reads
            if time.monotonic() > deadline:
                raise AssertionError(f"slapd's counters did not settle: {initiated} against {completed}")
            last = completed
            time.sleep(0.002)

    def since_last(self) -> dict[str, int]:
        """The operations of others since the last call (or since this was made), by type."""
        now, reads = self._read()
        counts = {name: now[name] - self._last.get(name, 0) for name in now}
        counts["Search"] -= reads  # the previous call's last read, and this call's but its last
        self._last = now
        return {name: n for name, n in counts.items() if n}

    def close(self) -> None:
        self._conn.unbind()


@pytest.fixture(scope="module")
def counted_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInfo]:
    """A slapd with the monitor backend (and memberof, refint, ppolicy), for this module alone."""
    server = Slapd(tmp_path_factory.mktemp("counted"), extra_schema=[default_schema_path()], monitor=True)
    with server as info:
        yield info


@pytest.fixture
def subtree(counted_slapd: SlapdInfo) -> Iterator[Subtree]:
    with make_subtree(counted_slapd) as made:
        yield made


@pytest.fixture
def operations(counted_slapd: SlapdInfo) -> Iterator[Operations]:
    counter = Operations(counted_slapd)
    yield counter
    counter.close()


@pytest.fixture
def inspector(counted_slapd: SlapdInfo, subtree: Subtree) -> Iterator[Inspector]:
    own = Inspector(counted_slapd, subtree)
    yield own
    own.conn.unbind()


class Bridges:
    """Bridge instances over the counted slapd, each with its own pool and its own remembered entries,
    and no background probe: its reads of the server, at a time of their own, would be counted too."""

    def __init__(self, info: SlapdInfo, subtree: Subtree, maps: MapSet) -> None:
        self._settings = subtree_settings(info, subtree)
        self._info, self._maps = info, maps
        self._pools: list[ConnectionPool] = []

    def new(self) -> ScimClient:
        pool = ConnectionPool(self._settings.ldap, Secret(self._info.password))
        pool._watch.stop()  # before the pool's first use, which would start it
        self._pools.append(pool)
        client = ScimClient(create_app(create_services(self._settings, LdapDirectory(pool), self._maps)))
        assert client.simulate_get(f"{SCIM}/Users", params={"count": "1"}).status_code == 200  # warm up
        return client

    def close(self) -> None:
        for pool in self._pools:
            pool.close()


@pytest.fixture
def bridges(counted_slapd: SlapdInfo, subtree: Subtree, maps: MapSet) -> Iterator[Bridges]:
    made = Bridges(counted_slapd, subtree, maps)
    yield made
    made.close()


def new_user(client: ScimClient, name: str) -> str:
    response = client.post_user({"userName": name, "displayName": name.split("@", maxsplit=1)[0].title()})
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def new_group(client: ScimClient, name: str) -> str:
    response = client.simulate_post(
        f"{SCIM}/Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name},
    )
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def patch(client: ScimClient, group_id: str, *operations: dict[str, Any]) -> int:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return client.simulate_patch(f"{SCIM}/Groups/{group_id}", json=body).status_code


def member_of(inspector: Inspector, user_name: str) -> list[str]:
    ((_, user),) = inspector.find(f"(uid={user_name}@example.org)")
    return [dn.lower() for dn in user.get("memberof", [])]


def group_dn(inspector: Inspector, name: str) -> str:
    ((dn, _),) = inspector.find(f"(&(objectClass=groupOfNames)(cn={name}))")
    return str(dn).lower()


def add(member: str) -> dict[str, Any]:
    return {"op": "add", "path": "members", "value": [{"value": member}]}


def test_entra_adds_and_removes_a_member_of_a_group_it_just_created_in_two_operations(
    bridges: Bridges, operations: Operations, inspector: Inspector
) -> None:
    client = bridges.new()
    alice = new_user(client, "alice@example.org")
    group = new_group(client, "Finance")
    dn = group_dn(inspector, "Finance")
    operations.since_last()

    assert patch(client, group, add(alice)) == 204
    assert operations.since_last() == ONE_SEARCH_ONE_MODIFY
    assert member_of(inspector, "alice") == [dn]
    operations.since_last()

    # Entra's flag dialect, then the legacy value list: each one search and one modify.
    assert patch(client, group, {"op": "remove", "path": f'members[value eq "{alice}"]'}) == 204
    assert operations.since_last() == ONE_SEARCH_ONE_MODIFY
    assert member_of(inspector, "alice") == []
    assert patch(client, group, add(alice)) == 204
    operations.since_last()
    assert patch(client, group, {"op": "remove", "path": "members", "value": [{"value": alice}]}) == 204
    assert operations.since_last() == ONE_SEARCH_ONE_MODIFY
    assert member_of(inspector, "alice") == []


def test_a_group_this_instance_has_not_seen_costs_no_more(
    bridges: Bridges, operations: Operations, inspector: Inspector
) -> None:
    first = bridges.new()
    alice, bob = new_user(first, "alice@example.org"), new_user(first, "bob@example.org")
    group = new_group(first, "Sales")
    dn = group_dn(inspector, "Sales")
    other = bridges.new()
    operations.since_last()

    assert patch(other, group, add(alice)) == 204
    assert operations.since_last() == ONE_SEARCH_ONE_MODIFY
    # Several member operations in one PATCH: still one search (every id at once) and one modify.
    remove_alice = {"op": "remove", "path": f'members[value eq "{alice}"]'}
    assert patch(other, group, add(bob), remove_alice, add(alice), add(bob)) == 204
    assert operations.since_last() == ONE_SEARCH_ONE_MODIFY
    assert member_of(inspector, "alice") == member_of(inspector, "bob") == [dn]


def test_a_group_deleted_and_made_again_under_its_name_is_not_written_through_the_old_id(
    bridges: Bridges, operations: Operations, inspector: Inspector
) -> None:
    client = bridges.new()
    alice = new_user(client, "alice@example.org")
    old = new_group(client, "Legal")  # this instance remembers it
    other = bridges.new()
    assert other.simulate_delete(f"{SCIM}/Groups/{old}").status_code == 204
    new = new_group(other, "Legal")  # the same DN, another entryUUID
    operations.since_last()

    assert patch(client, old, add(alice)) == 404
    assert operations.since_last() == {"Search": 1}
    assert member_of(inspector, "alice") == []
    assert patch(client, new, add(alice)) == 204
    assert member_of(inspector, "alice") == [group_dn(inspector, "Legal")]


def test_an_unknown_member_or_group_is_refused_before_anything_is_written(
    bridges: Bridges, operations: Operations, inspector: Inspector
) -> None:
    client = bridges.new()
    group = new_group(client, "Ops")
    alice = new_user(client, "alice@example.org")
    operations.since_last()

    assert patch(client, group, add("00000000-0000-4000-8000-000000000000")) == 400
    assert operations.since_last() == {"Search": 1}
    # An unknown group is a 404 before an unknown member is a 400, as in the model of RFC 7644.
    assert patch(client, "00000000-0000-4000-8000-000000000001", add("00000000-0000-4000-8000-0")) == 404
    assert operations.since_last() == {"Search": 1}
    # A user's id is no group's, also where the same id is the member added (found as a member only).
    assert patch(client, alice, add(alice)) == 404
    assert operations.since_last() == {"Search": 1}
    assert member_of(inspector, "alice") == []


def test_the_counter_sees_an_extra_search(
    counted_slapd: SlapdInfo, subtree: Subtree, operations: Operations
) -> None:
    """The count can fail: one search more than the request's own shows."""
    conn = ldap3.Connection(counted_slapd.url, counted_slapd.bind_dn, counted_slapd.password, auto_bind=True)
    operations.since_last()
    conn.search(subtree.base, "(objectClass=*)", ldap3.BASE)
    conn.search(subtree.base, "(objectClass=*)", ldap3.BASE)
    conn.unbind()
    assert operations.since_last() == {"Search": 2}
