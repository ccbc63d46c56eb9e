"""PATCH /Users/{id}: Entra's two dialects, value-filter paths, clearing, renames, no-op writes and
the errors of a PATCH that cannot apply.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.directory.memory import InMemoryDirectory
from bridge.scim.schemas import ENTERPRISE_USER, PATCH_OP
from tests.conftest import (
    SCIM,
    USER_BASE,
    ScimClient,
)
from tests.http.users.support import (
    GUID,
    SCIM_JSON,
    assert_scim_error,
    create,
    dn_of,
    search,
    state,
    user_names,
)


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
    """A change of userName is a modify-DN; the SCIM id (entryUUID) never changes ([D1])."""
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
    """Accepted defensively."""
    assert (
        client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": value}).json["active"]
        is active
    )
