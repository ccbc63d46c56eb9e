"""/Users over HTTP (falcon.testing) against the in-memory directory: statuses, headers, bodies, auth,
deprovisioning policies, and what reaches the directory.

Keys in brackets ([D1], [R1], ...) resolve in ``shared/reference/entra-client.md`` section 12;
Q-numbers are its section 9 quirk catalogue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import falcon.testing
import pytest

from bridge.app import create_app
from bridge.directory.errors import ConstraintViolation, DirectoryError, DirectoryUnavailable
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import PPOLICY_LOCK, ResourceMap
from bridge.scim.schemas import CORE_USER, ENTERPRISE_USER, ERROR, LIST_RESPONSE, PATCH_OP
from tests.conftest import (
    DISABLED_BASE,
    SCIM,
    SUFFIX,
    TOKEN,
    USER_BASE,
    ScimClient,
    make_settings,
)
from tests.samples import ENTRA_POST, EVERY_ROW

MakeClient = Callable[..., ScimClient]
MapWith = Callable[[dict[str, Any]], ResourceMap]
SCIM_JSON = "application/scim+json"
GUID = "5d1f0b32-8a1e-4c1b-9a63-1f0e2d3c4b5a"
STRIP = {"attributes": {"userName": {"ldap": "uid", "strip_suffix": "@contoso.com"}}}
NS_LOCK = {"active": {"method": "attribute", "attribute": "nsAccountLock", "disabled_value": "TRUE"}}


# --- helpers -------------------------------------------------------------------------------------


def create(client: ScimClient, body: dict[str, Any]) -> dict[str, Any]:
    result = client.post_user(body)
    assert result.status_code == 201, result.text
    return result.json  # type: ignore[no-any-return]


def dn_of(memory: InMemoryDirectory, user_id: str) -> str:
    """The DN of the entry whose entryUUID is ``user_id``."""
    found = [dn for dn in memory.dns() if memory.raw(dn).get("entryuuid") == [user_id]]
    assert len(found) == 1, found
    return found[0]


def state(memory: InMemoryDirectory) -> tuple[int, dict[str, dict[str, list[str]]]]:
    """Everything in the directory, to assert that nothing was written."""
    return memory.writes, {dn: memory.raw(dn) for dn in memory.dns()}


def user_names(result: falcon.testing.Result) -> list[str]:
    assert result.status_code == 200, result.text
    return [resource["userName"] for resource in result.json["Resources"]]


def search(client: ScimClient, flt: str, **params: str) -> falcon.testing.Result:
    return client.simulate_get(f"{SCIM}/Users", params={"filter": flt, **params})


def assert_scim_error(result: falcon.testing.Result, status: int, scim_type: str | None, detail: str) -> None:
    """An RFC 7644 3.12 Error: the status as a string, scimType where one is named, a helpful detail,
    in application/scim+json, without internals or secrets."""
    assert result.status_code == status, result.text
    assert result.headers["Content-Type"] == SCIM_JSON
    body = result.json
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert detail in body["detail"]
    assert_nothing_leaks(result)


def assert_nothing_leaks(result: falcon.testing.Result) -> None:
    for secret in ("Traceback", 'File "', TOKEN, hashlib.sha256(TOKEN.encode()).hexdigest()):
        assert secret not in result.text


def without_primary(document: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(document))
    for email in out.get("emails", []):
        email.pop("primary", None)
    return out


@pytest.fixture
def alice(client: ScimClient) -> dict[str, Any]:
    """Alice as Entra's documented create made her [D1]."""
    return create(client, ENTRA_POST)


@pytest.fixture
def people(client: ScimClient) -> list[dict[str, Any]]:
    """Three users with distinct matching attributes, created in userName order."""
    return [
        create(
            client,
            {
                "userName": "ann@contoso.com",
                "externalId": "ext-ann",
                "title": "Engineer",
                "emails": [{"type": "work", "value": "Ann.Lee@Contoso.com"}],
            },
        ),
        create(
            client,
            {
                "userName": "bob@contoso.com",
                "externalId": "jyoung",
                "title": "Manager",
                "emails": [{"type": "work", "value": "bob@fabrikam.com"}],
            },
        ),
        create(
            client,
            {"userName": "cyd@contoso.com", "externalId": "ext-cyd", "title": "Engineer", "active": "False"},
        ),
    ]


# --- the lifecycle Entra drives ------------------------------------------------------------------


def test_the_entra_user_lifecycle_from_test_connection_to_hard_delete(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """Test Connection, match, create, update, disable, restore, hard delete, in Entra's order (section
    2.0 of the reference: [D1][D3])."""
    probe = client.simulate_get(f"{SCIM}/Users", query_string=f"filter=userName+eq+%22{GUID}%22")
    assert probe.status_code == 200
    assert probe.json == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == []

    created = client.post_user(ENTRA_POST)
    assert created.status_code == 201
    user_id = created.json["id"]

    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["userName"] == "alice@contoso.com"
    updated = client.patch_user(user_id, {"op": "Replace", "path": "name.familyName", "value": "Adams-Baker"})
    assert updated.status_code == 200
    assert updated.json["name"]["familyName"] == "Adams-Baker"

    disabled = client.patch_user(user_id, {"op": "Replace", "path": "active", "value": "False"})
    assert (disabled.status_code, disabled.json["active"]) == (200, False)
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["active"] is False
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == ["alice@contoso.com"]

    restored = client.patch_user(user_id, {"op": "Replace", "path": "active", "value": "True"})
    assert restored.json["active"] is True

    deleted = client.simulate_delete(f"{SCIM}/Users/{user_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").status_code == 404
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == []
    assert memory.dns() == sorted([SUFFIX, USER_BASE, DISABLED_BASE, f"ou=groups,{SUFFIX}"])


# --- create --------------------------------------------------------------------------------------


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
    """SCIM id = entryUUID (DESIGN 3.5), so it never depends on the name."""
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
    client = ScimClient(create_app(settings, memory, user_map))
    body = create(client, {"userName": "u@contoso.com"})
    assert body["meta"]["location"] == f"https://scim.example.com/scim/v2/Users/{body['id']}"


# --- read ----------------------------------------------------------------------------------------


def test_get_by_id_returns_the_resource(client: ScimClient, alice: dict[str, Any]) -> None:
    """RFC 7644 3.4.1; [D1] 2.9."""
    result = client.simulate_get(f"{SCIM}/Users/{alice['id']}")
    assert result.status_code == 200
    assert result.headers["Content-Type"] == SCIM_JSON
    assert result.json == alice


@pytest.mark.parametrize("user_id", [GUID, "not-a-uuid", "%00"])
def test_an_unknown_id_is_404_with_a_scim_error(
    client: ScimClient, alice: dict[str, Any], user_id: str
) -> None:
    """[D1] rule 3: GET /Users/{unknown} is 404 with an Error body (no scimType, RFC 7644 3.12)."""
    assert_scim_error(client.simulate_get(f"{SCIM}/Users/{user_id}"), 404, None, "not found")


def test_a_trailing_slash_and_stray_query_parameters_are_tolerated(
    client: ScimClient, alice: dict[str, Any]
) -> None:
    """Q25: the Tenant URL may carry ?aadOptscim062020, which must not become a 400 (inference in 1.1)."""
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}/").status_code == 200
    assert client.simulate_get(f"{SCIM}/Users", query_string="aadOptscim062020").status_code == 200
    result = client.simulate_get(
        f"{SCIM}/Users", query_string="aadOptscim062020&filter=userName+eq+%22alice%40contoso.com%22"
    )
    assert user_names(result) == ["alice@contoso.com"]


