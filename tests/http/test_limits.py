"""Every limit on bad input at its boundary: exactly at the limit is served, one over is refused with the
status and scimType docs/operate.md names (issue #7, point 5). Against the in-memory app; the same limits
hold over slapd, where tests/integration/test_fuzz.py throws generated input at both. The nesting of a
value filter, which needs no request, is checked in tests/unit/test_limits.py."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.directory.memory import InMemoryDirectory
from bridge.http.media import MAX_JSON_DEPTH
from bridge.mapping.model import MapSet
from bridge.scim.canonical import MAX_OPERATIONS, MAX_VALUES
from bridge.scim.filter import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parse_filter
from bridge.scim.path import MAX_PATH_LENGTH, parse_path
from bridge.scim.schemas import ERROR, PATCH_OP
from tests.conftest import SCIM, ScimClient, make_settings

SCIM_JSON = {"Content-Type": "application/scim+json"}


def send(client: ScimClient, method: str, path: str, body: Any) -> Any:
    """``body`` as JSON with every non-ASCII character escaped, so that any string can be sent."""
    return client.simulate_request(method, f"{SCIM}{path}", body=json.dumps(body), headers=SCIM_JSON)


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def refused(response: Any, status: int, scim_type: str | None, detail: str) -> None:
    assert response.status_code == status, response.text
    body = response.json
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type, body
    assert detail in body["detail"], body["detail"]


@pytest.fixture
def user(client: ScimClient) -> str:
    response = send(client, "POST", "/Users", {"userName": "limits"})
    assert response.status_code == 201
    return str(response.json["id"])


# --- filters (RFC 7644 3.4.2.2) -------------------------------------------------------------------------


def _long_filter(length: int) -> str:
    head = 'userName eq "'
    return head + "a" * (length - len(head) - 1) + '"'


def test_a_filter_of_max_length_is_answered_and_one_character_more_is_invalid_filter(
    client: ScimClient,
) -> None:
    at_limit = _long_filter(MAX_FILTER_LENGTH)
    assert len(at_limit) == MAX_FILTER_LENGTH == 4096
    parse_filter(at_limit)
    answered = client.simulate_get(f"{SCIM}/Users", params={"filter": at_limit})
    assert answered.status_code == 200 and answered.json["totalResults"] == 0
    over = client.simulate_get(f"{SCIM}/Users", params={"filter": _long_filter(MAX_FILTER_LENGTH + 1)})
    refused(over, 400, "invalidFilter", "the filter is 4097 characters long; the limit is 4096")


@pytest.mark.parametrize(
    ("opener", "closer"),
    [("(", ")"), ("not (", ")")],
    ids=["parentheses", "not"],
)
def test_a_filter_nested_max_depth_levels_is_answered_and_one_more_is_invalid_filter(
    client: ScimClient, opener: str, closer: str
) -> None:
    def nested(levels: int) -> str:
        return opener * levels + 'userName eq "a"' + closer * levels

    assert MAX_FILTER_DEPTH == 32
    assert (
        client.simulate_get(f"{SCIM}/Users", params={"filter": nested(MAX_FILTER_DEPTH)}).status_code == 200
    )
    over = client.simulate_get(f"{SCIM}/Users", params={"filter": nested(MAX_FILTER_DEPTH + 1)})
    refused(over, 400, "invalidFilter", "the filter nests deeper than 32 levels")


# --- PATCH paths (RFC 7644 3.5.2) -----------------------------------------------------------------------


def _long_path(length: int) -> str:
    head = 'emails[value eq "'
    return head + "a" * (length - len(head) - 2) + '"]'


def test_a_path_of_max_length_is_taken_and_one_character_more_is_invalid_path(
    client: ScimClient, user: str
) -> None:
    at_limit = _long_path(MAX_PATH_LENGTH)
    assert len(at_limit) == MAX_PATH_LENGTH == 1024
    parse_path(at_limit)
    taken = send(client, "PATCH", f"/Users/{user}", patch({"op": "remove", "path": at_limit}))
    assert taken.status_code == 200, taken.text
    over = send(
        client, "PATCH", f"/Users/{user}", patch({"op": "remove", "path": _long_path(MAX_PATH_LENGTH + 1)})
    )
    refused(over, 400, "invalidPath", "the path is 1025 characters long; the limit is 1024")


# --- bodies -----------------------------------------------------------------------------------------------


def _nested(levels: int) -> Any:
    """A value that, as a member of the top-level object, makes the body ``levels`` containers deep."""
    value: Any = "deep"
    for _ in range(levels - 1):
        value = [value]
    return value


def test_a_body_nested_max_json_depth_levels_is_read_and_one_more_is_invalid_syntax(
    client: ScimClient,
) -> None:
    assert MAX_JSON_DEPTH == 32
    taken = send(client, "POST", "/Users", {"userName": "deep", "unknownAttribute": _nested(MAX_JSON_DEPTH)})
    assert taken.status_code == 201, taken.text
    over = send(
        client, "POST", "/Users", {"userName": "deeper", "unknownAttribute": _nested(MAX_JSON_DEPTH + 1)}
    )
    refused(over, 400, "invalidSyntax", "the body is nested too deeply: more than 32 levels")


def test_a_body_of_max_body_bytes_is_read_and_one_byte_more_is_413(client: ScimClient) -> None:
    limit = make_settings().server.max_body_bytes
    frame = json.dumps({"userName": "big", "unknownAttribute": ""})

    def body(size: int) -> str:
        return json.dumps({"userName": "big", "unknownAttribute": "x" * (size - len(frame))})

    assert len(body(limit)) == limit
    taken = client.simulate_post(f"{SCIM}/Users", body=body(limit), headers=SCIM_JSON)
    assert taken.status_code == 201, taken.text
    over = client.simulate_post(f"{SCIM}/Users", body=body(limit + 1), headers=SCIM_JSON)
    refused(over, 413, None, f"the body is {limit + 1} bytes; the limit is {limit}")


def test_a_patch_of_max_operations_is_applied_and_one_more_is_invalid_syntax(
    client: ScimClient, user: str
) -> None:
    assert MAX_OPERATIONS == 1_000
    operation = {"op": "replace", "path": "title", "value": "Engineer"}
    applied = send(client, "PATCH", f"/Users/{user}", patch(*[operation] * MAX_OPERATIONS))
    assert applied.status_code == 200 and applied.json["title"] == "Engineer", applied.text
    over = send(client, "PATCH", f"/Users/{user}", patch(*[operation] * (MAX_OPERATIONS + 1)))
    refused(
        over, 400, "invalidSyntax", "the PATCH has 1001 operations; at most 1000 are taken in one request"
    )


def _emails(count: int) -> list[dict[str, str]]:
    return [{"type": "other", "value": f"u{i}@example.org"} for i in range(count)]


def test_max_values_of_one_attribute_are_taken_and_one_more_is_invalid_value(
    client: ScimClient, user: str
) -> None:
    assert MAX_VALUES == 10_000
    taken = send(
        client,
        "PATCH",
        f"/Users/{user}",
        patch({"op": "add", "path": "emails", "value": _emails(MAX_VALUES)}),
    )
    assert taken.status_code == 200, taken.text
    over = send(
        client,
        "PATCH",
        f"/Users/{user}",
        patch({"op": "add", "path": "emails", "value": _emails(MAX_VALUES + 1)}),
    )
    refused(over, 400, "invalidValue", "Operations[0].value holds 10001 values; at most 10000")
    created = send(client, "POST", "/Users", {"userName": "many", "emails": _emails(MAX_VALUES)})
    assert created.status_code == 201, created.text
    refused(
        send(client, "POST", "/Users", {"userName": "more", "emails": _emails(MAX_VALUES + 1)}),
        400,
        "invalidValue",
        "emails holds 10001 values; at most 10000",
    )


def test_a_member_add_of_max_values_is_taken_and_one_more_is_invalid_value(
    client: ScimClient, user: str
) -> None:
    """The cap is per request, not per group: a larger group is filled by several PATCHes."""
    group = send(client, "POST", "/Groups", {"displayName": "big"}).json["id"]
    members = [{"value": user, "$ref": None}]
    taken = send(
        client,
        "PATCH",
        f"/Groups/{group}",
        patch({"op": "add", "path": "members", "value": members * MAX_VALUES}),
    )
    assert taken.status_code == 204, taken.text
    over = send(
        client,
        "PATCH",
        f"/Groups/{group}",
        patch({"op": "add", "path": "members", "value": members * (MAX_VALUES + 1)}),
    )
    refused(over, 400, "invalidValue", "Operations[0].value holds 10001 values; at most 10000")
    pathless = send(
        client,
        "PATCH",
        f"/Groups/{group}",
        patch({"op": "add", "value": {"members": members * (MAX_VALUES + 1)}}),
    )
    refused(pathless, 400, "invalidValue", "holds 10001 values")
    refused(
        send(client, "POST", "/Groups", {"displayName": "bigger", "members": members * (MAX_VALUES + 1)}),
        400,
        "invalidValue",
        "members holds 10001 values",
    )


def test_count_is_served_up_to_max_results_and_capped_beyond(memory: InMemoryDirectory, maps: MapSet) -> None:
    """RFC 7644 3.4.2.4: a count over what the server returns is not an error; the page is shorter."""
    settings = make_settings()
    settings = replace(settings, server=replace(settings.server, max_results=2))
    client = ScimClient(create_app(create_services(settings, memory, maps)))
    for name in ("a", "b", "c"):
        assert send(client, "POST", "/Users", {"userName": name}).status_code == 201
    for count, served in (("2", 2), ("3", 2), (str(10**30), 2), ("-1", 0)):
        page = client.simulate_get(f"{SCIM}/Users", params={"count": count})
        assert page.status_code == 200 and page.json["itemsPerPage"] == served, (count, page.json)
        assert page.json["totalResults"] == 3
    refused(
        client.simulate_get(f"{SCIM}/Users", params={"count": "1e3"}),
        400,
        "invalidValue",
        "count must be an integer",
    )


# --- characters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "value", "where"),
    [
        ("userName", "a\x00b", "userName holds the control character U+0000 at position 1"),
        ("userName", "a\tb", "userName holds the control character U+0009 at position 1"),
        ("userName", "a\nb", "userName holds the control character U+000A"),
        ("userName", "ab\u2028", "userName holds the line separator U+2028 at position 2"),
        ("externalId", "x\r", "externalId holds the control character U+000D"),
        ("title", "a\x00b", "title holds the control character U+0000"),
        ("title", "\x1b[31mred", "title holds the control character U+001B at position 0"),
        ("displayName", "a\x7f", "displayName holds the control character U+007F"),
        ("nickName", "a\x85", "nickName holds the control character U+0085"),
    ],
)
def test_control_characters_are_invalid_value(
    client: ScimClient, attribute: str, value: str, where: str
) -> None:
    body = {"userName": "ctl", attribute: value}
    refused(send(client, "POST", "/Users", body), 400, "invalidValue", where)


def test_line_breaks_and_tabs_are_text_where_a_value_is_free_form(client: ScimClient) -> None:
    """RFC 7643 4.1.2: a formatted address "MAY contain newlines"; AD's street address is multi-line.
    Only values that name a resource (userName, externalId, a group's displayName) are one line."""
    address = {"type": "work", "formatted": "1 Main St\nSpringfield", "streetAddress": "1 Main St\r\nFloor 2"}
    body = {"userName": "lines", "displayName": "Ann\tLee\u2028", "addresses": [address]}
    created = send(client, "POST", "/Users", body)
    assert created.status_code == 201, created.text
    assert created.json["displayName"] == "Ann\tLee\u2028"
    assert created.json["addresses"][0]["formatted"] == "1 Main St\nSpringfield"
    group = send(client, "POST", "/Groups", {"displayName": "two\nlines"})
    refused(group, 400, "invalidValue", "displayName holds the control character U+000A")


def test_a_password_with_a_control_character_is_refused_without_being_quoted(client: ScimClient) -> None:
    secret = "s3cret\x00-Passw0rd"
    response = send(client, "POST", "/Users", {"userName": "pw", "password": secret})
    refused(response, 400, "invalidValue", "password holds the control character U+0000 at position 6")
    assert "s3cret" not in response.text


@pytest.mark.parametrize("raw", ['{"userName": "a\\ud800"}', '{"\\udfff": 1, "userName": "a"}'])
def test_a_lone_surrogate_escape_is_invalid_syntax(client: ScimClient, raw: str) -> None:
    """Valid JSON, yet no Unicode text: it used to be stored, then fail rendering the response (500)."""
    response = client.simulate_post(f"{SCIM}/Users", body=raw, headers=SCIM_JSON)
    refused(response, 400, "invalidSyntax", "lone surrogate escape")


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_invalid_syntax(client: ScimClient, word: str) -> None:
    """Python's JSON parser takes them; RFC 8259 section 6 does not."""
    response = client.simulate_post(
        f"{SCIM}/Users", body=f'{{"userName": "n", "x": {word}}}', headers=SCIM_JSON
    )
    refused(response, 400, "invalidSyntax", f"{word} is no JSON number")


def test_non_bmp_combining_and_bidi_characters_are_kept_exactly(client: ScimClient) -> None:
    name = "jose\u0301.\U0001f600\u200f@example.org"
    body = {"userName": name, "displayName": "\U0001f469\u200d\U0001f4bb \u202eLee", "title": "Ingénieur"}
    created = send(client, "POST", "/Users", body)
    assert created.status_code == 201, created.text
    read = client.simulate_get(f"{SCIM}/Users/{created.json['id']}").json
    assert {key: read[key] for key in body} == body
