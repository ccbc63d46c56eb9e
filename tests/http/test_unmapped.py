"""Values the map does not store (issue #15): ``scim.unmapped: ignore`` names and counts them, ``reject``
refuses the request before anything is written, and a value the map would read back otherwise is always
refused. Through falcon.testing on the in-memory directory with the shipped OpenLDAP map."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.config import ScimConfig
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from tests.conftest import SCIM, ScimClient, make_settings
from tests.http.test_observe import metric

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
UNMAPPED = "scim_bridge_unmapped_attributes_total"


def make(memory: InMemoryDirectory, maps: MapSet, policy: str = "ignore") -> ScimClient:
    settings = replace(make_settings(), scim=ScimConfig(unmapped=policy))  # type: ignore[arg-type]
    return ScimClient(create_app(create_services(settings, memory, maps)))


def scrape(client: ScimClient) -> str:
    return str(client.simulate_get("/metrics").text)


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[Any]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


# (body of a POST /Users, the paths it sends that the shipped OpenLDAP map has no row for)
SENT_BUT_NOT_STORED = [
    ({"nickName": "Bob"}, ["nickName"]),
    ({"name": {"givenName": "B", "middleName": "M"}}, ["name.middleName"]),
    ({"emails": [{"type": "home", "value": "h@example.org"}]}, ['emails[type eq "home"].value']),
    ({"addresses": [{"type": "work", "country": "DE"}]}, ['addresses[type eq "work"].country']),
    ({"roles": [{"value": "admin"}]}, ["roles.value"]),
    ({"x-custom": "1"}, ["x-custom"]),
    ({ENTERPRISE: {"employeeNumber": "7", "costCentre": "1"}}, [f"{ENTERPRISE}:costCentre"]),
    ({"name": {"givenName": "B", "nickname": "Bo"}}, ["name.nickname"]),
    ({"emails": [{"type": "work", "value": "b@example.org", "verified": True}]}, ["emails.verified"]),
]
NOT_IN_SCHEMA = ("x-custom", "costCentre", "nickname", "verified")


@pytest.mark.parametrize(("extra", "paths"), SENT_BUT_NOT_STORED)
def test_ignore_writes_the_rest_and_names_counts_and_logs_each_unmapped_path(
    memory: InMemoryDirectory,
    maps: MapSet,
    caplog: pytest.LogCaptureFixture,
    extra: dict[str, Any],
    paths: list[str],
) -> None:
    client = make(memory, maps)
    with caplog.at_level(logging.INFO):
        created = client.post_user({"userName": "bob", "displayName": "Bob B", **extra})
    assert created.status_code == 201, created.json
    assert created.json["displayName"] == "Bob B"
    (audit,) = events(caplog, "user.unmapped")
    assert audit.attributes == paths  # type: ignore[attr-defined]
    (access,) = [r for r in caplog.records if r.name == "bridge.access"]
    assert access.unmapped == paths  # type: ignore[attr-defined]
    for path in paths:
        label = "(not in the schema)" if any(name in path for name in NOT_IN_SCHEMA) else path
        assert metric(scrape(client), UNMAPPED, attribute=label, resource="User") == 1.0


def test_a_request_that_sends_only_stored_values_notes_nothing(
    memory: InMemoryDirectory, maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    """Entra's POST: a primary work email, roles: [] and a null: nothing to name."""
    client = make(memory, maps)
    body = {
        "userName": "eve",
        "emails": [{"primary": True, "type": "work", "value": "eve@example.org"}],
        "roles": [],
        "title": None,
        "meta": {"resourceType": "User"},
    }
    with caplog.at_level(logging.INFO):
        assert client.post_user(body).status_code == 201
    assert not events(caplog, "user.unmapped")
    assert not hasattr(next(r for r in caplog.records if r.name == "bridge.access"), "unmapped")
    assert UNMAPPED.removesuffix("_total") + "_total{" not in scrape(client)


@pytest.mark.parametrize(("extra", "paths"), SENT_BUT_NOT_STORED)
def test_reject_refuses_a_post_with_any_unmapped_path_and_writes_nothing(
    memory: InMemoryDirectory, maps: MapSet, extra: dict[str, Any], paths: list[str]
) -> None:
    client = make(memory, maps, "reject")
    refused = client.post_user({"userName": "bob", **extra})
    assert refused.status_code == 400
    assert refused.json["scimType"] == "invalidValue"
    assert all(path in refused.json["detail"] for path in paths), refused.json["detail"]
    assert "scim.unmapped" in refused.json["detail"]
    assert client.simulate_get(f"{SCIM}/Users").json["totalResults"] == 0


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "nickName", "value": "Bob"},
        {"op": "replace", "path": 'phoneNumbers[type eq "pager"].value', "value": "+1 555"},
        {"op": "replace", "value": {"name.middleName": "M", "title": "Boss"}},
        {"op": "add", "path": f"{ENTERPRISE}:costCentre", "value": "1"},
        {"op": "replace", "path": "name", "value": {"givenName": "B", "nickname": "Bo"}},
        {"op": "add", "path": "emails", "value": [{"type": "work", "value": "b@x.org", "verified": True}]},
    ],
)
def test_reject_refuses_a_patch_on_an_unmapped_path_and_the_user_stays_as_it_was(
    memory: InMemoryDirectory, maps: MapSet, operation: dict[str, Any]
) -> None:
    client = make(memory, maps, "reject")
    user = client.post_user({"userName": "bob", "title": "Clerk"}).json
    refused = client.patch_user(user["id"], operation)
    assert (refused.status_code, refused.json["scimType"]) == (400, "invalidValue")
    after = client.simulate_get(f"{SCIM}/Users/{user['id']}").json
    assert after["title"] == "Clerk" and after["meta"]["version"] == user["meta"]["version"]


