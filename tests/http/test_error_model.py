"""Every way a request can fail, answered as an RFC 7644 section 3.12 Error (issue #6, point 7).

Each answer is ``application/scim+json`` with ``schemas`` [Error URN], ``status`` as a string, a
``scimType`` only where 3.12's table 9 names one (all of them on 400, plus ``uniqueness`` on 409), and
a ``detail`` for a human; never a traceback, an internal message, the token or a password.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.directory.base import DirFilter, SearchResult
from bridge.directory.errors import (
    Changed,
    ConstraintViolation,
    DirectoryUnavailable,
    EntryAlreadyExists,
    InsufficientAccess,
    NoSuchEntry,
    NotAllowed,
)
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from bridge.scim.schemas import ERROR, LIST_RESPONSE, PATCH_OP
from tests.conftest import GROUP_BASE, SCIM, SUFFIX, TOKEN, USER_BASE, ScimClient, make_settings

SCIM_JSON = "application/scim+json"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
GUID = "5d1f0b32-8a1e-4c1b-9a63-1f0e2d3c4b5a"
SECRET = "Hunter2-s3cret-Passw0rd"
INTERNALS = f"ldap3 LDAPSocketOpenError at /srv/bridge/pool.py; bind cn=admin,{SUFFIX} with {SECRET}"
CHALLENGE = 'Bearer realm="scim"'
REFUSED_TOKEN = 'Bearer realm="scim", error="invalid_token"'


# --- helpers -------------------------------------------------------------------------------------


def assert_error(result: falcon.testing.Result, status: int, scim_type: str | None, detail: str = "") -> None:
    """An RFC 7644 3.12 Error and nothing else: the URN, status as a JSON string, scimType present
    exactly when expected, a non-empty detail, in application/scim+json, with no internals."""
    assert result.status_code == status, result.text
    assert result.headers["Content-Type"] == SCIM_JSON
    body = result.json
    assert set(body) <= {"schemas", "status", "scimType", "detail"}, body
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert isinstance(body["status"], str)
    if scim_type is None:
        assert "scimType" not in body
    else:
        assert body["scimType"] == scim_type
    assert isinstance(body["detail"], str)
    assert body["detail"].strip()
    assert detail in body["detail"]
    for leak in ("Traceback", 'File "', TOKEN, hashlib.sha256(TOKEN.encode()).hexdigest(), SECRET):
        assert leak not in result.text


def state(memory: InMemoryDirectory) -> tuple[int, dict[str, dict[str, list[str]]]]:
    """Everything in the directory, to assert that a refused request wrote nothing."""
    return memory.writes, {dn: memory.raw(dn) for dn in memory.dns()}


def build(memory: InMemoryDirectory, maps: MapSet, **server: Any) -> ScimClient:
    """A client over ``memory`` with some ``server.*`` settings changed."""
    settings = make_settings()
    return ScimClient(
        create_app(
            create_services(replace(settings, server=replace(settings.server, **server)), memory, maps)
        )
    )


def anonymous(client: ScimClient) -> falcon.testing.TestClient:
    """A client of the same app that sends no Authorization header."""
    return falcon.testing.TestClient(client.app)


class FailingDirectory(InMemoryDirectory):
    """The in-memory directory, made to fail every read (and so every request) once ``failure`` is set:
    a stub of the port, so the error handlers are reached without patching the bridge's code."""

    failure: Exception | None = None

    def search(
        self,
        bases: Sequence[str],
        flt: DirFilter,
        attributes: Sequence[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> SearchResult:
        if self.failure is not None:
            raise self.failure
        return super().search(bases, flt, attributes, offset=offset, limit=limit)


@pytest.fixture
def alice(client: ScimClient) -> dict[str, Any]:
    result = client.post_user({"userName": "alice@contoso.com", "displayName": "Alice"})
    assert result.status_code == 201, result.text
    return result.json  # type: ignore[no-any-return]


@pytest.fixture
def ops(client: ScimClient) -> dict[str, Any]:
    result = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"})
    assert result.status_code == 201, result.text
    return result.json  # type: ignore[no-any-return]


@pytest.fixture
def failing(maps: MapSet) -> tuple[FailingDirectory, ScimClient]:
    directory = FailingDirectory([SUFFIX, USER_BASE, GROUP_BASE])
    client = ScimClient(create_app(create_services(make_settings(), directory, maps)))
    created = client.post_user({"userName": "alice@contoso.com"})
    assert created.status_code == 201, created.text
    return directory, client


# --- 401 -----------------------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/Users"),
    ("GET", f"/Users/{GUID}"),
    ("POST", "/Users"),
    ("PATCH", f"/Groups/{GUID}"),
    ("POST", "/.search"),
    ("GET", "/ServiceProviderConfig"),
    ("GET", "/ResourceTypes"),
    ("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
    ("POST", "/Bulk"),
    ("GET", "/Me"),
    ("GET", "/Nope"),
]
CREDENTIALS = [
    pytest.param(None, CHALLENGE, "send the secret token", id="no-authorization"),
    pytest.param(f"Basic {TOKEN}", CHALLENGE, "send the secret token", id="basic-scheme"),
    pytest.param("Bearer   ", CHALLENGE, "send the secret token", id="bearer-without-token"),
    pytest.param("Bearer not-the-token", REFUSED_TOKEN, "the bearer token is not valid", id="wrong-token"),
    pytest.param(f"Token {TOKEN}", CHALLENGE, "send the secret token", id="other-scheme-right-token"),
]


@pytest.mark.parametrize(("authorization", "challenge", "detail"), CREDENTIALS)
@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_request_under_the_base_without_the_token_is_401_with_a_bearer_challenge(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    authorization: str | None,
    challenge: str,
    detail: str,
    method: str,
    path: str,
) -> None:
    """RFC 7644 2 and RFC 7235 3.1: a 401 carries ``WWW-Authenticate``; RFC 6750 3: ``error="invalid_token"``
    only when a token was sent and refused. Discovery needs the token too: RFC 7644 section 4 does not
    exempt it and 2.2 only allows anonymous requests ("MAY"); Entra sends its token to /Schemas."""
    headers = {"Authorization": authorization} if authorization else {}
    before = state(memory)
    result = anonymous(client).simulate_request(method, f"{SCIM}{path}", json={}, headers=headers)
    assert_error(result, 401, None, detail)
    assert result.headers["WWW-Authenticate"] == challenge
    assert state(memory) == before


def test_the_401_never_echoes_the_token_that_was_sent(client: ScimClient) -> None:
    """A wrong token may be a real one of another system: it is not repeated anywhere in the answer."""
    result = anonymous(client).simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {SECRET}"})
    assert_error(result, 401, None, "the bearer token is not valid")
    assert SECRET not in str(result.headers)


# --- 404 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorized", [True, False], ids=["with-token", "without-token"])
@pytest.mark.parametrize("path", ["/", "/nope", "/scim", "/scim/v1/Users", "/scim/v2x/Users", "/v2/Users"])
def test_a_path_outside_the_base_path_is_404_and_asks_for_no_token(
    client: ScimClient, authorized: bool, path: str
) -> None:
    """Only the base path is SCIM; elsewhere there is nothing to authenticate for (no 401 challenge)."""
    result = (client if authorized else anonymous(client)).simulate_get(path)
    assert_error(result, 404, None, f"no such endpoint: {path}")
    assert "WWW-Authenticate" not in result.headers


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        pytest.param(f"/Users/{GUID}", f"User {GUID} not found", id="unknown-user-id"),
        pytest.param(f"/Groups/{GUID}", GUID, id="unknown-group-id"),
        pytest.param("/Nope", "no such endpoint: /scim/v2/Nope", id="unknown-endpoint"),
        pytest.param(f"/Users/{GUID}/manager", "no such endpoint", id="sub-resource"),
        pytest.param("/Schemas/urn:nope", "no Schema 'urn:nope'", id="unknown-schema-urn"),
        pytest.param("/ResourceTypes/Printer", "no ResourceType 'Printer'", id="unknown-resource-type"),
    ],
)
def test_what_does_not_exist_under_the_base_is_404(client: ScimClient, path: str, detail: str) -> None:
    """RFC 7644 3.12: 404 "Specified resource (e.g., User) or endpoint does not exist"; no scimType."""
    assert_error(client.simulate_get(f"{SCIM}{path}"), 404, None, detail)


