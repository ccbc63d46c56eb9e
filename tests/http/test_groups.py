"""/Groups through falcon.testing on the in-memory directory: status codes, bodies and Entra's forms."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.directory.errors import DirectoryUnavailable, NoSuchEntry
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet, ResourceMap
from tests.conftest import GROUP_BASE, SCIM, USER_BASE, ScimClient, make_settings

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(client: ScimClient, group_id: str, *operations: dict[str, Any]) -> Any:
    return client.simulate_patch(
        f"{SCIM}/Groups/{group_id}", json={"schemas": [PATCH_OP], "Operations": list(operations)}
    )


@pytest.fixture
def group(client: ScimClient) -> str:
    response = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Finance", "externalId": "e1"})
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/Groups/{response.json['id']}")
    return str(response.json["id"])


def test_a_group_reads_back_with_meta_and_an_empty_member_list(client: ScimClient, group: str) -> None:
    body = client.simulate_get(f"{SCIM}/Groups/{group}").json
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    assert body["displayName"] == "Finance" and body["externalId"] == "e1"
    assert body["meta"]["resourceType"] == "Group" and body["meta"]["location"].endswith(f"/Groups/{group}")
    assert "members" not in body or body["members"] == []


@pytest.mark.parametrize(
    "params",
    [{"excludedAttributes": "members"}, {"attributes": "displayName"}, {"excludedAttributes": "Members"}],
)
def test_members_are_not_returned_when_excluded_or_not_asked_for(
    client: ScimClient, group: str, params: dict[str, str]
) -> None:
    """Entra fails with MultipleEntriesInResponse when excluded members come back [D13]."""
    user = client.post_user({"userName": "a@b.c"}).json["id"]
    assert (
        patch(client, group, {"op": "Add", "path": "members", "value": [{"value": user}]}).status_code == 204
    )
    assert "members" not in client.simulate_get(f"{SCIM}/Groups/{group}", params=params).json
    listed = client.simulate_get(
        f"{SCIM}/Groups", params={**params, "filter": 'displayName eq "finance"'}
    ).json
    assert listed["totalResults"] == 1 and "members" not in listed["Resources"][0]


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": 'members[value eq "x"]', "value": [{"value": "x"}]}, "invalidPath"),
        ({"op": "remove", "path": 'members[display eq "x"]'}, "invalidPath"),
        ({"op": "add", "path": "members", "value": [{"display": "no id"}]}, "invalidValue"),
        (
            {"op": "add", "path": "members", "value": [{"value": "00000000-0000-4000-8000-000000000000"}]},
            "invalidValue",
        ),
        ({"op": "replace", "path": "displayName", "value": ""}, "invalidValue"),
    ],
)
def test_bad_group_patches_get_a_scim_error_and_write_nothing(
    client: ScimClient, memory: InMemoryDirectory, group: str, operation: dict[str, Any], scim_type: str
) -> None:
    writes = memory.writes
    response = patch(client, group, operation)
    assert response.status_code == 400 and response.json["scimType"] == scim_type, response.json
    assert memory.writes == writes


def test_a_duplicate_display_name_is_a_conflict_in_any_case(client: ScimClient, group: str) -> None:
    """The validator's 'Create duplicate Group' expects 409 [T1]."""
    response = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "FINANCE"})
    assert response.status_code == 409 and response.json["scimType"] == "uniqueness"


def test_a_group_needs_a_display_name(client: ScimClient, memory: InMemoryDirectory) -> None:
    writes = memory.writes
    response = client.simulate_post(f"{SCIM}/Groups", json={"externalId": "x"})
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert memory.writes == writes


def test_the_placeholder_member_is_stored_but_never_shown(
    client: ScimClient, memory: InMemoryDirectory, group: str
) -> None:
    stored = memory.raw(f"cn=Finance,{GROUP_BASE}")["member"]
    assert stored == ["cn=empty-membership-placeholder"]
    assert client.simulate_get(f"{SCIM}/Groups/{group}").json.get("members", []) == []


def test_unknown_group_ids_are_404(client: ScimClient) -> None:
    for method in ("GET", "DELETE"):
        response = client.simulate_request(method, f"{SCIM}/Groups/8c1b0d2e-1f3a-4b5c-9d6e-7f8091a2b3c4")
        assert response.status_code == 404 and response.json["status"] == "404"


def test_groups_are_not_served_when_the_map_has_none(
    make_client: Callable[..., ScimClient], user_map: ResourceMap
) -> None:
    client = make_client(user_map)
    assert client.simulate_get(f"{SCIM}/Groups").status_code == 404
    assert client.simulate_get(f"{SCIM}/Users").status_code == 200