# --- list and filter -----------------------------------------------------------------------------

FILTERS = [
    pytest.param('userName eq "bob@contoso.com"', ["bob@contoso.com"], id="D1-userName-eq"),
    pytest.param('userName eq "BOB@CONTOSO.COM"', ["bob@contoso.com"], id="R2-T1-values-ignore-case"),
    pytest.param(
        'UserName EQ "bob@contoso.com"', ["bob@contoso.com"], id="R1-names-and-operators-ignore-case"
    ),
    pytest.param('externalId eq "ext-ann"', ["ann@contoso.com"], id="I17-externalId-eq"),
    pytest.param("externalId eq jyoung", ["bob@contoso.com"], id="D1-unquoted-value"),
    pytest.param(
        'emails[type eq "work"].value eq "ann.lee@contoso.com"', ["ann@contoso.com"], id="D1-work-email"
    ),
    pytest.param(
        'userName eq "ann@contoso.com" and externalId eq "ext-ann"', ["ann@contoso.com"], id="D18-and-matches"
    ),
    pytest.param('userName eq "ann@contoso.com" and externalId eq "jyoung"', [], id="D18-and-mismatch"),
    pytest.param('title eq "Engineer"', ["ann@contoso.com", "cyd@contoso.com"], id="two-hits"),
    pytest.param(
        'title eq "Engineer" and active eq false', ["cyd@contoso.com"], id="D1-disabled-users-are-found"
    ),
    pytest.param("active eq true", ["ann@contoso.com", "bob@contoso.com"], id="active"),
    pytest.param(
        'userName sw "b" or externalId eq "ext-cyd"', ["bob@contoso.com", "cyd@contoso.com"], id="sw-or"
    ),
    pytest.param('emails co "fabrikam"', ["bob@contoso.com"], id="co"),
    pytest.param("emails pr", ["ann@contoso.com", "bob@contoso.com"], id="pr"),
    pytest.param('not (title eq "Engineer")', ["bob@contoso.com"], id="not"),
    pytest.param('title gt "F"', ["bob@contoso.com"], id="gt"),
    pytest.param(f'userName eq "{GUID}"', [], id="D1-R7-test-connection-guid"),
    pytest.param(f'externalId eq "{GUID}"', [], id="I17-test-connection-on-externalId"),
    pytest.param(f'emails[type eq "work"].value eq "{GUID}"', [], id="test-connection-on-work-email"),
    pytest.param('emails[type eq "home"].value eq "ann.lee@contoso.com"', [], id="unmapped-element-type"),
]


@pytest.mark.parametrize(("flt", "expected"), FILTERS)
def test_filters_are_answered_by_the_directory(
    client: ScimClient, people: list[dict[str, Any]], flt: str, expected: list[str]
) -> None:
    """Entra's eq and and (Q13, [D1][D18][T1]); more operators (RFC 7644 3.4.2.2); "not found" is a
    200 with an empty list, never 404 (rule 2, [D1][D14])."""
    result = search(client, flt)
    assert result.headers["Content-Type"] == SCIM_JSON
    assert result.json["schemas"] == [LIST_RESPONSE]
    assert user_names(result) == expected
    assert result.json["totalResults"] == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "filter=userName+eq+%22bob%40contoso.com%22",
        "filter=userName%20eq%20%22bob@contoso.com%22",
        "filter=externalId+eq+%22jyoung%22",
    ],
)
def test_plus_encoded_query_strings_are_form_decoded(
    client: ScimClient, people: list[dict[str, Any]], query: str
) -> None:
    """Q15: Entra encodes spaces as '+' (observed filter=externalId+eq+%22...%22 [I16], [R7])."""
    assert user_names(client.simulate_get(f"{SCIM}/Users", query_string=query)) == ["bob@contoso.com"]


@pytest.mark.parametrize(
    ("flt", "detail"),
    [
        ('favouriteColour eq "blue"', "'favouriteColour' is not an attribute of a User"),
        ('nickName eq "x"', "nickName is not stored by the attribute map"),
        ('userName eq "x" and', "expected an attribute path"),
        ('userName xx "x"', "unknown operator 'xx'"),
        ('meta.lastModified gt "2011-05-13T04:42:34Z"', "filtering on meta is not supported"),
        ('userName eq "unterminated', "unterminated string"),
    ],
)
def test_a_filter_that_cannot_be_answered_is_400_invalid_filter_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, people: list[dict[str, Any]], flt: str, detail: str
) -> None:
    """RFC 7644 3.4.2.2 and 3.12: invalidFilter with the reason, never a wrong answer."""
    before = state(memory)
    assert_scim_error(search(client, flt), 400, "invalidFilter", detail)
    assert state(memory) == before


@pytest.mark.parametrize(
    ("params", "names", "total", "start"),
    [
        ({}, ["ann", "bob", "cyd"], 3, 1),
        ({"startIndex": "1", "count": "2"}, ["ann", "bob"], 3, 1),
        ({"startIndex": "2", "count": "2"}, ["bob", "cyd"], 3, 2),
        ({"startIndex": "3", "count": "5"}, ["cyd"], 3, 3),
        ({"startIndex": "4", "count": "5"}, [], 3, 4),
        ({"count": "0"}, [], 3, 1),
        ({"startIndex": "0"}, ["ann", "bob", "cyd"], 3, 1),
        ({"startIndex": "-3", "count": "1"}, ["ann"], 3, 1),
        ({"count": "-1"}, [], 3, 1),
    ],
)
def test_pagination_follows_start_index_and_count(
    *,
    client: ScimClient,
    people: list[dict[str, Any]],
    params: dict[str, str],
    names: list[str],
    total: int,
    start: int,
) -> None:
    """RFC 7644 3.4.2.4: 1-based startIndex (below 1 means 1), count (negative means 0), totalResults
    counts all; [R1] itemsPerPage equals the page size, [R2] startIndex is echoed."""
    result = client.simulate_get(f"{SCIM}/Users", params=params)
    assert [name.split("@")[0] for name in user_names(result)] == names
    assert result.json["totalResults"] == total
    assert result.json["itemsPerPage"] == len(names)
    assert result.json["startIndex"] == start