def test_writes_to_an_unknown_id_are_404_and_write_nothing(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """PUT must not create (RFC 7644 3.5.1); PATCH and DELETE of nothing are 404 as well."""
    before = state(memory)
    url = f"{SCIM}/Users/{GUID}"
    assert_error(client.simulate_put(url, json={"userName": "u@contoso.com"}), 404, None, GUID)
    assert_error(client.patch_user(GUID, {"op": "replace", "path": "title", "value": "x"}), 404, None, GUID)
    assert_error(client.simulate_delete(url), 404, None, GUID)
    assert state(memory) == before


# --- 405 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/Users/{user}", {"GET", "PUT", "PATCH", "DELETE"}),
        ("PUT", "/Users", {"GET", "POST"}),
        ("DELETE", "/Users", {"GET", "POST"}),
        ("PATCH", "/Users", {"GET", "POST"}),
        ("POST", "/Groups/{group}", {"GET", "PUT", "PATCH", "DELETE"}),
        ("DELETE", "/Groups", {"GET", "POST"}),
        ("GET", "/Users/.search", {"POST"}),
        ("GET", "/.search", {"POST"}),
        ("POST", "/ServiceProviderConfig", {"GET"}),
        ("DELETE", "/Schemas", {"GET"}),
        ("PUT", "/ResourceTypes/User", {"GET"}),
    ],
)
def test_a_method_the_route_does_not_offer_is_405_with_the_allow_header(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    alice: dict[str, Any],
    ops: dict[str, Any],
    method: str,
    path: str,
    allowed: set[str],
) -> None:
    """RFC 9110 15.5.6: a 405 names the methods the resource has in ``Allow``; RFC 7644 3.12 body."""
    before = state(memory)
    url = f"{SCIM}{path.format(user=alice['id'], group=ops['id'])}"
    result = client.simulate_request(method, url, json={"schemas": [PATCH_OP], "Operations": []})
    assert_error(result, 405, None, f"{method} is not allowed on {url}")
    assert {m.strip() for m in result.headers["Allow"].split(",")} - {"OPTIONS"} == allowed
    assert state(memory) == before


