"""GET /Users: filters answered by the directory, paging, and attributes/excludedAttributes projection.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.directory.memory import InMemoryDirectory
from bridge.scim.schemas import CORE_USER, ENTERPRISE_USER, LIST_RESPONSE, PATCH_OP
from tests.conftest import (
    SCIM,
    ScimClient,
)
from tests.http.users.support import (
    GUID,
    SCIM_JSON,
    assert_scim_error,
    search,
    state,
    user_names,
)

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