@pytest.mark.parametrize("params", [{"count": "ten"}, {"startIndex": "1.5"}])
def test_pagination_parameters_that_are_not_integers_are_400(
    client: ScimClient, people: list[dict[str, Any]], params: dict[str, str]
) -> None:
    """A client error is named, not guessed at (RFC 7644 3.4.2.4)."""
    assert_scim_error(
        client.simulate_get(f"{SCIM}/Users", params=params), 400, "invalidValue", "must be an integer"
    )


PROJECTIONS = [
    pytest.param({"attributes": "userName"}, {"schemas", "id", "userName"}, id="attributes"),
    pytest.param(
        {"attributes": "USERNAME,displayName"}, {"schemas", "id", "userName", "displayName"}, id="any-case"
    ),
    pytest.param(
        {"excludedAttributes": "emails,name"},
        {
            "schemas",
            "id",
            "userName",
            "externalId",
            "displayName",
            "title",
            ENTERPRISE_USER,
            "active",
            "meta",
        },
        id="excludedAttributes",
    ),
    pytest.param({"excludedAttributes": "id,schemas"}, None, id="id-and-schemas-are-always-returned"),
]


@pytest.mark.parametrize(("params", "keys"), PROJECTIONS)
def test_attributes_and_excluded_attributes_project_single_resources_and_lists(
    client: ScimClient, alice: dict[str, Any], params: dict[str, str], keys: set[str] | None
) -> None:
    """RFC 7644 3.9 (and 3.4.2.5 for lists); id and schemas are always returned (RFC 7643 7)."""
    single = client.simulate_get(f"{SCIM}/Users/{alice['id']}", params=params).json
    listed = client.simulate_get(f"{SCIM}/Users", params=params).json["Resources"][0]
    expected = keys if keys is not None else set(alice)
    assert set(single) == expected
    assert listed == single


def test_attributes_may_name_sub_attributes_and_extension_attributes(
    client: ScimClient, alice: dict[str, Any]
) -> None:
    """RFC 7644 3.10: ``emails.value`` and ``urn:...:User:department`` name parts of attributes."""
    result = client.simulate_get(
        f"{SCIM}/Users/{alice['id']}",
        params={"attributes": f"emails.value,name.givenName,{ENTERPRISE_USER}:department"},
    ).json
    assert result["emails"] == [{"value": "alice@contoso.com"}]
    assert result["name"] == {"givenName": "Alice"}
    assert result[ENTERPRISE_USER] == {"department": "R&D"}


def test_the_returned_resource_of_a_write_is_projected_too(client: ScimClient, alice: dict[str, Any]) -> None:
    """RFC 7644 3.9 applies to POST, PUT and PATCH responses as well."""
    result = client.simulate_patch(
        f"{SCIM}/Users/{alice['id']}",
        params={"attributes": "title"},
        json={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]},
    )
    assert result.json == {"schemas": [CORE_USER, ENTERPRISE_USER], "id": alice["id"], "title": "CTO"}


# --- PATCH ---------------------------------------------------------------------------------------


def test_the_legacy_entra_update_patch_changes_exactly_those_attributes(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """[D1][D2]: capitalised ops, one per attribute, value-filter and URN paths."""
    result = client.patch_user(
        alice["id"],
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a.adams@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Adams-Baker"},
        {"op": "Replace", "path": "displayName", "value": "Alice Adams-Baker"},
        {"op": "Replace", "path": "externalId", "value": "aadams"},
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "10043"},
    )
    assert result.status_code == 200
    assert result.headers["Content-Type"] == SCIM_JSON
    raw = memory.raw(dn_of(memory, alice["id"]))
    assert (raw["mail"], raw["sn"], raw["displayname"], raw["scimexternalid"], raw["employeenumber"]) == (
        ["a.adams@contoso.com"],
        ["Adams-Baker"],
        ["Alice Adams-Baker"],
        ["aadams"],
        ["10043"],
    )
    assert raw["cn"] == ["Alice Adams"]  # not sent, so not touched
    assert result.json == client.simulate_get(f"{SCIM}/Users/{alice['id']}").json