# --- 501: Bulk and /Me ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    ("path", "detail"),
    [("/Bulk", "bulk operations are not supported"), ("/Me", "/Me is not supported")],
)
def test_bulk_and_me_are_501_not_implemented(
    client: ScimClient, memory: InMemoryDirectory, method: str, path: str, detail: str
) -> None:
    """RFC 7644 3.11: "A service provider that does NOT support this feature SHOULD respond with HTTP
    status code 501 (Not Implemented)"; 3.12: 501 "Service provider does not support the request
    operation". The same for /Bulk (3.7), which the ServiceProviderConfig declares unsupported. A 404
    would tell the client its base URL is wrong. The body is not even read."""
    before = state(memory)
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}
    assert_error(client.simulate_request(method, f"{SCIM}{path}", json=body), 501, None, detail)
    garbage = client.simulate_request(
        method, f"{SCIM}{path}", body="{", headers={"Content-Type": "text/plain"}
    )
    assert_error(garbage, 501, None, detail)
    assert state(memory) == before


def test_the_service_provider_config_agrees_that_bulk_is_not_supported(client: ScimClient) -> None:
    """RFC 7643 5: the 501 above is what ``bulk.supported: false`` announces."""
    assert client.simulate_get(f"{SCIM}/ServiceProviderConfig").json["bulk"]["supported"] is False


