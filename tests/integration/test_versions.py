"""Versions (RFC 7644 section 3.14): ``meta.version`` and the ``ETag`` header carry the directory's change
marker (entryCSN on slapd), ``If-Match`` guards PUT, PATCH and DELETE with 412, and ``If-None-Match``
answers a GET with 304. Each test runs over the in-memory directory and over a real slapd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bridge.scim.schemas import ERROR, PATCH_OP
from tests.conftest import SCIM, ScimClient


@pytest.fixture(params=["memory", "slapd"])
def client(request: pytest.FixtureRequest) -> ScimClient:
    make: Callable[..., ScimClient] = request.getfixturevalue(
        "make_client" if request.param == "memory" else "ldap_client"
    )
    return make()


def new_user(client: ScimClient, name: str = "vic@contoso.com") -> tuple[str, str]:
    """Create a user; its id and the ETag the POST answered with."""
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": True}
    created = client.post_user(body)
    assert created.status_code == 201, created.text
    return created.json["id"], created.headers["etag"]


def rename(title: str) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": title}]}


def get(client: ScimClient, path: str, **headers: str) -> Any:
    return client.simulate_get(f"{SCIM}/{path}", headers=headers)


def test_every_response_with_a_resource_carries_its_version_as_a_weak_etag(client: ScimClient) -> None:
    user_id, etag = new_user(client)
    assert etag.startswith('W/"') and etag.endswith('"') and len(etag) > 4
    read = get(client, f"Users/{user_id}")
    assert read.headers["etag"] == read.json["meta"]["version"] == etag
    patched = client.simulate_patch(f"{SCIM}/Users/{user_id}", json=rename("Engineer"))
    assert patched.status_code == 200
    assert patched.headers["etag"] == patched.json["meta"]["version"] != etag
    assert get(client, f"Users/{user_id}").headers["etag"] == patched.headers["etag"]
    listed = get(client, 'Users?filter=userName eq "vic@contoso.com"').json["Resources"][0]
    assert listed["meta"]["version"] == patched.headers["etag"]


def test_a_write_naming_an_old_version_is_refused_with_412_and_changes_nothing(client: ScimClient) -> None:
    user_id, old = new_user(client)
    current = client.simulate_patch(f"{SCIM}/Users/{user_id}", json=rename("Engineer")).headers["etag"]
    url = f"{SCIM}/Users/{user_id}"
    stale = {"If-Match": old}
    refused = [
        client.simulate_patch(url, json=rename("Boss"), headers=stale),
        client.simulate_put(url, json={"userName": "vic@contoso.com", "title": "Boss"}, headers=stale),
        client.simulate_delete(url, headers=stale),
    ]
    for response in refused:
        assert response.status_code == 412, response.text
        assert response.json["schemas"] == [ERROR] and response.json["status"] == "412"
        assert "has changed" in response.json["detail"]
    after = get(client, f"Users/{user_id}")
    assert (after.json["title"], after.headers["etag"]) == ("Engineer", current)


def test_a_write_naming_the_current_version_or_any_goes_through(client: ScimClient) -> None:
    user_id, _ = new_user(client)
    url = f"{SCIM}/Users/{user_id}"
    current = get(client, f"Users/{user_id}").headers["etag"]
    # Several tags, one of them current, and the strong spelling of a weak tag: compared weakly.
    tags = f'W/"not-it", {current.removeprefix("W/")}'
    patched = client.simulate_patch(url, json=rename("Engineer"), headers={"If-Match": tags})
    assert patched.status_code == 200, patched.text
    put = client.simulate_put(
        url,
        json={"userName": "vic@contoso.com", "title": "Lead"},
        headers={"If-Match": patched.headers["etag"]},
    )
    assert put.status_code == 200 and put.json["title"] == "Lead"
    assert client.simulate_patch(url, json=rename("CTO"), headers={"If-Match": "*"}).status_code == 200
    deleted = client.simulate_delete(
        url, headers={"If-Match": get(client, f"Users/{user_id}").headers["etag"]}
    )
    assert deleted.status_code == 204
    assert get(client, f"Users/{user_id}").status_code == 404


def test_a_get_naming_the_current_version_is_answered_304_without_a_body(client: ScimClient) -> None:
    user_id, etag = new_user(client)
    unchanged = get(client, f"Users/{user_id}", **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.text == "" and unchanged.headers["etag"] == etag
    client.simulate_patch(f"{SCIM}/Users/{user_id}", json=rename("Engineer"))
    changed = get(client, f"Users/{user_id}", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json["title"] == "Engineer"


def test_group_writes_are_guarded_too(client: ScimClient) -> None:
    user_id, _ = new_user(client)
    created = client.simulate_post(
        f"{SCIM}/Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"},
    )
    assert created.status_code == 201
    group_id, old = created.json["id"], created.headers["etag"]
    assert created.json["meta"]["version"] == old
    url = f"{SCIM}/Groups/{group_id}"
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}],
    }
    renamed = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ops2"}],
    }
    assert client.simulate_patch(url, json=renamed, headers={"If-Match": old}).status_code == 204
    assert client.simulate_patch(url, json=add, headers={"If-Match": old}).status_code == 412
    assert client.simulate_delete(url, headers={"If-Match": old}).status_code == 412
    group = get(client, f"Groups/{group_id}")
    assert group.json["displayName"] == "Ops2" and not group.json.get("members")
    current = group.headers["etag"]
    assert client.simulate_patch(url, json=add, headers={"If-Match": current}).status_code == 204
    assert [m["value"] for m in get(client, f"Groups/{group_id}").json["members"]] == [user_id]
