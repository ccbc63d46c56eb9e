"""The enterprise ``manager`` in every form Entra and Microsoft's tools send, always returned as an object
(``FORMS``, each id naming its source in docs/entra.md), stored as the manager's DN."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.directory.memory import InMemoryDirectory
from tests.conftest import SCIM, USER_BASE, ScimClient

EXT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def people(client: ScimClient) -> dict[str, str]:
    ids = {}
    for name in ("boss", "deputy", "worker"):
        response = client.post_user({"userName": f"{name}@contoso.com"})
        assert response.status_code == 201
        ids[name] = response.json["id"]
    return ids


def manager_of(client: ScimClient, user_id: str) -> Any:
    return client.simulate_get(f"{SCIM}/Users/{user_id}").json.get(EXT, {}).get("manager")


FORMS = [
    pytest.param(
        {"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/{boss}", "value": "{boss}"}]},
        id="a-old-microsoft-example-D1",
    ),
    pytest.param({"op": "Add", "path": f"{EXT}:manager", "value": "{boss}"}, id="b-plain-string-I12"),
    pytest.param(
        {"op": "add", "path": f"{EXT}:manager", "value": "{boss}"}, id="b-plain-string-lowercase-I13"
    ),
    pytest.param({"op": "replace", "path": f"{EXT}:manager", "value": {"value": "{boss}"}}, id="c-object-T1"),
    pytest.param({"op": "replace", "value": {f"{EXT}:manager": "{boss}"}}, id="path-less-urn-key-I29"),
]


@pytest.mark.parametrize("operation", FORMS)
def test_every_form_of_setting_a_manager_stores_its_dn_and_returns_an_object(
    client: ScimClient, memory: InMemoryDirectory, people: dict[str, str], operation: dict[str, Any]
) -> None:
    filled = _fill(operation, people)
    assert client.patch_user(people["worker"], filled).status_code == 200
    assert memory.raw(f"uid=worker@contoso.com,{USER_BASE}")["manager"] == [
        f"uid=boss@contoso.com,{USER_BASE}"
    ]
    manager = manager_of(client, people["worker"])
    assert manager["value"] == people["boss"] and manager["$ref"].endswith(f"/Users/{people['boss']}")


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param({"op": "remove", "path": f"{EXT}:manager"}, id="d-path-only-T1"),
        pytest.param({"op": "remove", "path": 'manager[value eq "{boss}"]'}, id="e-value-filter-I14"),
        pytest.param({"op": "replace", "path": f"{EXT}:manager", "value": ""}, id="f-replace-with-empty-R3"),
    ],
)
def test_every_form_of_removing_the_manager_clears_it(
    client: ScimClient, memory: InMemoryDirectory, people: dict[str, str], operation: dict[str, Any]
) -> None:
    client.patch_user(people["worker"], {"op": "add", "path": f"{EXT}:manager", "value": people["boss"]})
    assert client.patch_user(people["worker"], _fill(operation, people)).status_code == 200
    assert "manager" not in memory.raw(f"uid=worker@contoso.com,{USER_BASE}")
    assert manager_of(client, people["worker"]) is None


def test_removing_by_a_filter_that_names_someone_else_keeps_the_manager(
    client: ScimClient, people: dict[str, str]
) -> None:
    client.patch_user(people["worker"], {"op": "add", "path": f"{EXT}:manager", "value": people["boss"]})
    client.patch_user(people["worker"], {"op": "remove", "path": f'manager[value eq "{people["deputy"]}"]'})
    assert manager_of(client, people["worker"])["value"] == people["boss"]


def test_an_unknown_manager_id_is_a_400_and_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, people: dict[str, str]
) -> None:
    writes = memory.writes
    response = client.patch_user(
        people["worker"],
        {"op": "add", "path": f"{EXT}:manager", "value": "9f8e7d6c-0000-4000-8000-000000000000"},
    )
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert "no user has the id" in response.json["detail"] and memory.writes == writes


def test_a_manager_given_on_create_and_an_identical_second_patch_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, people: dict[str, str]
) -> None:
    created = client.post_user({"userName": "new@contoso.com", EXT: {"manager": {"value": people["boss"]}}})
    assert created.status_code == 201 and created.json[EXT]["manager"]["value"] == people["boss"]
    writes = memory.writes
    again = client.patch_user(
        created.json["id"], {"op": "replace", "path": f"{EXT}:manager", "value": people["boss"]}
    )
    assert again.status_code == 200 and memory.writes == writes


def test_a_manager_who_is_gone_reads_as_no_manager(client: ScimClient, people: dict[str, str]) -> None:
    client.patch_user(people["worker"], {"op": "add", "path": f"{EXT}:manager", "value": people["deputy"]})
    assert client.simulate_delete(f"{SCIM}/Users/{people['deputy']}").status_code == 204
    assert manager_of(client, people["worker"]) is None


def _fill(operation: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    import json

    text = json.dumps(operation)
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value)
    return dict(json.loads(text))