# --- 413, 415 ------------------------------------------------------------------------------------

WRITES = [
    ("POST", "/Users"),
    ("PUT", "/Users/{user}"),
    ("PATCH", "/Users/{user}"),
    ("POST", "/Groups"),
    ("PATCH", "/Groups/{group}"),
    ("POST", "/Users/.search"),
    ("POST", "/.search"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_over_max_body_bytes_is_413_and_writes_nothing(
    memory: InMemoryDirectory, maps: MapSet, method: str, path: str
) -> None:
    """server.max_body_bytes (RFC 9110 15.5.14 413 Content Too Large), refused before it is parsed."""
    client = build(memory, maps, max_body_bytes=200)
    user = client.post_user({"userName": "u@contoso.com"}).json["id"]
    group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "G"}).json["id"]
    before = state(memory)
    body = {"schemas": [PATCH_OP, SEARCH], "userName": "v@contoso.com", "displayName": "x" * 300}
    result = client.simulate_request(method, f"{SCIM}{path.format(user=user, group=group)}", json=body)
    assert_error(result, 413, None, "the limit is 200")
    assert state(memory) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data", None])
@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_in_another_media_type_is_415_and_writes_nothing(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    alice: dict[str, Any],
    ops: dict[str, Any],
    content_type: str | None,
    method: str,
    path: str,
) -> None:
    """RFC 7644 3.1 and 8.1: bodies are application/scim+json (application/json accepted too)."""
    before = state(memory)
    headers = {"Content-Type": content_type} if content_type else {}
    url = f"{SCIM}{path.format(user=alice['id'], group=ops['id'])}"
    result = client.simulate_request(method, url, body='{"userName": "v@contoso.com"}', headers=headers)
    assert_error(result, 415, None, "send the body as application/scim+json")
    assert state(memory) == before


# --- 400 invalidSyntax ---------------------------------------------------------------------------

PATCH_TITLE = {"op": "replace", "path": "title", "value": "x"}
NOT_A_MESSAGE = [
    pytest.param("POST", "/Users", b'{"userName": ', "not valid JSON", id="malformed-json"),
    pytest.param("POST", "/Users", b"", "not valid JSON", id="empty-body"),
    pytest.param("POST", "/Users", b'{"userName": "\xff"}', "not UTF-8", id="not-utf-8"),
    pytest.param("POST", "/Users", b'["userName"]', "JSON object", id="json-array"),
    pytest.param("POST", "/Users", b'"alice"', "JSON object", id="json-string"),
    pytest.param("PUT", "/Users/{user}", b"null", "JSON object", id="put-null"),
    pytest.param("POST", "/Groups", b"[]", "JSON object", id="group-array"),
    pytest.param("PATCH", "/Users/{user}", b"[]", "PatchOp request is a JSON object", id="patch-array"),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        b'{"Operations": [{"op": "replace", "path": "title", "value": "x"}]}',
        f'"schemas": ["{PATCH_OP}"]',
        id="patch-without-schemas",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []}',
        "PatchOp",
        id="patch-with-another-schema",
    ),
    pytest.param(
        "PATCH",
        "/Groups/{group}",
        b'{"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}',
        "PatchOp",
        id="group-patch-without-schemas",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        f'{{"schemas": ["{PATCH_OP}"]}}'.encode(),
        "'Operations'",
        id="no-operations",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        f'{{"schemas": ["{PATCH_OP}"], "Operations": []}}'.encode(),
        "'Operations'",
        id="empty-operations",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        f'{{"schemas": ["{PATCH_OP}"], "Operations": [{{"op": "move", "path": "title"}}]}}'.encode(),
        "must be add, replace or remove, not 'move'",
        id="unknown-op",
    ),
    pytest.param(
        "PATCH",
        "/Groups/{group}",
        f'{{"schemas": ["{PATCH_OP}"], "Operations": ["add"]}}'.encode(),
        "Operations[0] must be an object",
        id="operation-not-an-object",
    ),
    pytest.param("POST", "/Users/.search", b"[1]", "a SearchRequest is a JSON object", id="search-array"),
    pytest.param(
        "POST",
        "/.search",
        b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}',
        "names the schema",
        id="search-with-another-schema",
    ),
    pytest.param(
        "POST",
        "/Users/.search",
        f'{{"schemas": ["{SEARCH}"], "where": "x"}}'.encode(),
        "where",
        id="search-member",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "detail"), NOT_A_MESSAGE)
