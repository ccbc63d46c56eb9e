"""The write-only ``password`` over HTTP with the shipped OpenLDAP map (issue #6 point 8): POST, PUT and
PATCH write its hash to ``userPassword``; nothing ever returns it, filters on it are refused, and a
request without one keeps the stored one (RFC 7643 section 4.1.1, RFC 7644 section 3.5.1).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import falcon.testing
import pytest
import yaml

from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.load import parse_maps
from bridge.scim.schemas import ERROR
from tests.conftest import OPENLDAP_MAP, SCIM, ScimClient

MakeClient = Callable[..., ScimClient]
PASSWORD = "Sesame-0pen-ünï"
NEW_PASSWORD = "Another-Sesame-42"


def verifies(stored: str, password: str) -> bool:
    """slapd's check of a ``{SSHA}`` value: SHA-1 of the password and the salt after the digest."""
    assert stored.startswith("{SSHA}"), stored
    raw = base64.b64decode(stored[len("{SSHA}") :])
    return hashlib.sha1(password.encode() + raw[20:], usedforsecurity=False).digest() == raw[:20]


def stored_password(memory: InMemoryDirectory, user_id: str) -> str:
    (dn,) = [dn for dn in memory.dns() if memory.raw(dn).get("entryuuid") == [user_id]]
    (value,) = memory.raw(dn)["userpassword"]
    return value


def created(client: ScimClient, **more: Any) -> str:
    response = client.post_user({"userName": "ann@contoso.com", "displayName": "Ann Lee", **more})
    assert response.status_code == 201, response.text
    return str(response.json["id"])


def assert_never_shown(result: falcon.testing.Result, *secrets: str) -> None:
    assert result.status_code in (200, 201), result.text
    assert "password" not in result.text.lower()
    for secret in (PASSWORD, NEW_PASSWORD, "{SSHA}", *secrets):
        assert secret not in result.text


def test_a_created_users_password_is_stored_as_a_salted_hash_and_not_returned(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    response = client.post_user({"userName": "ann@contoso.com", "password": PASSWORD})
    stored = stored_password(memory, response.json["id"])
    assert verifies(stored, PASSWORD) and PASSWORD not in stored
    assert_never_shown(response, stored)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/Users/{id}", {}),
        ("/Users/{id}", {"attributes": "password"}),
        ("/Users/{id}", {"attributes": "urn:ietf:params:scim:schemas:core:2.0:User:password,userName"}),
        ("/Users/{id}", {"excludedAttributes": "displayName"}),
        ("/Users", {}),
        ("/Users", {"attributes": "password"}),
        ("/Users", {"filter": 'userName eq "ann@contoso.com"', "attributes": "password,userName"}),
    ],
)
def test_no_read_ever_returns_the_password_or_its_hash(
    client: ScimClient, memory: InMemoryDirectory, path: str, params: dict[str, str]
) -> None:
    """returned "never" (RFC 7643 section 7), even when asked for by name (RFC 7644 3.9)."""
    user_id = created(client, password=PASSWORD)
    stored = stored_password(memory, user_id)
    response = client.simulate_get(SCIM + path.format(id=user_id), params=params)
    assert_never_shown(response, stored)
    if path == "/Users":
        assert response.json["totalResults"] == 1


@pytest.mark.parametrize("endpoint", ["/Users", "/Users/.search", "/.search"])
@pytest.mark.parametrize(
    "flt", [f'password eq "{PASSWORD}"', "password pr", 'userName pr and password co "S"']
)
def test_a_filter_on_the_password_is_400_invalid_filter(client: ScimClient, endpoint: str, flt: str) -> None:
    """Refused, not "matches nothing": a filter that could match would be a way to test guesses."""
    created(client, password=PASSWORD)
    if endpoint == "/Users":
        response = client.simulate_get(f"{SCIM}/Users", params={"filter": flt})
    else:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": flt}
        response = client.simulate_post(SCIM + endpoint, json=body)
    assert response.status_code == 400, response.text
    assert response.json["schemas"] == [ERROR] and response.json["scimType"] == "invalidFilter"
    assert "password is write-only and never returned" in response.json["detail"]
    assert PASSWORD not in response.text