def test_a_users_groups_follow_their_returned_and_mutability_rules(client: ScimClient, group: str) -> None:
    """RFC 7643 4.1.2 and 7.: ``groups`` is read-only, and (as the bridge advertises) returned on request."""
    user = client.post_user({"userName": "gil"}).json
    assert (
        patch(client, group, {"op": "add", "path": "members", "value": [{"value": user["id"]}]}).status_code
        == 204
    )
    url = f"{SCIM}/Users/{user['id']}"
    assert "groups" not in user and "groups" not in client.simulate_get(url).json
    assert "groups" not in client.simulate_get(url, params={"excludedAttributes": "emails"}).json
    asked = client.simulate_get(url, params={"attributes": "groups"}).json
    assert set(asked) == {"schemas", "id", "groups"}  # id is returned always, whatever is asked
    assert [g["value"] for g in asked["groups"]] == [group]
    listed = client.simulate_get(f"{SCIM}/Users", params={"attributes": "userName,groups"}).json["Resources"]
    assert [g["value"] for g in listed[0]["groups"]] == [group]
    refused = client.patch_user(user["id"], {"op": "add", "path": "groups", "value": [{"value": group}]})
    assert (refused.status_code, refused.json["scimType"]) == (400, "mutability")
    echoed = {**client.simulate_get(url, params={"attributes": "userName,groups"}).json, "userName": "gil"}
    put = client.simulate_put(url, json=echoed)  # a read-back sent as it was: groups ignored
    assert put.status_code == 200, put.json
    assert [g["value"] for g in client.simulate_get(url, params={"attributes": "groups"}).json["groups"]] == [
        group
    ]


class Refusing(InMemoryDirectory):
    """An in-memory directory where the entry named ``refuse`` (an RDN, ``cn=Pay``) refuses every modify
    (a directory fault, or an ACL)."""

    refuse = ""

    def update(self, dn: str, changes: Any, *, expect: Any = None) -> None:
        if self.refuse and dn.lower().startswith(f"{self.refuse.lower()},"):
            raise DirectoryUnavailable("the server went away")
        super().update(dn, changes, expect=expect)


def test_a_group_that_fails_to_drop_a_deleted_user_is_named_and_the_others_are_cleaned(
    maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    """The user's delete has happened, and a retry would be a 404: the request succeeds, every other
    group loses the member, and one error line names the group left behind for an operator."""
    directory = Refusing([USER_BASE, GROUP_BASE])
    client = ScimClient(create_app(create_services(make_settings(), directory, maps)))
    user = client.post_user({"userName": "hal"}).json["id"]
    for name in ("Ops", "Pay", "Dev"):
        added = client.simulate_post(
            f"{SCIM}/Groups", json={"displayName": name, "members": [{"value": user}]}
        )
        assert added.status_code == 201
    directory.refuse = "cn=Pay"
    with caplog.at_level(logging.ERROR, logger="bridge.services.members"):
        assert client.simulate_delete(f"{SCIM}/Users/{user}").status_code == 204
    stored = [directory.raw(f"cn={name},{GROUP_BASE}")["member"] for name in ("Ops", "Pay", "Dev")]
    dn = f"uid=hal,{USER_BASE}"
    assert [dn.lower() in (v.lower() for v in values) for values in stored] == [False, True, False]
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bridge.services.members"]
    assert f"cn=Pay,{GROUP_BASE}" in line and "the server went away" in line and "1 group(s)" in line


def test_a_create_whose_member_write_fails_takes_the_group_and_its_values_away_again(
    group_map_with: Callable[[dict[str, Any]], MapSet],
) -> None:
    """Where members keep the membership, a new group's members are writes after the group's add: one
    that fails undoes the others and the add, so the client's retry of the POST finds nothing half made."""
    maps = group_map_with(
        {"object_classes": ["groupOfURLs"], "members": {"attribute": "scimMemberOf", "kept_on": "members"}}
    )
    directory = Refusing([USER_BASE, GROUP_BASE])
    client = ScimClient(create_app(create_services(make_settings(), directory, maps)))
    ids = [client.post_user({"userName": name}).json["id"] for name in ("ann", "ben")]
    directory.refuse = "uid=ben"
    members = [{"value": i} for i in ids]
    failed = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops", "members": members})
    assert failed.status_code == 503, failed.json
    assert "scimmemberof" not in directory.raw(f"uid=ann,{USER_BASE}")
    with pytest.raises(NoSuchEntry):
        directory.raw(f"cn=Ops,{GROUP_BASE}")
    directory.refuse = ""
    again = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops", "members": members})
    assert again.status_code == 201 and {m["value"] for m in again.json["members"]} == set(ids)
    held = [directory.raw(f"uid={name},{USER_BASE}")["scimmemberof"] for name in ("ann", "ben")]
    assert held == [[f"cn=Ops,{GROUP_BASE}"]] * 2