def test_a_body_that_is_not_the_expected_scim_message_is_400_invalid_syntax(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    alice: dict[str, Any],
    ops: dict[str, Any],
    method: str,
    path: str,
    body: bytes,
    detail: str,
) -> None:
    """RFC 7644 3.12 invalidSyntax: "The request body message structure was invalid or did not conform
    to the request schema"; 3.5.2: a PATCH body "MUST contain the "schemas" attribute with the URI value
    of "urn:ietf:params:scim:api:messages:2.0:PatchOp"" and an "Operations" array."""
    before = state(memory)
    url = f"{SCIM}{path.format(user=alice['id'], group=ops['id'])}"
    result = client.simulate_request(method, url, body=body, headers={"Content-Type": SCIM_JSON})
    assert_error(result, 400, "invalidSyntax", detail)
    assert state(memory) == before


def test_the_patch_op_schema_is_matched_without_regard_to_case(
    client: ScimClient, alice: dict[str, Any]
) -> None:
    """Keys and URNs in any case (Entra capitalises keys; URNs compare case-insensitively, RFC 8141)."""
    body = {"Schemas": [PATCH_OP.upper()], "Operations": [PATCH_TITLE]}
    result = client.simulate_patch(f"{SCIM}/Users/{alice['id']}", json=body)
    assert (result.status_code, result.json["title"]) == (200, "x")


# --- 400 with the other scimTypes ----------------------------------------------------------------

INVALID = [
    pytest.param(
        "POST", "/Users", {"displayName": "x"}, "invalidValue", "userName is required", id="no-user-name"
    ),
    pytest.param(
        "POST",
        "/Users",
        {"userName": "u@contoso.com", "active": "maybe"},
        "invalidValue",
        "active must be true or false, not 'maybe'",
        id="not-a-boolean",
    ),
    pytest.param(
        "POST",
        "/Groups",
        {"displayName": "G", "members": [{"value": GUID}]},
        "invalidValue",
        f"no user or group has the id {GUID}",
        id="unknown-member",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "name.middle", "value": "x"}]},
        "invalidPath",
        "name has no sub-attribute 'middle'",
        id="unknown-sub-attribute",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": 'emails[type eq "work"', "value": "x"}],
        },
        "invalidPath",
        "invalid path",
        id="malformed-path",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]},
        "noTarget",
        "remove needs a path",
        id="remove-without-path",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": 'emails[value co "@x"].type', "value": "x"}],
        },
        "noTarget",
        "no value matches the filter",
        id="filter-selects-nothing",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "id", "value": GUID}]},
        "mutability",
        "id is read-only",
        id="read-only-id",
    ),
    pytest.param(
        "PATCH",
        "/Users/{user}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "groups", "value": [{"value": GUID}]}]},
        "mutability",
        "groups is read-only",
        id="read-only-groups",
    ),
    pytest.param(
        "GET",
        "/Users?filter=userName%20zz%20%22x%22",
        None,
        "invalidFilter",
        "unknown operator 'zz'",
        id="bad-op",
    ),
    pytest.param(
        "GET", "/Users?filter=userName%20eq", None, "invalidFilter", "a value after 'eq'", id="no-value"
    ),
    pytest.param(
        "GET",
        f"/Users?filter=password%20eq%20%22{SECRET}%22",
        None,
        "invalidFilter",
        "password is write-only",
        id="write-only-attribute",
    ),
    pytest.param(
        "POST",
        "/.search",
        {"schemas": [SEARCH], "filter": "(userName eq"},
        "invalidFilter",
        "",
        id="search-request-filter",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "scim_type", "detail"), INVALID)