def test_the_flag_form_pathless_replace_with_dotted_and_urn_keys(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """aadOptscim062020: one path-less replace whose keys are paths [D2][I5][I6][I7] (Q4, Q5)."""
    result = client.patch_user(
        alice["id"],
        {
            "op": "replace",
            "value": {
                "displayName": "Alice Adams-Baker",
                "name.givenName": "Alicia",
                "name.familyName": "Adams-Baker",
                f"{ENTERPRISE_USER}:employeeNumber": "10043",
                ENTERPRISE_USER: {"department": "Sales"},
            },
        },
    )
    assert result.status_code == 200
    raw = memory.raw(dn_of(memory, alice["id"]))
    assert (raw["givenname"], raw["sn"], raw["employeenumber"], raw["departmentnumber"]) == (
        ["Alicia"],
        ["Adams-Baker"],
        ["10043"],
        ["Sales"],
    )
    assert "name.givenName" not in result.json


@pytest.mark.parametrize("op", ["Add", "Replace", "add", "replace"])
@pytest.mark.parametrize(
    ("path", "ldap"),
    [
        ('emails[type eq "work"].value', "mail"),
        ('phoneNumbers[type eq "mobile"].value', "mobile"),
        ('addresses[type eq "work"].locality', "l"),
    ],
)
def test_a_value_filter_path_creates_the_element_when_it_is_missing(
    client: ScimClient, memory: InMemoryDirectory, op: str, path: str, ldap: str
) -> None:
    """Q6: add/replace on ``emails[type eq "work"].value`` on a user without one creates it [I19][T1]."""
    user = create(client, {"userName": "u@contoso.com"})
    result = client.patch_user(user["id"], {"op": op, "path": path, "value": "New-Value 1"})
    assert result.status_code == 200
    assert memory.raw(f"uid=u@contoso.com,{USER_BASE}")[ldap] == ["New-Value 1"]


def test_remove_with_a_value_clears_the_work_email(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Q7/Q24: ``Remove`` + path + the old value removes it, it does not set it [R8]."""
    result = client.patch_user(
        alice["id"], {"op": "Remove", "path": 'emails[type eq "work"].value', "value": "alice@contoso.com"}
    )
    assert result.status_code == 200
    assert "emails" not in result.json
    assert "mail" not in memory.raw(dn_of(memory, alice["id"]))


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "title"},
        {"op": "replace", "path": "title", "value": ""},
        {"op": "replace", "path": "title", "value": None},
        {"op": "replace", "value": {"title": None}},
    ],
)
def test_clearing_an_attribute_removes_it_from_the_entry(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], operation: dict[str, Any]
) -> None:
    """Q24: "", null and remove all clear; the attribute reads back absent [R2]."""
    result = client.patch_user(alice["id"], operation)
    assert result.status_code == 200
    assert "title" not in result.json
    assert "title" not in memory.raw(dn_of(memory, alice["id"]))


SAME_TWICE = [
    pytest.param([{"op": "Replace", "path": "title", "value": "CTO"}], id="legacy-replace"),
    pytest.param([{"op": "Replace", "path": "active", "value": "False"}], id="D2-disable"),
    pytest.param(
        [
            {
                "op": "replace",
                "value": {"displayName": "A", "name.givenName": "B", f"{ENTERPRISE_USER}:department": "C"},
            }
        ],
        id="D2-flag-pathless-replace",
    ),
    pytest.param(
        [{"op": "add", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1 555 0100"}], id="I19-create"
    ),
    pytest.param(
        [{"op": "Remove", "path": 'emails[type eq "work"].value', "value": "alice@contoso.com"}], id="R8"
    ),
    pytest.param([{"op": "Replace", "path": "userName", "value": "alice.adams@contoso.com"}], id="D1-rename"),
]


@pytest.mark.parametrize("operations", SAME_TWICE)
def test_a_second_identical_patch_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], operations: list[dict[str, Any]]
) -> None:
    """Read, patch, diff, write: Entra's repeated cycle costs no directory write (Q22)."""
    first = client.patch_user(alice["id"], *operations)
    assert first.status_code == 200
    before = state(memory)
    second = client.patch_user(alice["id"], *operations)
    assert second.status_code == 200
    assert state(memory) == before
    assert second.json == first.json


def test_a_patch_that_sets_what_is_there_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Entra's periodic ``active: "True"`` PATCH on an active user [I28] is no write."""
    before = state(memory)
    for operation in (
        {"op": "Replace", "path": "active", "value": "True"},
        {"op": "Replace", "path": "displayName", "value": "Alice Adams"},
        {"op": "Add", "path": "emails", "value": [{"type": "work", "value": "alice@contoso.com"}]},
    ):
        assert client.patch_user(alice["id"], operation).status_code == 200
    assert state(memory) == before


def test_a_rename_moves_the_entry_and_keeps_the_id(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """A change of userName is a modify-DN; the SCIM id (entryUUID) never changes (DESIGN 3, [D1])."""
    result = client.patch_user(
        alice["id"], {"op": "Replace", "path": "userName", "value": "a.adams@contoso.com"}
    )
    assert result.status_code == 200
    assert result.json["id"] == alice["id"]
    assert result.json["userName"] == "a.adams@contoso.com"
    assert dn_of(memory, alice["id"]) == f"uid=a.adams@contoso.com,{USER_BASE}"
    assert f"uid=alice@contoso.com,{USER_BASE}" not in memory.dns()
    assert memory.raw(f"uid=a.adams@contoso.com,{USER_BASE}")["uid"] == ["a.adams@contoso.com"]
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}").json["userName"] == "a.adams@contoso.com"
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == []


def test_a_case_only_rename_keeps_the_new_spelling(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Values come back exactly as sent (Q22), also when only their case changed."""
    result = client.patch_user(
        alice["id"], {"op": "Replace", "path": "userName", "value": "Alice@Contoso.com"}
    )
    assert result.json["userName"] == "Alice@Contoso.com"
    assert memory.raw(dn_of(memory, alice["id"]))["uid"] == ["Alice@Contoso.com"]


def test_a_rename_onto_a_taken_username_is_409_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Uniqueness of userName (RFC 7643 4.1.1) holds across renames."""
    other = create(client, {"userName": "bob@contoso.com"})
    before = state(memory)
    result = client.patch_user(
        other["id"], {"op": "Replace", "path": "userName", "value": "ALICE@contoso.com"}
    )
    assert_scim_error(result, 409, "uniqueness", "already taken")
    assert state(memory) == before


PATCH_ERRORS = [
    pytest.param(
        [{"op": "merge", "path": "title", "value": "x"}],
        400,
        "invalidSyntax",
        "must be add, replace or remove",
        id="unknown-op",
    ),
    pytest.param([{"op": "remove"}], 400, "noTarget", "remove needs a path", id="3.5.2.2-pathless-remove"),
    pytest.param(
        [{"op": "replace", "path": "id", "value": "x"}], 400, "mutability", "id is read-only", id="read-only"
    ),
    pytest.param(
        [{"op": "replace", "path": "emails[type eq", "value": "x"}],
        400,
        "invalidPath",
        "invalid path",
        id="bad-path",
    ),
    pytest.param(
        [{"op": "replace", "path": 'emails[value co "zz"].value', "value": "x"}],
        400,
        "noTarget",
        "no value matches",
        id="3.5.2.3-no-target",
    ),
    pytest.param(
        [{"op": "replace", "path": "active", "value": "nope"}],
        400,
        "invalidValue",
        "true or false",
        id="not-a-boolean",
    ),
    pytest.param(
        [{"op": "remove", "path": "userName"}], 400, "invalidValue", "userName is required", id="required"
    ),
    pytest.param(
        [
            {"op": "replace", "path": "title", "value": "CTO"},
            {"op": "replace", "path": "name.nope", "value": "x"},
        ],
        400,
        "invalidPath",
        "Operations[1]",
        id="atomic-second-op-fails",
    ),
]


@pytest.mark.parametrize(("operations", "status", "scim_type", "detail"), PATCH_ERRORS)
def test_a_patch_that_cannot_apply_is_a_scim_error_and_writes_nothing(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    alice: dict[str, Any],
    operations: list[dict[str, Any]],
    status: int,
    scim_type: str,
    detail: str,
) -> None:
    """RFC 7644 3.5.2 and 3.12; a PATCH is atomic (Q10): a failing operation leaves everything as it was."""
    before = state(memory)
    assert_scim_error(client.patch_user(alice["id"], *operations), status, scim_type, detail)
    assert state(memory) == before


@pytest.mark.parametrize("body", [{"schemas": [PATCH_OP]}, {"Operations": []}, ["op"]])
def test_a_body_that_is_no_patch_op_is_400_invalid_syntax(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], body: Any
) -> None:
    """RFC 7644 3.5.2: the body is a PatchOp message with Operations."""
    before = state(memory)
    result = client.simulate_patch(f"{SCIM}/Users/{alice['id']}", json=body)
    assert_scim_error(result, 400, "invalidSyntax", "")
    assert state(memory) == before


def test_patch_and_put_and_delete_of_an_unknown_id_are_404(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """RFC 7644 3.12; a linked id that is gone is Entra's InvalidAnchor [D13]."""
    before = state(memory)
    patch = client.patch_user(GUID, {"op": "replace", "path": "title", "value": "x"})
    put = client.simulate_put(f"{SCIM}/Users/{GUID}", json={"userName": "u@contoso.com"})
    delete = client.simulate_delete(f"{SCIM}/Users/{GUID}")
    for result in (patch, put, delete):
        assert_scim_error(result, 404, None, f"User {GUID} not found")
    assert state(memory) == before


def test_adding_an_email_of_a_type_the_user_has_is_never_silently_dropped(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Q28: one element per type [D1]; an add of another work email either replaces the stored one
    or is refused with 400, but is never answered 200 while nothing changed."""
    result = client.patch_user(
        alice["id"], {"op": "add", "path": "emails", "value": [{"type": "work", "value": "new@contoso.com"}]}
    )
    stored = memory.raw(dn_of(memory, alice["id"]))["mail"]
    assert result.status_code == 400 and result.json["scimType"] == "invalidValue"
    assert 'elements of type "work"' in result.json["detail"]
    assert stored == ["alice@contoso.com"]


# --- PUT -----------------------------------------------------------------------------------------


def test_put_replaces_the_resource_clearing_absent_attributes(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """RFC 7644 3.5.1: attributes missing from a PUT are cleared; active absent keeps the state."""
    result = client.simulate_put(
        f"{SCIM}/Users/{alice['id']}", json={"userName": "alice@contoso.com", "displayName": "Alice A."}
    )
    assert result.status_code == 200
    assert result.headers["Content-Type"] == SCIM_JSON
    raw = memory.raw(dn_of(memory, alice["id"]))
    assert raw["displayname"] == ["Alice A."]
    for gone in ("title", "mail", "scimexternalid", "employeenumber", "givenname"):
        assert gone not in raw
    assert result.json["active"] is True


def test_an_identical_put_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """[R1] tests PUT; a PUT of what is stored is no write."""
    before = state(memory)
    result = client.simulate_put(f"{SCIM}/Users/{alice['id']}", json=ENTRA_POST)
    assert result.status_code == 200
    assert state(memory) == before
    assert client.simulate_put(f"{SCIM}/Users/{alice['id']}", json=alice).status_code == 200
    assert state(memory) == before


def test_put_can_rename_and_disable(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """A PUT with a new userName renames (id stays); active=false disables."""
    result = client.simulate_put(
        f"{SCIM}/Users/{alice['id']}", json={**ENTRA_POST, "userName": "aa@contoso.com", "active": "False"}
    )
    assert (result.status_code, result.json["id"], result.json["active"]) == (200, alice["id"], False)
    assert memory.raw(f"uid=aa@contoso.com,{USER_BASE}")["pwdaccountlockedtime"] == [PPOLICY_LOCK]


# --- DELETE and deprovisioning policies ----------------------------------------------------------


def test_delete_removes_the_entry_and_a_second_delete_is_404(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """[D1] hard delete is 204; delete-twice is 404 (RFC 7644 3.6, [T1] preview tests)."""
    dn = dn_of(memory, alice["id"])
    assert client.simulate_delete(f"{SCIM}/Users/{alice['id']}").status_code == 204
    assert dn not in memory.dns()
    assert_scim_error(client.simulate_delete(f"{SCIM}/Users/{alice['id']}"), 404, None, "not found")


def test_by_default_deactivation_locks_with_ppolicy_and_activation_unlocks(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """on_deactivate: disable (default), method ppolicy: pwdAccountLockedTime 000001010000Z [D2]."""
    dn = dn_of(memory, alice["id"])
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert memory.raw(dn)["pwdaccountlockedtime"] == [PPOLICY_LOCK]
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert "pwdaccountlockedtime" not in memory.raw(dn)


def test_a_disabled_user_stays_readable_by_id_and_by_filter(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Q23 / rule 13: never 404 a disabled user, or Entra files InvalidAnchor [D1][D13]."""
    client.patch_user(alice["id"], {"op": "replace", "path": "active", "value": False})
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}").json["active"] is False
    for flt in (
        'userName eq "alice@contoso.com"',
        'externalId eq "alice"',
        'emails[type eq "work"].value eq "alice@contoso.com"',
        "active eq false",
    ):
        assert user_names(search(client, flt)) == ["alice@contoso.com"]


def test_on_deactivate_delete_deletes_the_entry(make_client: MakeClient, memory: InMemoryDirectory) -> None:
    """deprovisioning.on_deactivate: delete turns Entra's unassign into a delete (204, nothing to show)."""
    client = make_client(on_deactivate="delete")
    user = create(client, {"userName": "u@contoso.com"})
    result = client.patch_user(user["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert result.status_code == 204
    assert f"uid=u@contoso.com,{USER_BASE}" not in memory.dns()
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").status_code == 404


def test_on_delete_disable_keeps_the_entry_locked(make_client: MakeClient, memory: InMemoryDirectory) -> None:
    """deprovisioning.on_delete: disable turns Entra's hard delete into a lock; the user stays readable."""
    client = make_client(on_delete="disable")
    user = create(client, {"userName": "u@contoso.com"})
    assert client.simulate_delete(f"{SCIM}/Users/{user['id']}").status_code == 204
    assert memory.raw(f"uid=u@contoso.com,{USER_BASE}")["pwdaccountlockedtime"] == [PPOLICY_LOCK]
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").json["active"] is False
    before = state(memory)
    assert client.simulate_delete(f"{SCIM}/Users/{user['id']}").status_code == 204
    assert state(memory) == before


@pytest.mark.parametrize(
    ("active", "enabled"),
    [
        ({"method": "attribute", "attribute": "nsAccountLock", "disabled_value": "TRUE"}, None),
        (
            {
                "method": "attribute",
                "attribute": "nsAccountLock",
                "disabled_value": True,
                "enabled_value": "FALSE",
            },
            ["FALSE"],
        ),
    ],
)
def test_the_attribute_disable_method_sets_and_clears_its_attribute(
    make_client: MakeClient,
    map_with: MapWith,
    memory: InMemoryDirectory,
    active: dict[str, Any],
    enabled: Any,
) -> None:
    """user.active.method: attribute (e.g. 389-DS nsAccountLock), with and without enabled_value."""
    client = make_client(map_with({"active": active}))
    user = create(client, {"userName": "u@contoso.com"})
    dn = f"uid=u@contoso.com,{USER_BASE}"
    disabled = client.patch_user(user["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert disabled.json["active"] is False
    assert memory.raw(dn)["nsaccountlock"] == ["TRUE"]
    assert "pwdaccountlockedtime" not in memory.raw(dn)
    assert user_names(search(client, "active eq false")) == ["u@contoso.com"]
    enabled_result = client.patch_user(user["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert enabled_result.json["active"] is True
    assert memory.raw(dn).get("nsaccountlock") == enabled
    assert user_names(search(client, "active eq true")) == ["u@contoso.com"]


def test_disabled_base_moves_disabled_users_and_back_on_enable(
    make_client: MakeClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """deprovisioning.disabled_base: disabled users live under their own OU; the id stays, and they
    stay readable (Q23)."""
    client = make_client(disabled_base=DISABLED_BASE)
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "False"})
    moved = f"uid=alice@contoso.com,{DISABLED_BASE}"
    assert dn_of(memory, alice["id"]) == moved
    assert memory.raw(moved)["pwdaccountlockedtime"] == [PPOLICY_LOCK]
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}").json["active"] is False
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == ["alice@contoso.com"]

    before = state(memory)
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert state(memory) == before

    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert dn_of(memory, alice["id"]) == f"uid=alice@contoso.com,{USER_BASE}"
    assert "pwdaccountlockedtime" not in memory.raw(f"uid=alice@contoso.com,{USER_BASE}")


def test_disabled_base_receives_users_created_inactive_and_users_deleted_under_on_delete_disable(
    make_client: MakeClient, memory: InMemoryDirectory
) -> None:
    """Both ways into the disabled OU: POST active=false, and DELETE with on_delete: disable."""
    client = make_client(disabled_base=DISABLED_BASE, on_delete="disable")
    inactive = create(client, {"userName": "in@contoso.com", "active": "False"})
    active = create(client, {"userName": "out@contoso.com"})
    assert dn_of(memory, inactive["id"]) == f"uid=in@contoso.com,{DISABLED_BASE}"
    assert client.simulate_delete(f"{SCIM}/Users/{active['id']}").status_code == 204
    assert dn_of(memory, active["id"]) == f"uid=out@contoso.com,{DISABLED_BASE}"
    assert user_names(search(client, "active eq false")) == ["in@contoso.com", "out@contoso.com"]


def test_a_user_with_child_entries_cannot_be_deleted_and_the_reason_is_shown(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """The directory's refusal is a 403 with its reason in plain words (DESIGN 4)."""
    memory.ensure(f"cn=device,{dn_of(memory, alice['id'])}", {"objectClass": ["device"]})
    before = state(memory)
    assert_scim_error(client.simulate_delete(f"{SCIM}/Users/{alice['id']}"), 403, None, "not a leaf entry")
    assert state(memory) == before


# --- strip_suffix --------------------------------------------------------------------------------


def test_strip_suffix_stores_the_short_uid_and_reads_back_the_upn(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """userName: {ldap: uid, strip_suffix: "@contoso.com"}: jdoe@contoso.com lives as uid=jdoe
    (config/maps/openldap.yaml)."""
    client = make_client(map_with(STRIP))
    user = create(client, {"userName": "jdoe@contoso.com"})
    assert user["userName"] == "jdoe@contoso.com"
    assert dn_of(memory, user["id"]) == f"uid=jdoe,{USER_BASE}"
    assert memory.raw(f"uid=jdoe,{USER_BASE}")["uid"] == ["jdoe"]
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").json["userName"] == "jdoe@contoso.com"
    assert user_names(search(client, 'userName eq "JDoe@contoso.com"')) == ["jdoe@contoso.com"]

    other = create(client, {"userName": "bob@fabrikam.com"})
    assert dn_of(memory, other["id"]) == f"uid=bob@fabrikam.com,{USER_BASE}"
    assert user_names(search(client, 'userName eq "bob@fabrikam.com"')) == ["bob@fabrikam.com"]


def test_strip_suffix_answers_test_connection_with_an_empty_list(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """A random GUID has no '@', so it cannot be stored; the filter still answers 200 + empty (rule 1,
    [D1][R7])."""
    client = make_client(map_with(STRIP))
    create(client, {"userName": "jdoe@contoso.com"})
    result = client.simulate_get(f"{SCIM}/Users", query_string=f"filter=userName+eq+%22{GUID}%22")
    assert result.status_code == 200
    assert result.json["totalResults"] == 0
    assert result.json["Resources"] == []


def test_strip_suffix_refuses_a_username_without_at_and_writes_nothing(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """Values without '@' are refused (config/maps/openldap.yaml): 400 invalidValue, on POST and PATCH."""
    client = make_client(map_with(STRIP))
    user = create(client, {"userName": "jdoe@contoso.com"})
    before = state(memory)
    assert_scim_error(
        client.post_user({"userName": "jdoe"}), 400, "invalidValue", "must end with @contoso.com"
    )
    result = client.patch_user(user["id"], {"op": "replace", "path": "userName", "value": "jdoe"})
    assert_scim_error(result, 400, "invalidValue", "must end with @contoso.com")
    assert state(memory) == before


def test_strip_suffix_renames_change_the_short_uid(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """A rename under strip_suffix is a modify-DN to the new short uid; the id stays."""
    client = make_client(map_with(STRIP))
    user = create(client, {"userName": "jdoe@contoso.com"})
    result = client.patch_user(user["id"], {"op": "Replace", "path": "userName", "value": "jane@contoso.com"})
    assert (result.json["id"], result.json["userName"]) == (user["id"], "jane@contoso.com")
    assert dn_of(memory, user["id"]) == f"uid=jane,{USER_BASE}"


# --- bad input, auth and headers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('{"userName": "u@contoso.com"', "the body is not valid JSON"),
        ("userName=u", "the body is not valid JSON"),
        ("", "the body is not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ('["userName"]', "must be a JSON object"),
    ],
)
def test_a_malformed_body_is_400_invalid_syntax_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, body: str, detail: str
) -> None:
    """[R1] "malformed JSON -> 400"; RFC 7644 3.12 invalidSyntax."""
    before = state(memory)
    result = client.simulate_post(f"{SCIM}/Users", body=body, headers={"Content-Type": SCIM_JSON})
    assert_scim_error(result, 400, "invalidSyntax", detail)
    assert state(memory) == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None]
)
def test_a_body_that_is_not_json_is_415_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], content_type: str | None
) -> None:
    """Only application/scim+json and application/json are read (RFC 7644 3.1, [I27])."""
    before = state(memory)
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"userName": "u@contoso.com"})
    for result in (
        client.simulate_post(f"{SCIM}/Users", body=body, headers=headers),
        client.simulate_put(f"{SCIM}/Users/{alice['id']}", body=body, headers=headers),
        client.simulate_patch(f"{SCIM}/Users/{alice['id']}", body=body, headers=headers),
    ):
        assert_scim_error(result, 415, None, "application/scim+json")
    assert state(memory) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/scim+json", "application/scim+json; charset=utf-8", "application/json", "Application/JSON"],
)
def test_both_json_media_types_are_accepted(client: ScimClient, content_type: str) -> None:
    """[D1] sends application/scim+json, the validator adds charset=utf-8 [T1]; application/json too."""
    result = client.simulate_post(
        f"{SCIM}/Users", body='{"userName": "u@contoso.com"}', headers={"Content-Type": content_type}
    )
    assert result.status_code == 201


def test_a_body_over_the_size_limit_is_413_and_writes_nothing(
    memory: InMemoryDirectory, user_map: ResourceMap
) -> None:
    """server.max_body_bytes: larger bodies are refused before they are parsed (RFC 7644 3.12: 413)."""
    settings = make_settings()
    settings = replace(settings, server=replace(settings.server, max_body_bytes=64))
    client = ScimClient(create_app(settings, memory, user_map))
    small = create(client, {"userName": "u@contoso.com"})
    before = state(memory)
    big = {"userName": "v@contoso.com", "displayName": "x" * 100}
    assert_scim_error(client.post_user(big), 413, None, "the limit is 64")
    put = client.simulate_put(f"{SCIM}/Users/{small['id']}", json=big)
    assert_scim_error(put, 413, None, "the limit is 64")
    patch = client.patch_user(small["id"], {"op": "replace", "path": "displayName", "value": "x" * 100})
    assert_scim_error(patch, 413, None, "the limit is 64")
    assert state(memory) == before


REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/Users", None),
    ("GET", "/Users/{id}", None),
    ("POST", "/Users", {"userName": "u@contoso.com"}),
    ("PUT", "/Users/{id}", {"userName": "u@contoso.com"}),
    ("PATCH", "/Users/{id}", {"Operations": [{"op": "replace", "path": "title", "value": "x"}]}),
    ("DELETE", "/Users/{id}", None),
    ("GET", "/Nope", None),
]


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "send the secret token as 'Authorization: Bearer <token>'"),
        ("Bearer", "send the secret token"),
        (f"Basic {TOKEN}", "send the secret token"),
        ("Bearer wrong-token", "the bearer token is not valid"),
        (f"Bearer {TOKEN}x", "the bearer token is not valid"),
        (f"Bearer {hashlib.sha256(TOKEN.encode()).hexdigest()}", "the bearer token is not valid"),
    ],
)
@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_a_missing_or_wrong_token_is_401_for_every_request_and_writes_nothing(
    *,
    memory: InMemoryDirectory,
    user_map: ResourceMap,
    alice: dict[str, Any],
    authorization: str | None,
    detail: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """Rule 17: ``Authorization: Bearer <token>`` on every request [D1]; RFC 6750 3: WWW-Authenticate."""
    anonymous = falcon.testing.TestClient(create_app(make_settings(), memory, user_map))
    headers = {"Authorization": authorization} if authorization else {}
    before = state(memory)
    result = anonymous.simulate_request(
        method, f"{SCIM}{path.format(id=alice['id'])}", json=body, headers=headers
    )
    assert_scim_error(result, 401, None, detail)
    refused = ', error="invalid_token"' if detail == "the bearer token is not valid" else ""  # RFC 6750 3
    assert result.headers["WWW-Authenticate"] == f'Bearer realm="scim"{refused}'
    assert state(memory) == before


def test_the_bearer_scheme_is_case_insensitive(memory: InMemoryDirectory, user_map: ResourceMap) -> None:
    """RFC 6750 2.1 / RFC 7235 2.1: the auth scheme is case-insensitive."""
    anonymous = falcon.testing.TestClient(create_app(make_settings(), memory, user_map))
    result = anonymous.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"bearer {TOKEN}"})
    assert result.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("GET", "/scim/v2/Groupz", 404, "no such endpoint: /scim/v2/Groupz"),
        ("DELETE", "/scim/v2/Users", 405, "DELETE is not allowed on /scim/v2/Users"),
        ("PUT", "/scim/v2/Users", 405, "PUT is not allowed"),
        ("POST", "/scim/v2/Users/{id}", 405, "POST is not allowed"),
    ],
)
def test_unknown_routes_and_methods_are_scim_errors(
    *, client: ScimClient, alice: dict[str, Any], method: str, path: str, status: int, detail: str
) -> None:
    """Falcon's own errors are rendered as SCIM Error bodies too (RFC 7644 3.12)."""
    result = client.simulate_request(method, path.format(id=alice["id"]), json={})
    assert_scim_error(result, status, None, detail)


