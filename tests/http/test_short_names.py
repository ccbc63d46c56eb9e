"""Users known by email in Entra and by short names on-prem (issue #4 point 4): ``rdn: {attribute: uid,
from: userName}`` names each entry by a short name derived once, kept, and never colliding, while the
userName itself is kept exactly in scimUserName."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from tests.conftest import SCIM, USER_BASE, ScimClient

SHORT_NAMES = {"rdn": {"attribute": "uid", "from": "userName"}, "attributes": {"userName": "scimUserName"}}


@pytest.fixture
def client(
    make_client: Callable[..., ScimClient], map_with: Callable[[dict[str, Any]], ResourceMap]
) -> ScimClient:
    return make_client(map_with(SHORT_NAMES))


def create(client: ScimClient, user_name: str) -> str:
    response = client.post_user({"userName": user_name})
    assert response.status_code == 201, response.json
    assert response.json["userName"] == user_name  # exactly as sent
    return str(response.json["id"])


@pytest.mark.parametrize(
    ("user_name", "short"),
    [
        ("jdoe@contoso.com", "jdoe"),
        ("J.Doe@Contoso.com", "j.doe"),
        ("ana-maria+test@contoso.com", "ana-mariatest"),
        ("Émile.Zoë@contoso.com", "emile.zoe"),
        ("山田@contoso.com", "user"),
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_the_short_name_is_the_cleaned_local_part(
    client: ScimClient, memory: InMemoryDirectory, user_name: str, short: str
) -> None:
    create(client, user_name)
    assert memory.raw(f"uid={short},{USER_BASE}")["scimusername"] == [user_name]


def test_a_second_user_with_the_same_local_part_gets_the_next_free_name(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    create(client, "jdoe@contoso.com")
    create(client, "jdoe@fabrikam.com")
    create(client, "JDoe@northwind.example")
    names = sorted(dn.split(",")[0] for dn in memory.dns() if dn.endswith(USER_BASE) and dn != USER_BASE)
    assert names == ["uid=jdoe", "uid=jdoe2", "uid=jdoe3"]


def test_the_short_name_is_kept_when_the_username_changes(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    user = create(client, "jdoe@contoso.com")
    renamed = client.patch_user(user, {"op": "Replace", "path": "userName", "value": "john.doe@contoso.com"})
    assert renamed.status_code == 200 and renamed.json["userName"] == "john.doe@contoso.com"
    assert memory.raw(f"uid=jdoe,{USER_BASE}")["scimusername"] == ["john.doe@contoso.com"]
    found = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "JOHN.DOE@contoso.com"'}).json
    assert [r["id"] for r in found["Resources"]] == [user]


def test_the_username_stays_unique_ignoring_case(client: ScimClient) -> None:
    create(client, "jdoe@contoso.com")
    assert client.post_user({"userName": "JDOE@contoso.com"}).status_code == 409


def test_a_map_cannot_both_derive_and_map_the_naming_attribute(
    map_with: Callable[[dict[str, Any]], ResourceMap],
) -> None:
    from bridge.mapping.load import MapError

    with pytest.raises(MapError, match="uid is derived here"):
        map_with({"rdn": {"attribute": "uid", "from": "userName"}})