def test_a_request_the_bridge_cannot_carry_out_is_400_with_the_scim_type_rfc_7644_names(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    alice: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    scim_type: str,
    detail: str,
) -> None:
    """RFC 7644 3.12 table 9: invalidValue, invalidPath, noTarget, mutability, invalidFilter; a refused
    write writes nothing."""
    before = state(memory)
    result = client.simulate_request(method, f"{SCIM}{path.format(user=alice['id'])}", json=body)
    assert_error(result, 400, scim_type, detail)
    assert state(memory) == before


def test_a_query_matching_more_than_max_matches_is_400_too_many(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    """RFC 7644 3.12 tooMany: "The specified filter yields many more results than the server is willing
    to calculate or process"; server.max_matches sets the limit, a narrower filter passes."""
    client = build(memory, maps, max_matches=1)
    for name in ("a@contoso.com", "b@contoso.com"):
        assert client.post_user({"userName": name}).status_code == 201
    assert_error(client.simulate_get(f"{SCIM}/Users"), 400, "tooMany", "more than the 1")
    assert_error(
        client.simulate_post(f"{SCIM}/.search", json={"schemas": [SEARCH]}), 400, "tooMany", "narrow"
    )
    narrow = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "a@contoso.com"'})
    assert (narrow.status_code, narrow.json["totalResults"]) == (200, 1)


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda c, u: c.post_user({"userName": "alice@contoso.com"}), id="create"),
        pytest.param(
            lambda c, u: c.simulate_put(f"{SCIM}/Users/{u}", json={"userName": "alice@contoso.com"}),
            id="put-rename",
        ),
        pytest.param(
            lambda c, u: c.patch_user(u, {"op": "replace", "path": "userName", "value": "ALICE@contoso.com"}),
            id="patch-rename",
        ),
        pytest.param(lambda c, u: c.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"}), id="group"),
    ],
)
def test_a_taken_name_is_409_uniqueness_and_writes_nothing(
    *,
    client: ScimClient,
    memory: InMemoryDirectory,
    alice: dict[str, Any],
    ops: dict[str, Any],
    send: Callable[[ScimClient, str], falcon.testing.Result],
) -> None:
    """RFC 7644 3.3 and 3.12: 409 with scimType uniqueness (the one scimType outside 400)."""
    bob = client.post_user({"userName": "bob@contoso.com"}).json["id"]
    before = state(memory)
    assert_error(send(client, bob), 409, "uniqueness", "")
    assert state(memory) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_an_if_match_naming_another_version_is_412_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], method: str
) -> None:
    """RFC 7644 3.14 and 3.12: 412 "Failed to update. Resource has changed on the server"; no scimType."""
    bodies = {
        "PUT": {"userName": "alice@contoso.com"},
        "PATCH": {"schemas": [PATCH_OP], "Operations": [PATCH_TITLE]},
    }
    before = state(memory)
    result = client.simulate_request(
        method, f"{SCIM}/Users/{alice['id']}", json=bodies.get(method), headers={"If-Match": 'W/"stale"'}
    )
    assert_error(result, 412, None, f"its version is now {alice['meta']['version']}")
    assert state(memory) == before


# --- query parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("count=abc", "count must be an integer, not 'abc'"),
        ("count=1.5", "count must be an integer"),
        ("startIndex=first", "startIndex must be an integer, not 'first'"),
        ("startIndex=1e3", "startIndex must be an integer"),
    ],
)
def test_a_paging_parameter_that_is_no_integer_is_400_invalid_value(
    client: ScimClient, query: str, detail: str
) -> None:
    """RFC 7644 3.4.2.4 defines both as integers; guessing a page for ``count=abc`` could make a client
    skip users, so it is refused with the parameter named (3.12 invalidValue)."""
    for path in ("/Users", "/Groups"):
        assert_error(client.simulate_get(f"{SCIM}{path}", query_string=query), 400, "invalidValue", detail)