def test_the_request_id_is_echoed_and_a_missing_or_unsafe_one_is_replaced(client: ScimClient) -> None:
    """X-Request-ID ties a response to its log lines; a hostile one never reaches the log."""
    assert (
        client.simulate_get(f"{SCIM}/Users", headers={"X-Request-ID": "entra-7f3a.1"}).headers["X-Request-ID"]
        == "entra-7f3a.1"
    )
    for given in (None, "has spaces", "x" * 65, 'quote"', "new\nline"):
        headers = {"X-Request-ID": given} if given else {}
        echoed = client.simulate_get(f"{SCIM}/Users", headers=headers).headers["X-Request-ID"]
        assert echoed != given
        assert len(echoed) == 32 and all(c in "0123456789abcdef" for c in echoed)


def test_error_responses_carry_the_request_id_too(memory: InMemoryDirectory, user_map: ResourceMap) -> None:
    """Also a 401 answered before any route runs can be found in the log by its id."""
    anonymous = falcon.testing.TestClient(create_app(make_settings(), memory, user_map))
    result = anonymous.simulate_get(f"{SCIM}/Users", headers={"X-Request-ID": "req-401"})
    assert (result.status_code, result.headers["X-Request-ID"]) == (401, "req-401")


class Clock:
    """A clock for the in-memory directory that can be made to fail while it writes: a fault injected
    through the adapter's own collaborator, to reach the error handlers without mocking our code."""

    def __init__(self) -> None:
        self.failure: Exception | None = None

    def __call__(self) -> datetime:
        if self.failure is not None:
            raise self.failure
        return datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


