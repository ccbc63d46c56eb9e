"""POST /Users: the 201 and its body, what the entry holds, uniqueness and invalid values.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from bridge.scim.schemas import CORE_USER, ENTERPRISE_USER
from tests.conftest import (
    SCIM,
    USER_BASE,
    ScimClient,
    make_settings,
)
from tests.http.users.support import (
    SCIM_JSON,
    assert_scim_error,
    create,
    dn_of,
    state,
    without_primary,
)
from tests.samples import ENTRA_POST, EVERY_ROW


def test_create_answers_201_with_the_resource_location_and_meta(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """RFC 7644 3.3: 201, Location, the full resource with id and meta; media type application/scim+json
    (RFC 7644 8.1, [D1] "all the responses")."""
    result = client.post_user(ENTRA_POST)
    assert result.status_code == 201
    assert result.headers["Content-Type"] == SCIM_JSON
    body = result.json
    assert body["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert result.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"{SCIM}/Users/{body['id']}")
    assert body["meta"]["resourceType"] == "User"
    for stamp in ("created", "lastModified"):
        datetime.strptime(body["meta"][stamp], "%Y-%m-%dT%H:%M:%SZ")
    assert memory.raw(dn_of(memory, body["id"]))["uid"] == ["alice@contoso.com"]
    assert without_primary(
        {k: v for k, v in body.items() if k not in ("id", "meta", "schemas")}
    ) == without_primary({k: v for k, v in ENTRA_POST.items() if k not in ("schemas", "meta", "roles")})


def test_the_id_is_the_entry_uuid(client: ScimClient, memory: InMemoryDirectory) -> None:
    """SCIM id = entryUUID, so it never depends on the name."""
    body = create(client, {"userName": "u@contoso.com"})
    assert memory.raw(f"uid=u@contoso.com,{USER_BASE}")["entryuuid"] == [body["id"]]


def test_every_row_of_the_default_map_round_trips_exactly(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """Case, phone formats and address lines read back as sent, or Entra re-PATCHes every cycle
    [D1][I16] (Q22)."""
    body = create(client, EVERY_ROW)
    again = client.simulate_get(f"{SCIM}/Users/{body['id']}").json
    for document in (body, again):
        assert {k: v for k, v in document.items() if k not in ("id", "meta", "schemas")} == EVERY_ROW
    raw = memory.raw(dn_of(memory, body["id"]))
    assert raw["postaladdress"] == ["1 Main St.$Springfield, IL 62701"]
    assert raw["telephonenumber"] == ["+1 (555) 010-0000"]
    assert raw["mail"] == ["Jane.Doe@Contoso.com"]
    assert raw["employeenumber"] == ["007"]


@pytest.mark.parametrize(
    ("body", "sn", "cn"),
    [
        ({"userName": "u@contoso.com"}, "u@contoso.com", "u@contoso.com"),
        ({"userName": "u@contoso.com", "displayName": "Dana D"}, "Dana D", "Dana D"),
        ({"userName": "u@contoso.com", "name": {"givenName": "Ann", "familyName": "Lee"}}, "Lee", "Ann Lee"),
    ],
)
def test_cn_and_sn_are_filled_from_the_map_templates_when_absent(
    client: ScimClient, memory: InMemoryDirectory, body: dict[str, Any], sn: str, cn: str
) -> None:
    """person requires cn and sn; Entra may send neither (config/maps/openldap.yaml defaults)."""
    create(client, body)
    raw = memory.raw(f"uid=u@contoso.com,{USER_BASE}")
    assert (raw["sn"], raw["cn"]) == ([sn], [cn])


@pytest.mark.parametrize(
    ("active", "locked"), [("True", False), ("False", True), (True, False), (False, True)]
)
def test_create_accepts_active_as_a_string_and_locks_inactive_users_in_the_same_add(
    client: ScimClient, memory: InMemoryDirectory, active: Any, locked: bool
) -> None:
    """Entra posts ``"active": "True"`` [R1][R6]; an inactive user is created already locked."""
    body = create(client, {"userName": "u@contoso.com", "active": active})
    assert body["active"] is not locked
    assert ("pwdaccountlockedtime" in memory.raw(f"uid=u@contoso.com,{USER_BASE}")) is locked
    assert memory.writes == 1


def test_unknown_attributes_nulls_and_extra_schemas_in_a_create_are_tolerated(client: ScimClient) -> None:
    """Q17/Q18/Q19: extra URNs, malformed URNs, meta, nulls, capitalised names, unknown attributes
    [D1][D7][D18][R1]."""
    boss = create(client, {"userName": "boss@contoso.com"})["id"]
    body = create(
        client,
        {
            "schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "UserName": "g@contoso.com",
            "DisplayName": "G",
            "addresses": None,
            "favouriteColour": "blue",
            "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User": {"badge": "1"},
            ENTERPRISE_USER: {"Department": "Sales", "Manager": {"Value": boss}},
            "meta": {"resourceType": "User"},
        },
    )
    assert body["userName"] == "g@contoso.com"
    assert body["displayName"] == "G"
    assert body[ENTERPRISE_USER]["department"] == "Sales"
    assert body[ENTERPRISE_USER]["manager"]["value"] == boss


def test_a_second_create_of_the_same_username_is_409_uniqueness_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """[R1][D13] (Q14): 409 with scimType uniqueness and a detail; userName compares case-insensitively."""
    before = state(memory)
    for user_name in ("alice@contoso.com", "ALICE@contoso.com"):
        result = client.post_user({**ENTRA_POST, "userName": user_name})
        assert_scim_error(result, 409, "uniqueness", "already taken")
    assert state(memory) == before


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"displayName": "No Name"}, "userName is required"),
        ({"userName": ""}, "userName is required"),
        ({"userName": 42}, "userName must be a string"),
        ({"userName": "u@contoso.com", "active": "maybe"}, "active must be true or false"),
        ({"userName": "u@contoso.com", "name": "Ann Lee"}, "name must be an object"),
    ],
)
def test_a_create_with_invalid_values_is_400_invalid_value_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, body: dict[str, Any], detail: str
) -> None:
    """[R1] "POST without userName -> 400"; RFC 7644 3.12 invalidValue."""
    before = state(memory)
    assert_scim_error(client.post_user(body), 400, "invalidValue", detail)
    assert state(memory) == before


def test_a_public_url_is_used_for_location_and_meta(memory: InMemoryDirectory, user_map: ResourceMap) -> None:
    """Behind the reverse proxy the configured public URL, not the Host header, builds meta.location."""
    settings = make_settings()
    settings = replace(
        settings, server=replace(settings.server, public_url="https://scim.example.com/scim/v2/")
    )
    client = ScimClient(create_app(create_services(settings, memory, user_map)))
    body = create(client, {"userName": "u@contoso.com"})
    assert body["meta"]["location"] == f"https://scim.example.com/scim/v2/Users/{body['id']}"


def test_booleans_in_responses_are_json_booleans(client: ScimClient) -> None:
    """[T1] test 25: the validator rejects "True" strings in responses."""
    body = create(
        client,
        {
            "userName": "u@contoso.com",
            "active": "True",
            "emails": [{"type": "work", "value": "u@contoso.com", "primary": "True"}],
        },
    )
    assert body["active"] is True
    raw = client.simulate_get(f"{SCIM}/Users/{body['id']}").text
    assert '"active":true' in raw.replace(" ", "")
    assert '"True"' not in raw


def test_a_username_taken_in_another_case_is_a_conflict(client: ScimClient, alice: dict[str, Any]) -> None:
    """userName is unique ignoring case (RFC 7643 4.1.1, caseExact false)."""
    result = client.post_user({"userName": "ALICE@CONTOSO.COM"})
    assert result.status_code == 409 and result.json["scimType"] == "uniqueness"