@pytest.mark.parametrize(
    ("member", "value"), [("count", "5"), ("count", True), ("startIndex", 1.5), ("startIndex", None)]
)
def test_a_search_request_with_a_paging_member_that_is_no_integer_is_400_invalid_value(
    client: ScimClient, member: str, value: Any
) -> None:
    """The same for the members of a SearchRequest body (RFC 7644 3.4.3)."""
    body = {"schemas": [SEARCH], member: value}
    assert_error(client.simulate_post(f"{SCIM}/Users/.search", json=body), 400, "invalidValue", member)


@pytest.mark.parametrize(
    ("query", "start", "per_page"),
    [
        ("startIndex=-5", 1, 2),
        ("startIndex=0", 1, 2),
        ("count=-1", 1, 0),
        ("count=0", 1, 0),
        ("startIndex=-5&count=-1", 1, 0),
        ("startIndex=2&count=1", 2, 1),
    ],
)
def test_out_of_range_paging_parameters_are_read_as_rfc_7644_says(
    client: ScimClient, alice: dict[str, Any], query: str, start: int, per_page: int
) -> None:
    """RFC 7644 3.4.2.4: startIndex "A value less than 1 SHALL be interpreted as 1"; count "A negative
    value SHALL be interpreted as "0"", and 0 returns no resources, only totalResults."""
    assert client.post_user({"userName": "bob@contoso.com"}).status_code == 201
    for result in (
        client.simulate_get(f"{SCIM}/Users", query_string=query),
        client.simulate_post(
            f"{SCIM}/Users/.search",
            json={"schemas": [SEARCH], **{k: int(v) for k, v in (p.split("=") for p in query.split("&"))}},
        ),
    ):
        assert result.status_code == 200, result.text
        body = result.json
        assert body["schemas"] == [LIST_RESPONSE]
        assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (2, start, per_page)
        assert len(body["Resources"]) == per_page


def test_sort_by_is_ignored_since_sorting_is_not_offered(client: ScimClient, alice: dict[str, Any]) -> None:
    """The ServiceProviderConfig says ``sort.supported: false`` (RFC 7643 5), and RFC 7644 3.4.2 asks
    providers to "ignore any query parameters they do not recognize instead of rejecting the query";
    3.4.2.3 makes sorting OPTIONAL and names no error for it. So a sortBy is no failure: the page comes
    in the directory's stable order, as without it."""
    assert client.simulate_get(f"{SCIM}/ServiceProviderConfig").json["sort"] == {"supported": False}
    assert client.post_user({"userName": "aaron@contoso.com"}).status_code == 201
    plain = client.simulate_get(f"{SCIM}/Users")
    sorted_ = client.simulate_get(f"{SCIM}/Users", params={"sortBy": "userName", "sortOrder": "descending"})
    bogus = client.simulate_get(
        f"{SCIM}/Users", params={"sortBy": "no.such[attribute", "sortOrder": "sideways"}
    )
    search = client.simulate_post(
        f"{SCIM}/.search", json={"schemas": [SEARCH], "sortBy": "userName", "sortOrder": "descending"}
    )
    assert plain.status_code == sorted_.status_code == bogus.status_code == search.status_code == 200
    ids = [r["id"] for r in plain.json["Resources"]]
    assert [r["id"] for r in sorted_.json["Resources"]] == ids
    assert [r["id"] for r in bogus.json["Resources"]] == ids
    assert [r["id"] for r in search.json["Resources"] if "userName" in r] == ids