INTERNALS = f"internal state at /srv/bridge; bind cn=admin,{SUFFIX} with {TOKEN}"
FAILURES = [
    pytest.param(
        RuntimeError(INTERNALS),
        500,
        None,
        "internal error; the bridge's log has the details under request id req-x",
        id="anything-else-is-500-with-a-fixed-message",
    ),
    pytest.param(
        DirectoryUnavailable(INTERNALS),
        503,
        None,
        "the directory is not reachable right now; retry later",
        id="directory-unreachable-is-503",
    ),
    pytest.param(
        ConstraintViolation("attribute 'mail' is not allowed by the schema"),
        400,
        "invalidValue",
        "the directory refused the change: attribute 'mail' is not allowed by the schema",
        id="constraint-violation-is-400-with-the-reason",
    ),
    pytest.param(
        DirectoryError(f"add uid=u@contoso.com,{USER_BASE}: invalidDNSyntax (invalid new RDN)"),
        400,
        "invalidValue",
        "the directory refused the change to userName (uid): invalidDNSyntax (invalid new RDN)",
        id="a-name-the-directory-cannot-take-is-400-naming-the-attribute",
    ),
    pytest.param(
        DirectoryError(f"add uid=u@contoso.com,{USER_BASE}: adminLimitExceeded"),
        400,
        "invalidValue",
        "the directory refused the change: adminLimitExceeded",
        id="a-value-over-an-administrative-limit-is-400",
    ),
    pytest.param(
        DirectoryError(f"add uid=u@contoso.com,{USER_BASE}: other"),
        500,
        None,
        "internal error; the bridge's log has the details under request id req-x",
        id="any-other-refusal-is-still-a-500",
    ),
]