def test_reject_still_takes_removes_of_unmapped_paths_which_leave_the_user_as_asked(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    """Removing what the directory never held changes nothing the client could miss."""
    client = make(memory, maps, "reject")
    user = client.post_user({"userName": "bob"}).json
    assert client.patch_user(user["id"], {"op": "remove", "path": "nickName"}).status_code == 200


def test_a_put_with_unmapped_paths_is_refused_under_reject_and_noted_under_ignore(
    memory: InMemoryDirectory, maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    strict = make(memory, maps, "reject")
    user = strict.post_user({"userName": "bob"}).json
    url = f"{SCIM}/Users/{user['id']}"
    body = {"userName": "bob", "title": "Boss", "nickName": "B"}
    assert strict.simulate_put(url, json=body).status_code == 400
    assert "title" not in strict.simulate_get(url).json
    lenient = make(memory, maps)
    with caplog.at_level(logging.INFO):
        assert lenient.simulate_put(url, json=body).json["title"] == "Boss"
    (audit,) = events(caplog, "user.unmapped")
    assert (audit.attributes, audit.target_id) == (["nickName"], user["id"])  # type: ignore[attr-defined]


def test_group_attributes_the_map_does_not_store_follow_the_policy(
    memory: InMemoryDirectory, maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    strict = make(memory, maps, "reject")
    refused = strict.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops", "x-colour": "red"})
    assert (refused.status_code, refused.json["scimType"]) == (400, "invalidValue")
    lenient = make(memory, maps)
    with caplog.at_level(logging.INFO):
        created = lenient.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops", "x-colour": "red"})
    assert created.status_code == 201
    (audit,) = events(caplog, "group.unmapped")
    assert audit.attributes == ["x-colour"]  # type: ignore[attr-defined]
    group = created.json["id"]
    rename = {"op": "replace", "value": {"displayName": "Ops 2", "x-colour": "blue"}}
    body = {"schemas": [PATCH_OP], "Operations": [rename]}
    assert strict.simulate_patch(f"{SCIM}/Groups/{group}", json=body).status_code == 400
    assert lenient.simulate_patch(f"{SCIM}/Groups/{group}", json=body).status_code == 204
    assert lenient.simulate_get(f"{SCIM}/Groups/{group}").json["displayName"] == "Ops 2"


def test_a_client_chosen_type_folds_into_one_metric_label(memory: InMemoryDirectory, maps: MapSet) -> None:
    """Labels are bounded: a client cannot make a series per made-up type."""
    client = make(memory, maps)
    for i in range(3):
        emails = [{"type": f"made-up-{i}", "value": f"x{i}@example.org"}]
        assert client.post_user({"userName": f"u{i}", "emails": emails}).status_code == 201
    text = scrape(client)
    label = 'emails[type eq "(uncommon)"].value'
    assert metric(text, UNMAPPED, attribute=label, resource="User") == 3.0
    assert "made-up" not in text


def test_a_patch_that_is_retried_from_a_fresh_read_notes_each_path_once(
    memory: InMemoryDirectory, maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    """The remembered entry is stale (changed behind the bridge): the PATCH runs again, noted once."""
    client = make(memory, maps)
    user = client.post_user({"userName": "bob"}).json
    other = make(memory, maps)  # another instance changes the user: this one's memory is stale
    assert other.patch_user(user["id"], {"op": "replace", "path": "title", "value": "X"}).status_code == 200
    with caplog.at_level(logging.INFO):
        done = client.patch_user(user["id"], {"op": "replace", "value": {"title": "Y", "nickName": "B"}})
    assert done.json["title"] == "Y"
    assert len(events(caplog, "user.unmapped")) == 1
    assert metric(scrape(client), UNMAPPED, attribute="nickName", resource="User") == 1.0


@pytest.mark.parametrize("params", [{"attributes": "displayName"}, {"excludedAttributes": "members"}])
def test_a_group_patch_that_names_attributes_answers_200_with_the_group(
    client: ScimClient, params: dict[str, str]
) -> None:
    """RFC 7644 3.5.2: with "attributes" or "excludedAttributes" the response is 200 and the resource."""
    group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"}).json["id"]
    user = client.post_user({"userName": "ann"}).json["id"]
    body = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Ops 2"},
            {"op": "add", "path": "members", "value": [{"value": user}]},
        ],
    }
    answer = client.simulate_patch(f"{SCIM}/Groups/{group}", json=body, params=params)
    assert answer.status_code == 200
    assert (answer.json["id"], answer.json["displayName"]) == (group, "Ops 2")
    assert "members" not in answer.json
    assert answer.headers["ETag"].startswith('W/"')
    asked = client.simulate_patch(
        f"{SCIM}/Groups/{group}",
        json={
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Ops"}],
        },
        params={"attributes": "members"},
    )
    assert asked.status_code == 200 and [m["value"] for m in asked.json["members"]] == [user]
    assert "displayName" not in asked.json
    plain = client.simulate_patch(
        f"{SCIM}/Groups/{group}",
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "X"}]},
    )
    assert plain.status_code == 204  # without them, Entra's 204 stays