# --- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [[SECRET], {"value": SECRET}, 31337, True], ids=["list", "object", "number", "boolean"]
)
def test_a_password_of_the_wrong_shape_is_refused_without_quoting_it(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any], value: Any
) -> None:
    """RFC 7643 4.1.1: a password is never returned "in any form", and that includes an error detail
    that would quote back what the client sent (other attributes are quoted, to help)."""
    before = state(memory)
    url = f"{SCIM}/Users/{alice['id']}"
    for result in (
        client.post_user({"userName": "u@contoso.com", "password": value}),
        client.simulate_put(url, json={"userName": "alice@contoso.com", "password": value}),
        client.patch_user(alice["id"], {"op": "replace", "path": "password", "value": value}),
        client.patch_user(alice["id"], {"op": "replace", "value": {"password": value}}),
    ):
        assert_error(result, 400, "invalidValue", "must be a string, not")
        assert "31337" not in result.text
    assert state(memory) == before


# --- the directory fails -------------------------------------------------------------------------

REQUESTS = [
    ("GET", "/Users", None),
    ("GET", f"/Users/{GUID}", None),
    ("POST", "/Users", {"userName": "u@contoso.com"}),
    ("GET", "/Groups?excludedAttributes=members", None),
    ("POST", "/.search", {"schemas": [SEARCH]}),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_an_unreachable_directory_is_503_with_retry_after(
    failing: tuple[FailingDirectory, ScimClient], method: str, path: str, body: dict[str, Any] | None
) -> None:
    """docs/architecture.md (Errors) and RFC 9110 15.6.4: 503 with Retry-After, so Entra retries instead
    of failing the user; the directory's own message (hosts, DNs) stays in the log."""
    directory, client = failing
    directory.failure = DirectoryUnavailable(INTERNALS)
    result = client.simulate_request(method, f"{SCIM}{path}", json=body)
    assert_error(result, 503, None, "the directory is not reachable right now; retry later")
    assert result.headers["Retry-After"] == "30"
    for internal in ("ldap3", "/srv/bridge", "cn=admin"):
        assert internal not in result.text


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
def test_an_unexpected_exception_is_500_with_the_request_id_and_the_traceback_only_in_the_log(
    *,
    failing: tuple[FailingDirectory, ScimClient],
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """docs/architecture.md, Errors: anything else is a 500 with a fixed sentence and the request id, the
    traceback only in the log; RFC 7644 3.12: 500 "An internal error", no scimType."""
    directory, client = failing
    directory.failure = KeyError(INTERNALS)
    with caplog.at_level(logging.ERROR, logger="bridge.http.errors"):
        result = client.simulate_request(
            method, f"{SCIM}{path}", json=body, headers={"X-Request-ID": "req-500"}
        )
    assert_error(result, 500, None)
    assert (
        result.json["detail"] == "internal error; the bridge's log has the details under request id req-500"
    )
    assert result.headers["X-Request-ID"] == "req-500"
    for internal in ("KeyError", "ldap3", "/srv/bridge", "cn=admin", SECRET):
        assert internal not in result.text
    logged = [r for r in caplog.records if r.name == "bridge.http.errors" and r.exc_info]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[0] is KeyError


@pytest.mark.parametrize(
    ("failure", "status", "scim_type"),
    [
        pytest.param(NoSuchEntry("no entry with that id"), 404, None, id="no-such-entry"),
        pytest.param(EntryAlreadyExists("uid=u exists"), 409, "uniqueness", id="already-exists"),
        pytest.param(ConstraintViolation("mail: invalid syntax"), 400, "invalidValue", id="constraint"),
        pytest.param(InsufficientAccess("insufficient access rights"), 403, None, id="no-rights"),
        pytest.param(NotAllowed("not allowed on non-leaf"), 403, None, id="not-allowed"),
        pytest.param(Changed("the entry changed"), 412, None, id="changed"),
    ],
)
def test_each_directory_refusal_has_its_documented_status(
    failing: tuple[FailingDirectory, ScimClient], failure: Exception, status: int, scim_type: str | None
) -> None:
    """The Errors of docs/architecture.md and of docs/operate.md, reached here through the handler's own
    mapping (a refusal the service did not translate on the way)."""
    directory, client = failing
    directory.failure = failure
    assert_error(client.simulate_get(f"{SCIM}/Users"), status, scim_type, failure.args[0])