def test_a_put_without_a_password_keeps_the_stored_one_and_a_put_with_one_replaces_it(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """RFC 7644 3.5.1: an omitted attribute is not asserted. Entra never sends a password, so clearing
    it on every PUT would lock every user out of the directory."""
    user_id = created(client, password=PASSWORD)
    before = stored_password(memory, user_id)
    replaced = client.simulate_put(
        f"{SCIM}/Users/{user_id}", json={"userName": "ann@contoso.com", "displayName": "Ann B. Lee"}
    )
    assert_never_shown(replaced)
    assert replaced.json["displayName"] == "Ann B. Lee"
    assert stored_password(memory, user_id) == before
    body = {"userName": "ann@contoso.com", "displayName": "Ann B. Lee", "password": NEW_PASSWORD}
    assert_never_shown(client.simulate_put(f"{SCIM}/Users/{user_id}", json=body))
    assert verifies(stored_password(memory, user_id), NEW_PASSWORD)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "password", "value": NEW_PASSWORD},
        {"op": "Replace", "path": "Password", "value": NEW_PASSWORD},
        {"op": "add", "path": "password", "value": NEW_PASSWORD},
        {"op": "replace", "value": {"password": NEW_PASSWORD, "title": "Chef"}},
    ],
    ids=["replace", "any-case", "add", "path-less"],
)
def test_a_patch_that_carries_a_password_writes_its_hash(
    client: ScimClient, memory: InMemoryDirectory, operation: dict[str, Any]
) -> None:
    user_id = created(client, password=PASSWORD)
    response = client.patch_user(user_id, operation)
    assert_never_shown(response)
    stored = stored_password(memory, user_id)
    assert verifies(stored, NEW_PASSWORD) and not verifies(stored, PASSWORD)


def test_a_patch_without_a_password_leaves_it_and_one_with_the_same_password_writes_it_again(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """The stored hash is never read back, so a sent password cannot be compared with it: every request
    that carries one writes it (with a fresh salt), every request that does not leaves it alone."""
    user_id = created(client, password=PASSWORD)
    first = stored_password(memory, user_id)
    writes = memory.writes
    assert client.patch_user(user_id, {"op": "replace", "path": "title", "value": "Chef"}).status_code == 200
    assert client.patch_user(user_id, {"op": "replace", "path": "title", "value": "Chef"}).status_code == 200
    assert memory.writes == writes + 1 and stored_password(memory, user_id) == first
    again = client.patch_user(user_id, {"op": "replace", "path": "password", "value": PASSWORD})
    assert again.status_code == 200 and memory.writes == writes + 2
    second = stored_password(memory, user_id)
    assert second != first and verifies(second, PASSWORD)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "password"},
        {"op": "replace", "path": "password", "value": ""},
        {"op": "replace", "path": "password", "value": None},
    ],
    ids=["remove", "empty", "null"],
)
def test_removing_the_password_over_scim_leaves_the_stored_one(
    client: ScimClient, memory: InMemoryDirectory, operation: dict[str, Any]
) -> None:
    """A cleared password carries none, so, as with a PUT without one, the stored one stays: an
    account's directory password is removed in the directory, not by a provisioning client."""
    user_id = created(client, password=PASSWORD)
    before, writes = stored_password(memory, user_id), memory.writes
    assert client.patch_user(user_id, operation).status_code == 200
    assert stored_password(memory, user_id) == before and memory.writes == writes


@pytest.fixture
def cleartext_client(make_client: MakeClient) -> ScimClient:
    data = yaml.safe_load(OPENLDAP_MAP.read_text())
    data["user"]["attributes"]["password"]["scheme"] = "cleartext"
    return make_client(parse_maps(data, "cleartext"))


def test_with_scheme_cleartext_the_password_goes_to_the_directory_as_sent(
    cleartext_client: ScimClient, memory: InMemoryDirectory
) -> None:
    """For slapd's ppolicy ``olcPPolicyHashCleartext`` to hash (tests/integration/test_passwords_slapd.py)."""
    response = cleartext_client.post_user({"userName": "ann@contoso.com", "password": PASSWORD})
    assert_never_shown(response)
    assert stored_password(memory, response.json["id"]) == PASSWORD


def test_with_scheme_cleartext_a_password_shaped_like_a_hash_is_400_and_nothing_is_written(
    cleartext_client: ScimClient, memory: InMemoryDirectory
) -> None:
    """slapd would take ``{SSHA}...`` as already hashed and store it as sent."""
    shaped = "{CLEARTEXT}" + PASSWORD
    writes = memory.writes
    response = cleartext_client.post_user({"userName": "ann@contoso.com", "password": shaped})
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert "password must not start with a {SCHEME} prefix" in response.json["detail"]
    assert PASSWORD not in response.text and memory.writes == writes
