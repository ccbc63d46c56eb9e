"""Malformed bodies, media types, the body size limit, and unknown routes and methods.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from tests.conftest import (
    SCIM,
    ScimClient,
    make_settings,
)
from tests.http.users.support import (
    SCIM_JSON,
    assert_scim_error,
    create,
    state,
)


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
    client = ScimClient(create_app(create_services(settings, memory, user_map)))
    small = create(client, {"userName": "u@contoso.com"})
    before = state(memory)
    big = {"userName": "v@contoso.com", "displayName": "x" * 100}
    assert_scim_error(client.post_user(big), 413, None, "the limit is 64")
    put = client.simulate_put(f"{SCIM}/Users/{small['id']}", json=big)
    assert_scim_error(put, 413, None, "the limit is 64")
    patch = client.patch_user(small["id"], {"op": "replace", "path": "displayName", "value": "x" * 100})
    assert_scim_error(patch, 413, None, "the limit is 64")
    assert state(memory) == before


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