@pytest.mark.parametrize(("failure", "status", "scim_type", "detail"), FAILURES)
def test_directory_failures_become_the_documented_errors_without_internals(
    *, user_map: ResourceMap, failure: Exception, status: int, scim_type: str | None, detail: str
) -> None:
    """DESIGN 4: unreachable is 503 + Retry-After, a constraint 400 invalidValue with the directory's
    reason, anything else 500 with a fixed message and the request id; tracebacks and internal
    messages go to the log only, never to the client."""
    clock = Clock()
    memory = InMemoryDirectory([SUFFIX, USER_BASE], clock=clock)
    client = ScimClient(create_app(make_settings(), memory, user_map))
    clock.failure = failure
    result = client.simulate_post(
        f"{SCIM}/Users", json={"userName": "u@contoso.com"}, headers={"X-Request-ID": "req-x"}
    )
    assert_scim_error(result, status, scim_type, detail)
    assert ("Retry-After" in result.headers) is (status == 503)
    for internal in ("RuntimeError", "/srv/bridge", "internal state", "cn=admin"):
        assert internal not in result.text
    assert memory.dns() == [SUFFIX, USER_BASE]


def test_the_in_memory_clock_stamps_meta(user_map: ResourceMap) -> None:
    """meta.created and lastModified come from the directory's timestamps (RFC 7643 3.1)."""
    memory = InMemoryDirectory([SUFFIX, USER_BASE], clock=Clock())
    client = ScimClient(create_app(make_settings(), memory, user_map))
    body = create(client, {"userName": "u@contoso.com"})
    assert (body["meta"]["created"], body["meta"]["lastModified"]) == (
        "2026-11-22T08:30:00Z",
        "2026-11-22T08:30:00Z",
    )


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


