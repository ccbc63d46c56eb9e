"""Fixtures of the /Users tests: Alice as Entra creates her, and three users to filter and page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ScimClient
from tests.http.users.support import create
from tests.samples import ENTRA_POST


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
