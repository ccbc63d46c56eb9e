"""Group membership beyond one operation at a time (issue #15, found by the model-based test), against the
in-memory directory and a real slapd with the shipped map (groupOfNames, ``integrity: bridge``): several
member operations in one PATCH come to their net effect, and a nested group renamed or deleted is
followed by the groups that hold it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Inspector, make_subtree

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(params=["memory", "slapd"])
def client(request: pytest.FixtureRequest) -> Iterator[ScimClient]:
    factory = "make_client" if request.param == "memory" else "ldap_client"
    yield request.getfixturevalue(factory)()


def _user(client: ScimClient, name: str) -> str:
    created = client.post_user({"userName": name})
    assert created.status_code == 201, created.json
    return str(created.json["id"])


def _group(client: ScimClient, name: str, members: list[str] = ()) -> str:  # type: ignore[assignment]
    body = {"displayName": name, "members": [{"value": m} for m in members]}
    created = client.simulate_post(f"{SCIM}/Groups", json=body)
    assert created.status_code == 201, created.json
    return str(created.json["id"])


def _patch(client: ScimClient, group: str, *operations: dict[str, Any]) -> int:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    answer = client.simulate_patch(f"{SCIM}/Groups/{group}", json=body)
    assert answer.status_code in (204, 400), answer.json
    return int(answer.status_code)


def _members(client: ScimClient, group: str) -> set[str]:
    return {m["value"] for m in client.simulate_get(f"{SCIM}/Groups/{group}").json.get("members", [])}


def test_an_add_and_a_remove_of_one_member_in_one_patch_leave_it_out(client: ScimClient) -> None:
    ann, bob, cyd = (_user(client, name) for name in ("ann", "bob", "cyd"))
    group = _group(client, "Ops", [ann])
    add_bob = {"op": "add", "path": "members", "value": [{"value": bob}]}
    remove = [{"op": "remove", "path": f'members[value eq "{who}"]'} for who in (bob, cyd)]
    assert _patch(client, group, add_bob, *remove) == 204
    assert _members(client, group) == {ann}
    assert _patch(client, group, *remove[::-1], add_bob) == 204
    assert _members(client, group) == {ann, bob}


def test_removing_one_member_twice_or_after_all_is_not_an_error(client: ScimClient) -> None:
    ann, bob = _user(client, "ann"), _user(client, "bob")
    group = _group(client, "Ops", [ann, bob])
    remove_ann = {"op": "remove", "path": f'members[value eq "{ann}"]'}
    assert _patch(client, group, remove_ann, remove_ann) == 204
    assert _members(client, group) == {bob}
    assert _patch(client, group, {"op": "remove", "path": "members"}, remove_ann) == 204
    assert _members(client, group) == set()
    add = {"op": "add", "path": "members", "value": [{"value": ann}]}
    assert _patch(client, group, {"op": "replace", "path": "members", "value": []}, add) == 204
    assert _members(client, group) == {ann}


def test_a_nested_group_renamed_or_deleted_is_followed_by_the_group_holding_it(client: ScimClient) -> None:
    ann = _user(client, "ann")
    inner = _group(client, "Inner", [ann])
    outer = _group(client, "Outer", [inner])
    rename = {"op": "replace", "path": "displayName", "value": "Inner 2"}
    assert _patch(client, inner, rename) == 204
    assert _members(client, outer) == {inner}
    assert client.simulate_delete(f"{SCIM}/Groups/{inner}").status_code == 204
    assert _members(client, outer) == set()
    assert client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Inner 2"}).status_code == 201
    assert _members(client, outer) == set()  # a group made again under the old name is not a member


def test_memberof_follows_every_member_change_on_slapd(ldap_client: Any, inspector: Inspector) -> None:
    """slapd's memberof overlay keeps members' memberOf with modifies of its own, which inherit a group
    write's assertion control and fail it silently: member writes are checked by a read instead."""
    client = ldap_client()
    cyd = _user(client, "cyd")
    group = _group(client, "G4", [cyd])  # remembered: the next PATCH writes without a read first
    (cyd_dn, _), (group_dn, _) = (
        inspector.find(f"(entryUUID={cyd})")[0],
        inspector.find(f"(entryUUID={group})")[0],
    )

    def member_of() -> list[str]:
        entry = inspector.entry(cyd_dn)
        assert entry is not None
        return [value.lower() for value in entry.get("memberof", [])]

    assert member_of() == [group_dn.lower()]
    assert _patch(client, group, {"op": "remove", "path": f'members[value eq "{cyd}"]'}) == 204
    assert member_of() == []
    assert _patch(client, group, {"op": "add", "path": "members", "value": [{"value": cyd}]}) == 204
    assert member_of() == [group_dn.lower()]
    assert _patch(client, group, {"op": "remove", "path": f'members[value eq "{cyd}"]'}) == 204
    rename = client.patch_user(cyd, {"op": "replace", "path": "userName", "value": "cyd2"})
    assert rename.status_code == 200
    assert _members(client, group) == set()  # a stale memberOf would have put cyd back on the rename


@pytest.fixture(scope="module")
def memberof_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInfo]:
    """A slapd with memberof and without refint, which would mend memberOf later, in the background."""
    with Slapd(
        tmp_path_factory.mktemp("memberof"), extra_schema=[default_schema_path()], refint=False
    ) as info:
        yield info


def test_memberof_follows_a_renamed_group_on_slapd(memberof_only: SlapdInfo, maps: MapSet) -> None:
    """The same overlay rewrites the members' memberOf when a group is renamed, under the rename's
    assertion too: the rename of a remembered group is checked by a read instead."""
    with make_subtree(memberof_only) as subtree:
        settings = subtree_settings(memberof_only, subtree)
        pool = ConnectionPool(settings.ldap, Secret(memberof_only.password))
        inspector = Inspector(memberof_only, subtree)
        try:
            client = ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps)))
            ann = _user(client, "ann")
            group = _group(client, "Staff", [ann])  # remembered: the rename is the PATCH's first write
            assert (
                _patch(client, group, {"op": "replace", "path": "displayName", "value": "Staff Old"}) == 204
            )
            ((_, entry),) = inspector.find(f"(entryUUID={ann})")
            ((group_dn, _),) = inspector.find(f"(entryUUID={group})")
            assert [value.lower() for value in entry.get("memberof", [])] == [group_dn.lower()]
        finally:
            inspector.conn.unbind()
            pool.close()
