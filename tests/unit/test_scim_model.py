"""The reference model of the model-based test (``bridge.testing.scim_model``): that it reads RFC 7644
section 3.5.2 and the docs as they are written (tests/http/test_scim_model_runner.py runs it against the
bridge and checks how a disagreement is reported). The sequences themselves run in
``tests/http/test_model_sequences.py`` and ``tests/integration/test_model_sequences_slapd.py``."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.testing.scim_model.model import Model, Step
from bridge.testing.scim_model.patch import apply_patch
from bridge.testing.scim_model.schema import ENTERPRISE, GROUP, USER
from bridge.testing.scim_model.stored import Refusal, StoredMap
from tests.conftest import (
    OPENLDAP_MAP,
)

STORED = StoredMap.load(OPENLDAP_MAP)
ALICE = {
    "userName": "alice",
    "name": {"givenName": "Alice", "familyName": "Adams"},
    "emails": [{"type": "work", "value": "alice@example.org"}],
    ENTERPRISE: {"department": "R&D", "employeeNumber": "1"},
    "active": True,
}


def patched(document: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
    return apply_patch(document, {"Operations": list(operations)}, USER)


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        # 3.5.2.3: sub-attributes not in the value are left unchanged.
        (
            {"op": "replace", "path": "name", "value": {"givenName": "Al"}},
            {**ALICE, "name": {"givenName": "Al", "familyName": "Adams"}},
        ),
        # 3.5.2.1: an add of nothing adds nothing; 3.5.2.3: a replace of {} leaves every sub-attribute.
        ({"op": "add", "path": "name", "value": {}}, ALICE),
        ({"op": "replace", "path": "name", "value": {}}, ALICE),
        ({"op": "add", "value": {"name": {}}}, ALICE),
        ({"op": "add", "path": "emails", "value": []}, ALICE),
        # 3.5.2.3: a multi-valued attribute without a filter is replaced whole, here by no value.
        ({"op": "replace", "path": "emails", "value": []}, {k: v for k, v in ALICE.items() if k != "emails"}),
        # 3.5.2: a path may name the extension alone, with an object of its attributes.
        (
            {"op": "replace", "path": ENTERPRISE, "value": {"employeeNumber": "7", "department": "Platform"}},
            {**ALICE, ENTERPRISE: {"department": "Platform", "employeeNumber": "7"}},
        ),
        ({"op": "remove", "path": ENTERPRISE}, {k: v for k, v in ALICE.items() if k != ENTERPRISE}),
        # Path-less: plain, dotted and URN-qualified keys, each a path of its own (Entra's form).
        (
            {
                "op": "Replace",
                "value": {"title": "Boss", "name.givenName": "Al", f"{ENTERPRISE}:department": "Ops"},
            },
            {
                **ALICE,
                "title": "Boss",
                "name": {"givenName": "Al", "familyName": "Adams"},
                ENTERPRISE: {"department": "Ops", "employeeNumber": "1"},
            },
        ),
        # docs/scim.md: emails[type eq "work"].value creates the element when missing.
        (
            {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 5"},
            {**ALICE, "phoneNumbers": [{"type": "mobile", "value": "+1 5"}]},
        ),
        # docs/scim.md: a filtered replace that matches nothing creates the element the filter describes,
        # merged with the value (the same tolerance as for attr[filter].sub), rather than 400 noTarget.
        (
            {"op": "replace", "path": 'phoneNumbers[type eq "mobile"]', "value": {"value": "+1 5"}},
            {**ALICE, "phoneNumbers": [{"type": "mobile", "value": "+1 5"}]},
        ),
        (
            {"op": "replace", "path": 'emails[type eq "home"]', "value": {"type": "home", "value": "a@b.c"}},
            {
                **ALICE,
                "emails": [
                    {"type": "work", "value": "alice@example.org"},
                    {"type": "home", "value": "a@b.c"},
                ],
            },
        ),
        # docs/scim.md: remove with a value removes only those values (case aside: emails.value is not
        # caseExact).
        (
            {"op": "remove", "path": "emails", "value": [{"value": "ALICE@example.org"}]},
            {k: v for k, v in ALICE.items() if k != "emails"},
        ),
        # Removing active leaves the document without it (the model then refuses the PATCH, below).
        ({"op": "remove", "path": "active"}, {k: v for k, v in ALICE.items() if k != "active"}),
        ({"op": "replace", "path": "active", "value": "False"}, {**ALICE, "active": False}),
    ],
)
def test_the_model_applies_a_patch_operation_as_rfc_7644_and_the_readme_say(
    operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert patched(ALICE, operation) == expected


def test_the_model_refuses_a_remove_without_a_path_with_no_target() -> None:
    with pytest.raises(Refusal) as refused:
        patched(ALICE, {"op": "remove"})  # 3.5.2.2
    assert (refused.value.status, refused.value.scim_type) == (400, "noTarget")


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "title", "value": {}},
        {"op": "add", "value": {"displayName": {}}},
        {"op": "add", "path": "name.givenName", "value": {}},
    ],
)
def test_the_model_refuses_an_object_where_a_string_belongs_as_invalid(operation: dict[str, Any]) -> None:
    with pytest.raises(Refusal) as refused:
        patched(ALICE, operation)
    assert (refused.value.status, refused.value.scim_type) == (400, "invalidValue")


def test_a_member_already_there_is_not_added_again_whatever_its_ref_says() -> None:
    group = {"displayName": "G", "members": [{"value": "a1"}]}
    body = {
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": "A1", "$ref": None}, {"value": "b2"}]}
        ]
    }
    assert apply_patch(group, body, GROUP)["members"] == [{"value": "a1"}, {"value": "b2"}]


def test_the_stored_view_keeps_only_what_the_map_stores_and_fills_what_it_requires() -> None:
    sent = {
        "userName": "bob",
        "name": {"givenName": "Bob", "middleName": "X"},
        "emails": [{"value": "bob@example.org", "primary": True}],
        "phoneNumbers": [{"type": "home", "value": "1"}, {"type": "mobile", "value": "2"}],
        "nickName": "B",
    }
    assert STORED.user_view(sent, active=False) == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bob",
        # Templates read what was sent: no familyName was, so "{givenName} {familyName}" does not apply.
        "name": {"givenName": "Bob", "familyName": "bob", "formatted": "bob"},
        "emails": [{"type": "work", "value": "bob@example.org"}],
        "phoneNumbers": [{"type": "mobile", "value": "2"}],
        "active": False,
    }


@pytest.mark.parametrize(
    "emails",
    [
        [{"type": "work", "value": "a@x.y"}, {"value": "b@x.y"}],
        [{"value": "b@x.y"}, {"type": "work", "value": "a@x.y", "primary": True}],
        [{"value": "a@x.y"}, {"value": "b@x.y"}],  # the first takes the work slot
        [{"value": "a@x.y"}, {"type": "home", "value": "c@x.y"}, {"type": "", "value": "b@x.y"}],
    ],
)
def test_an_untyped_element_whose_type_is_taken_is_dropped_as_unmapped(emails: list[dict[str, Any]]) -> None:
    # docs/attribute-map.md: an email without a type is stored as the map's first type when that slot is
    # free; else the map does not store it, and scim.unmapped: ignore (the default) leaves it out.
    view = STORED.user_view({"userName": "bob", "emails": emails}, active=True)
    assert view["emails"] == [{"type": "work", "value": "a@x.y"}]


def test_two_values_of_one_stored_type_are_refused_as_invalid() -> None:
    two = {
        "userName": "bob",
        "emails": [{"type": "work", "value": "a@x.y"}, {"type": "work", "value": "b@x.y"}],
    }
    with pytest.raises(Refusal) as refused:
        STORED.user_view(two, active=True)
    assert (refused.value.status, refused.value.scim_type) == (400, "invalidValue")


def test_removing_a_value_the_map_fills_is_refused_as_mutability() -> None:
    model = Model(STORED)
    model.expect(Step("POST", "/Users", {"userName": "bob"})).commit("u1")
    outcome = model.expect(
        Step("PATCH", "/Users/u1", {"Operations": [{"op": "remove", "path": "name.familyName"}]})
    )
    assert (outcome.statuses, outcome.scim_type) == ((400,), "mutability")


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "active"},
        {"op": "Replace", "path": "active", "value": None},
        {"op": "replace", "path": "active", "value": ""},
        {"op": "replace", "value": {"active": None, "title": "Boss"}},
        {"op": "remove", "path": "name"},
        {"op": "replace", "path": "name.formatted", "value": None},
        {"op": "replace", "value": {"name.familyName": ""}},
    ],
)
def test_removing_active_or_a_name_part_the_map_fills_is_refused_and_changes_nothing(
    operation: dict[str, Any],
) -> None:
    # RFC 7644 3.5.2.2: active is required (an account is always enabled or disabled), and so are the
    # parts the map fills from templates because the directory requires them (sn, cn).
    model = Model(STORED)
    model.expect(Step("POST", "/Users", {"userName": "bob", "active": False})).commit("u1")
    before = model.user_view("u1")
    outcome = model.expect(Step("PATCH", "/Users/u1", {"Operations": [operation]}))
    assert (outcome.statuses, outcome.scim_type) == ((400,), "mutability")
    assert model.user_view("u1") == before


def test_active_removed_and_set_again_in_one_patch_is_set() -> None:
    model = Model(STORED)
    model.expect(Step("POST", "/Users", {"userName": "bob"})).commit("u1")
    body = {
        "Operations": [
            {"op": "remove", "path": "active"},
            {"op": "replace", "path": "active", "value": "False"},
        ]
    }
    outcome = model.expect(Step("PATCH", "/Users/u1", body))
    assert outcome.statuses == (200, 204)
    outcome.commit(None)
    assert model.user_view("u1")["active"] is False


def test_member_operations_on_one_member_apply_in_order() -> None:
    model = Model(STORED)
    model.expect(Step("POST", "/Users", {"userName": "ann"})).commit("a1")
    model.expect(Step("POST", "/Groups", {"displayName": "G", "members": [{"value": "a1"}]})).commit("g1")
    add = {"op": "add", "path": "members", "value": [{"value": "a1"}]}
    remove = {"op": "remove", "path": 'members[value eq "a1"]'}
    remove_all = {"op": "remove", "path": "members"}
    for operations, held in (
        ([add, remove], []),
        ([remove, remove], []),
        ([remove_all, remove], []),
        ([remove, add], ["a1"]),
        ([remove_all, add, add], ["a1"]),
    ):
        outcome = model.expect(Step("PATCH", "/Groups/g1", {"Operations": operations}))
        assert outcome.statuses == (204, 200) and "a1" in outcome.users
        outcome.commit(None)
        assert model.groups["g1"].members == held
        model.groups["g1"].members = ["a1"]


def test_a_nested_group_renamed_or_deleted_is_followed_by_its_parent() -> None:
    model = Model(STORED)
    model.expect(Step("POST", "/Groups", {"displayName": "inner"})).commit("g1")
    model.expect(Step("POST", "/Groups", {"displayName": "outer", "members": [{"value": "g1"}]})).commit("g2")
    renamed = model.expect(
        Step(
            "PATCH",
            "/Groups/g1",
            {"Operations": [{"op": "replace", "path": "displayName", "value": "inner 2"}]},
        )
    )
    assert renamed.groups == {"g1", "g2"}  # the parent is read back: it still holds g1
    renamed.commit(None)
    assert model.group_view("g2")["members"] == [{"value": "g1", "type": "Group"}]
    deleted = model.expect(Step("DELETE", "/Groups/g1"))
    assert deleted.groups == {"g1", "g2"}
    deleted.commit(None)
    assert model.group_view("g2")["members"] == []


def test_namesakes_differing_in_case_are_refused_and_change_nothing() -> None:
    model = Model(STORED)
    model.expect(Step("POST", "/Users", {"userName": "Bob"})).commit("u1")
    outcome = model.expect(Step("POST", "/Users", {"userName": "bOB"}))
    assert (outcome.statuses, outcome.scim_type) == ((409,), "uniqueness")
    assert list(model.users) == ["u1"]
