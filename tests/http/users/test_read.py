"""GET /Users/{id}: the resource, 404s, and the URL forms Entra sends.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import (
    SCIM,
    ScimClient,
)
from tests.http.users.support import (
    GUID,
    SCIM_JSON,
    assert_scim_error,
    user_names,
)


def test_get_by_id_returns_the_resource(client: ScimClient, alice: dict[str, Any]) -> None:
    """RFC 7644 3.4.1; [D1]."""
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


def test_a_doubled_slash_in_the_path_still_reaches_the_resource(
    client: ScimClient, alice: dict[str, Any]
) -> None:
    """A Tenant URL typed with a trailing slash gives /scim/v2//Users."""
    result = client.simulate_get(f"{SCIM}//Users/{alice['id']}")
    assert result.status_code == 200 and result.json["id"] == alice["id"]
