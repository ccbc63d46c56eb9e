"""Writes that start from the entry this instance saw last (``bridge.recent``, issue #9), against slapd:
one LDAP operation for Entra's PATCH after a POST or GET, and never a lost or wrong write when another
instance, or an administrator, changed the entry in between (the assertion fails and the bridge reads
it afresh)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import falcon.testing
import ldap3
import pytest

from bridge.app import create_app, create_services
from bridge.config import SafetyConfig, Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet
from bridge.testing.slapd import SlapdInfo
from tests.conftest import SCIM, ScimClient
from tests.http.test_observe import ok_operations
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Inspector, Subtree

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
Instances = Callable[..., ScimClient]


@pytest.fixture
def instance(slapd: SlapdInfo, ldap_subtree: Subtree, maps: MapSet) -> Iterator[Instances]:
    """Bridge instances over the same subtree, each with its own memory (``safety=`` sets SafetyConfig)."""
    pools: list[ConnectionPool] = []

    def build(**safety: Any) -> ScimClient:
        settings = subtree_settings(slapd, ldap_subtree)
        settings = replace(settings, safety=SafetyConfig(**safety)) if safety else settings
        pools.append(ConnectionPool(settings.ldap, Secret(slapd.password)))
        return ScimClient(create_app(create_services(settings, LdapDirectory(pools[-1]), maps)))

    yield build
    for pool in pools:
        pool.close()


def operations(client: ScimClient) -> float:
    return ok_operations(falcon.testing.TestClient(client.app).simulate_get("/metrics").text)


def title(inspector: Inspector, user_id: str) -> tuple[list[str], list[str]]:
    ((_, entry),) = inspector.find(f"(entryUUID={user_id})")
    return entry.get("title", []), entry.get("departmentnumber", [])


def test_entras_patch_after_a_post_and_a_disable_after_a_get_are_one_operation_each(
    instance: Instances, inspector: Inspector
) -> None:
    client = instance()
    first = client.post_user({"userName": "abe"}).json["id"]
    # The first disable also reads the circuit breaker's entry, which is then read at most every 5 s.
    assert client.patch_user(first, {"op": "Replace", "path": "active", "value": "False"}).status_code == 200
    user = client.post_user({"userName": "ann"}).json["id"]
    before = operations(client)
    assert client.patch_user(user, {"op": "Replace", "path": "title", "value": "Pilot"}).status_code == 200
    assert operations(client) - before == 1  # the modify, which asserts the version and reads back
    assert client.simulate_get(f"{SCIM}/Users/{user}").json["title"] == "Pilot"
    before = operations(client)
    disabled = client.patch_user(user, {"op": "Replace", "path": "active", "value": "False"})
    assert disabled.status_code == 200 and disabled.json["active"] is False
    assert operations(client) - before == 1
    ((_, entry),) = inspector.find(f"(entryUUID={user})")
    assert entry["title"] == ["Pilot"] and entry["pwdaccountlockedtime"]


def test_a_change_made_by_another_instance_meanwhile_is_kept(
    instance: Instances, inspector: Inspector
) -> None:
    first, second = instance(), instance()
    user = first.post_user({"userName": "ben"}).json["id"]
    assert second.patch_user(user, {"op": "Replace", "path": "title", "value": "Chief"}).status_code == 200
    department = {
        "op": "Replace",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    }
    patched = first.patch_user(user, {**department, "value": "Ops"})  # first still remembers no title
    assert patched.status_code == 200 and patched.json["title"] == "Chief", patched.json
    ((_, entry),) = inspector.find(f"(entryUUID={user})")
    assert entry["title"] == ["Chief"]


def test_a_patch_that_matches_the_remembered_entry_but_not_the_directory_is_still_written(
    instance: Instances, inspector: Inspector
) -> None:
    """An administrator changed the title behind the bridge's back; the client sets it to what the
    bridge remembers. Nothing differs from the remembered entry, so nothing would assert it: the
    bridge reads the entry afresh and writes the client's value."""
    client = instance()
    user = client.post_user({"userName": "cid", "title": "Clerk"}).json["id"]
    ((dn, _),) = inspector.find(f"(entryUUID={user})")
    assert inspector.conn.modify(dn, {"title": [(ldap3.MODIFY_REPLACE, ["Boss"])]})
    assert client.patch_user(user, {"op": "Replace", "path": "title", "value": "Clerk"}).status_code == 200
    ((_, entry),) = inspector.find(f"(entryUUID={user})")
    assert entry["title"] == ["Clerk"]


def test_a_disable_retried_from_a_fresh_read_counts_once_for_the_breaker(
    instance: Instances, inspector: Inspector
) -> None:
    """With a limit of 2, two disables pass; had the stale first attempt counted too, the second would
    trip the breaker (503)."""
    client = instance(deprovision_limit=2, deprovision_window=60)
    ids = [client.post_user({"userName": name}).json["id"] for name in ("dan", "eve")]
    ((dn, _),) = inspector.find(f"(entryUUID={ids[0]})")
    assert inspector.conn.modify(dn, {"title": [(ldap3.MODIFY_REPLACE, ["Changed"])]})  # stale now
    for user in ids:
        response = client.patch_user(user, {"op": "Replace", "path": "active", "value": "False"})
        assert response.status_code == 200, response.json


def group_patch(client: ScimClient, group: str, *operations: dict[str, Any]) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return client.simulate_patch(f"{SCIM}/Groups/{group}", json=body)


def test_a_member_add_follows_a_group_renamed_elsewhere_and_never_reaches_a_namesake(
    instance: Instances, inspector: Inspector
) -> None:
    first, second = instance(), instance()
    fay = first.post_user({"userName": "fay"}).json["id"]
    group = first.simulate_post(f"{SCIM}/Groups", json={"displayName": "Crew"}).json["id"]
    rename = {"op": "Replace", "path": "displayName", "value": "Crew EMEA"}
    assert group_patch(second, group, rename).status_code == 204
    add = {"op": "Add", "path": "members", "value": [{"value": fay}]}
    assert group_patch(first, group, add).status_code == 204  # first remembers cn=Crew: gone, read again
    members = {m["value"] for m in first.simulate_get(f"{SCIM}/Groups/{group}").json["members"]}
    assert members == {fay}
    # Deleted and made again under the same name elsewhere: the remembered DN now names another group.
    other = first.simulate_post(f"{SCIM}/Groups", json={"displayName": "Desk"}).json["id"]
    assert second.simulate_delete(f"{SCIM}/Groups/{other}").status_code == 204
    namesake = second.simulate_post(f"{SCIM}/Groups", json={"displayName": "Desk"}).json["id"]
    assert group_patch(first, other, add).status_code == 404
    assert (
        "members" not in first.simulate_get(f"{SCIM}/Groups/{namesake}").json
        or not (first.simulate_get(f"{SCIM}/Groups/{namesake}").json["members"])
    )
