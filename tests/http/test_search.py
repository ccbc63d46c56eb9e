"""POST .search (RFC 7644 section 3.4.3): the query in a SearchRequest body, on /Users, /Groups and the
root, where one page runs across both resource types (issue #6, point 2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from tests.conftest import SCIM, ScimClient, make_settings

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def search(client: ScimClient, path: str, **body: Any) -> Any:
    return client.simulate_post(f"{SCIM}{path}/.search", json={"schemas": [SEARCH], **body})


@pytest.fixture
def people(client: ScimClient) -> dict[str, str]:
    ids = {}
    for name in ("ann", "bob", "cyd"):
        response = client.post_user({"userName": name, "displayName": f"{name.title()} Smith"})
        assert response.status_code == 201
        ids[name] = response.json["id"]
    for name in ("Ann Smith", "Staff"):
        response = client.simulate_post(
            f"{SCIM}/Groups", json={"displayName": name, "members": [{"value": ids["ann"]}]}
        )
        assert response.status_code == 201, response.json
        ids[name] = response.json["id"]
    return ids


def test_users_search_answers_as_the_same_get_would(client: ScimClient, people: dict[str, str]) -> None:
    query = {"filter": 'displayName co "smith"', "startIndex": 2, "count": 1, "attributes": ["userName"]}
    posted = search(client, "/Users", **query)
    got = client.simulate_get(
        f"{SCIM}/Users", params={**query, "attributes": "userName", "startIndex": "2", "count": "1"}
    )
    assert posted.status_code == 200 and posted.json == got.json
    assert posted.json["totalResults"] == 3 and posted.json["startIndex"] == 2
    (only,) = posted.json["Resources"]
    assert set(only) == {"schemas", "id", "userName"}  # id is returned always


def test_groups_search_honours_excluded_members(client: ScimClient, people: dict[str, str]) -> None:
    found = search(client, "/Groups", filter='displayName eq "Staff"', excludedAttributes=["members"]).json
    assert [g["id"] for g in found["Resources"]] == [people["Staff"]] and "members" not in found["Resources"][
        0
    ]
    with_members = search(client, "/Groups", filter='displayName eq "Staff"').json["Resources"][0]
    assert [m["value"] for m in with_members["members"]] == [people["ann"]]


def test_root_search_pages_across_users_then_groups(client: ScimClient, people: dict[str, str]) -> None:
    first = search(client, "", count=4).json
    assert first["totalResults"] == 5 and first["itemsPerPage"] == 4
    kinds = [r["meta"]["resourceType"] for r in first["Resources"]]
    assert kinds == ["User", "User", "User", "Group"]
    rest = search(client, "", startIndex=5, count=4).json
    assert rest["totalResults"] == 5 and [r["meta"]["resourceType"] for r in rest["Resources"]] == ["Group"]
    seen = {r["id"] for r in first["Resources"]} | {r["id"] for r in rest["Resources"]}
    assert seen == set(people.values())
    assert search(client, "", count=0).json == {**first, "itemsPerPage": 0, "Resources": []}


def test_root_search_filters_each_type_by_the_attributes_it_has(
    client: ScimClient, people: dict[str, str]
) -> None:
    both = search(client, "", filter='displayName eq "Ann Smith"').json
    assert {r["id"] for r in both["Resources"]} == {people["ann"], people["Ann Smith"]}
    users_only = search(client, "", filter='userName eq "bob"').json  # groups have no userName
    assert [r["id"] for r in users_only["Resources"]] == [people["bob"]] and users_only["totalResults"] == 1
    nobody = search(client, "", filter='nickName eq "x"')  # stored by neither
    assert nobody.status_code == 400 and nobody.json["scimType"] == "invalidFilter"


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    [
        ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}, "invalidSyntax", SEARCH),
        ({"schemas": [SEARCH], "attributes": "userName"}, "invalidSyntax", "list of attribute names"),
        ({"schemas": [SEARCH], "filter": 3}, "invalidSyntax", "filter is a string"),
        ({"schemas": [SEARCH], "count": "ten"}, "invalidValue", "count must be an integer"),
        ({"schemas": [SEARCH], "fliter": 'userName eq "x"'}, "invalidSyntax", "fliter"),
        ({"schemas": [SEARCH], "filter": "userName eq"}, "invalidFilter", ""),
    ],
)
def test_a_bad_search_request_is_a_400_that_says_what_is_wrong(
    client: ScimClient, body: dict[str, Any], scim_type: str, detail: str
) -> None:
    for path in ("/Users", "/Groups", ""):
        response = client.simulate_post(f"{SCIM}{path}/.search", json=body)
        assert response.status_code == 400, (path, response.json)
        assert response.json["scimType"] == scim_type and detail in response.json["detail"]


def test_search_is_post_only(client: ScimClient) -> None:
    """GET /Users/.search is not a user called ".search"."""
    response = client.simulate_get(f"{SCIM}/Users/.search")
    assert response.status_code == 405 and response.json["status"] == "405"


def limited(memory: InMemoryDirectory, maps: MapSet, **server: Any) -> ScimClient:
    settings = make_settings()
    return ScimClient(
        create_app(
            create_services(replace(settings, server=replace(settings.server, **server)), memory, maps)
        )
    )


def test_server_max_results_caps_each_page_and_is_advertised(
    memory: InMemoryDirectory, maps: MapSet, people: dict[str, str]
) -> None:
    client = limited(memory, maps, max_results=2)
    page = client.simulate_get(f"{SCIM}/Users", params={"count": "5"}).json
    assert (page["totalResults"], page["itemsPerPage"]) == (3, 2)
    assert search(client, "", count=5).json["itemsPerPage"] == 2
    config = client.simulate_get(f"{SCIM}/ServiceProviderConfig").json
    assert config["filter"] == {"supported": True, "maxResults": 2}


def test_a_query_matching_more_than_server_max_matches_is_400_too_many(
    memory: InMemoryDirectory, maps: MapSet, people: dict[str, str]
) -> None:
    client = limited(memory, maps, max_matches=2)
    refused = [
        client.simulate_get(f"{SCIM}/Users"),
        client.simulate_get(f"{SCIM}/Users", params={"count": "0"}),
        search(client, "/Users", filter="userName pr"),
        search(client, "", filter='displayName co "s"'),  # 3 users and 2 groups: each under, both over
    ]
    for response in refused:
        assert response.status_code == 400, response.json
        assert response.json["scimType"] == "tooMany"
        assert "narrow the filter" in response.json["detail"]
    assert "matches 3 resources, more than the 2" in refused[0].json["detail"]
    allowed = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "ann"'})
    assert allowed.status_code == 200 and allowed.json["totalResults"] == 1
    assert client.simulate_get(f"{SCIM}/Groups").json["totalResults"] == 2