# --- added with the review of the first increment -------------------------------------------------


@pytest.mark.parametrize(
    "clearing", [{"op": "remove", "path": "active"}, {"op": "replace", "path": "active", "value": None}]
)
def test_clearing_active_is_refused_and_keeps_a_disabled_account_disabled(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], clearing: dict[str, Any]
) -> None:
    """Only an explicit false disables and only an explicit true enables: a removed or null active must
    never re-enable an account (Entra's validator nulls optional attributes [R2]). An account is always
    enabled or disabled, so the removal is refused, as RFC 7644 3.5.2.2 asks of a required attribute."""
    assert (
        client.patch_user(alice["id"], {"op": "replace", "path": "active", "value": "False"}).json["active"]
        is False
    )
    writes = memory.writes
    result = client.patch_user(alice["id"], clearing)
    assert (result.status_code, result.json["scimType"]) == (400, "mutability")
    assert "active cannot be removed" in result.json["detail"]
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}").json["active"] is False
    assert memory.writes == writes


@pytest.mark.parametrize("path", ["name", "name.familyName", "name.formatted"])
def test_removing_a_value_the_directory_requires_is_refused(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], path: str
) -> None:
    """sn and cn are required by person: the map fills them when a POST or PUT leaves them out, but a
    PATCH that removes them would answer 200 and read back a value the client did not send."""
    writes = memory.writes
    result = client.patch_user(alice["id"], {"op": "remove", "path": path})
    assert (result.status_code, result.json["scimType"]) == (400, "mutability")
    assert "cannot be removed" in result.json["detail"] and "name." in result.json["detail"]
    assert memory.writes == writes
    given = client.patch_user(alice["id"], {"op": "remove", "path": "name.givenName"})
    assert given.status_code == 200 and "givenName" not in given.json["name"]


@pytest.mark.parametrize(("value", "active"), [("0", False), ("1", True)])
def test_one_and_zero_strings_are_booleans_too(
    client: ScimClient, alice: dict[str, Any], value: str, active: bool
) -> None:
    """Accepted defensively, as entra-client.md section 2.6 suggests."""
    assert (
        client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": value}).json["active"]
        is active
    )


def test_a_doubled_slash_in_the_path_still_reaches_the_resource(
    client: ScimClient, alice: dict[str, Any]
) -> None:
    """A Tenant URL typed with a trailing slash gives /scim/v2//Users (entra-client.md 1.1)."""
    result = client.simulate_get(f"{SCIM}//Users/{alice['id']}")
    assert result.status_code == 200 and result.json["id"] == alice["id"]


def test_a_username_taken_in_another_case_is_a_conflict(client: ScimClient, alice: dict[str, Any]) -> None:
    """userName is unique ignoring case (RFC 7643 4.1.1, caseExact false)."""
    result = client.post_user({"userName": "ALICE@CONTOSO.COM"})
    assert result.status_code == 409 and result.json["scimType"] == "uniqueness"
