"""The bearer token on every request, and X-Request-ID on answers and errors.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from tests.conftest import (
    SCIM,
    TOKEN,
    ScimClient,
    make_settings,
)
from tests.http.users.support import (
    assert_scim_error,
    state,
)

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
    anonymous = falcon.testing.TestClient(create_app(create_services(make_settings(), memory, user_map)))
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
    anonymous = falcon.testing.TestClient(create_app(create_services(make_settings(), memory, user_map)))
    result = anonymous.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"bearer {TOKEN}"})
    assert result.status_code == 200


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
    anonymous = falcon.testing.TestClient(create_app(create_services(make_settings(), memory, user_map)))
    result = anonymous.simulate_get(f"{SCIM}/Users", headers={"X-Request-ID": "req-401"})
    assert (result.status_code, result.headers["X-Request-ID"]) == (401, "req-401")
