"""PATCH on canonical documents (RFC 7644 section 3.5.2), with Entra's quirks.

Operations are built with ``canonical.normalize_patch``, as the service builds them. The keys in
brackets ([D1], [I19], ...) resolve in the Sources of ``docs/entra.md``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bridge.scim.canonical import normalize_patch
from bridge.scim.errors import InvalidPath, InvalidValue, Mutability, NoTarget, ScimError
from bridge.scim.patch import PatchResult, apply_patch
from bridge.scim.schemas import ENTERPRISE_USER, USER

ALICE: dict[str, Any] = {
    "userName": "alice@contoso.com",
    "displayName": "Alice Adams",
    "name": {"givenName": "Alice", "familyName": "Adams"},
    "emails": [
        {"type": "work", "value": "alice@contoso.com"},
        {"type": "home", "value": "alice@example.net"},
    ],
    "phoneNumbers": [{"type": "work", "value": "+1 (555) 010-0000"}],
    "active": True,
    ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "10042"},
}


def applied(document: dict[str, Any], *operations: dict[str, Any]) -> PatchResult:
    """``operations`` normalised as the service normalises them, then applied to ``document``."""
    return apply_patch(document, normalize_patch({"Operations": list(operations)}, USER), USER)


def patched(document: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
    return applied(document, *operations).document


def changed(**changes: Any) -> dict[str, Any]:
    """ALICE with top-level keys replaced (None removes the key)."""
    out = copy.deepcopy(ALICE)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def test_the_input_document_is_never_modified() -> None:
    """apply_patch is pure: it returns a new document (docs/architecture.md, Principles 1)."""
    before = copy.deepcopy(ALICE)
    patched(
        ALICE, {"op": "remove", "path": "emails"}, {"op": "replace", "path": "name.givenName", "value": "Al"}
    )
    assert before == ALICE


# --- 3.5.2.1 add ---------------------------------------------------------------------------------

ADD_CASES = [
    pytest.param(
        {"op": "add", "path": "nickName", "value": "Ali"},
        changed(nickName="Ali"),
        id="3.5.2.1-D2-a-single-value-that-did-not-exist-is-added",
    ),
    pytest.param(
        {"op": "add", "path": "displayName", "value": "Alice A."},
        changed(displayName="Alice A."),
        id="3.5.2.1-an-existing-single-value-is-replaced",
    ),
    pytest.param(
        {"op": "add", "path": "emails", "value": [{"type": "other", "value": "aa@contoso.com"}]},
        changed(emails=[*ALICE["emails"], {"type": "other", "value": "aa@contoso.com"}]),
        id="3.5.2.1-values-are-added-to-a-multi-valued-attribute",
    ),
    pytest.param(
        {"op": "add", "path": "emails", "value": [{"type": "work", "value": "alice@contoso.com"}]},
        ALICE,
        id="3.5.2.1-a-value-already-present-changes-nothing",
    ),
    pytest.param(
        {"op": "add", "path": "name", "value": {"middleName": "B"}},
        changed(name={"givenName": "Alice", "familyName": "Adams", "middleName": "B"}),
        id="3.5.2.1-sub-attributes-merge-into-a-complex-attribute",
    ),
    pytest.param(
        {"op": "add", "value": {"title": "Engineer", "name.middleName": "B"}},
        changed(title="Engineer", name={"givenName": "Alice", "familyName": "Adams", "middleName": "B"}),
        id="3.5.2.1-I5-I8-pathless-add-with-a-dotted-key",
    ),
    pytest.param(
        {"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": "m-1"},
        changed(
            **{ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "10042", "manager": {"value": "m-1"}}}
        ),
        id="3.5.2.1-I12-I13-manager-as-a-plain-id-becomes-an-object",
    ),
    pytest.param(
        {"op": "add", "path": f"{ENTERPRISE_USER}:manager", "value": {"value": "m-1"}},
        changed(
            **{ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "10042", "manager": {"value": "m-1"}}}
        ),
        id="3.5.2.1-T1-manager-as-an-object",
    ),
    pytest.param(
        {"op": "Add", "path": f"{ENTERPRISE_USER}:manager", "value": [{"$ref": None, "value": "m-1"}]},
        changed(
            **{ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "10042", "manager": {"value": "m-1"}}}
        ),
        id="3.5.2.1-D1-D18-manager-in-the-old-array-form",
    ),
]


@pytest.mark.parametrize(("operation", "expected"), ADD_CASES)
def test_add_puts_values_in_place_as_section_3_5_2_1_says(
    operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    """RFC 7644 section 3.5.2.1, as Entra sends it."""
    assert patched(ALICE, operation) == expected


# --- 3.5.2.2 remove ------------------------------------------------------------------------------

REMOVE_CASES = [
    pytest.param(
        {"op": "remove", "path": "displayName"},
        changed(displayName=None),
        id="3.5.2.2-a-single-valued-attribute-is-removed",
    ),
    pytest.param(
        {"op": "remove", "path": "emails"},
        changed(emails=None),
        id="3.5.2.2-a-multi-valued-attribute-without-filter-loses-all-values",
    ),
    pytest.param(
        {"op": "remove", "path": 'emails[type eq "home"]'},
        changed(emails=[{"type": "work", "value": "alice@contoso.com"}]),
        id="3.5.2.2-a-value-filter-removes-the-matching-values",
    ),
    pytest.param(
        {"op": "remove", "path": 'emails[type eq "other"]'},
        ALICE,
        id="3.5.2.2-a-value-filter-that-matches-nothing-removes-nothing",
    ),
    pytest.param(
        {"op": "remove", "path": "phoneNumbers"},
        changed(phoneNumbers=None),
        id="3.5.2.2-no-remaining-values-leaves-the-attribute-unassigned",
    ),
    pytest.param(
        {"op": "remove", "path": "name.givenName"},
        changed(name={"familyName": "Adams"}),
        id="3.5.2.2-a-sub-attribute-is-removed",
    ),
    pytest.param(
        {"op": "Remove", "path": 'emails[type eq "work"].value', "value": "alice@contoso.com"},
        changed(emails=[{"type": "home", "value": "alice@example.net"}]),
        id="3.5.2.2-R8-Remove-with-a-value-clears-the-sub-attribute-and-drops-the-empty-element",
    ),
    pytest.param(
        {"op": "Remove", "path": "emails", "value": [{"value": "ALICE@example.net"}]},
        changed(emails=[{"type": "work", "value": "alice@contoso.com"}]),
        id="3.5.2.2-D2-I9-I10-Remove-with-values-removes-only-those",
    ),
    pytest.param(
        {"op": "remove", "path": f"{ENTERPRISE_USER}:department"},
        changed(**{ENTERPRISE_USER: {"employeeNumber": "10042"}}),
        id="3.5.2.2-T1-an-extension-attribute-is-removed",
    ),
    pytest.param(
        {"op": "remove", "path": "nickName"},
        ALICE,
        id="3.5.2.2-removing-an-unassigned-attribute-is-harmless",
    ),
]


@pytest.mark.parametrize(("operation", "expected"), REMOVE_CASES)
def test_remove_takes_values_away_as_section_3_5_2_2_says(
    operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    """RFC 7644 section 3.5.2.2, as Entra sends it."""
    assert patched(ALICE, operation) == expected


def test_removing_the_last_extension_attribute_removes_the_extension_object() -> None:
    """An empty extension is no extension (RFC 7643 section 3.3): nothing is rendered for it."""
    document = patched(
        ALICE,
        {"op": "remove", "path": f"{ENTERPRISE_USER}:department"},
        {"op": "remove", "path": f"{ENTERPRISE_USER}:employeeNumber"},
    )
    assert ENTERPRISE_USER not in document


# --- 3.5.2.3 replace -----------------------------------------------------------------------------

REPLACE_CASES = [
    pytest.param(
        {"op": "replace", "path": "displayName", "value": "Alice Adams-Baker"},
        changed(displayName="Alice Adams-Baker"),
        id="3.5.2.3-a-single-value-is-replaced",
    ),
    pytest.param(
        {"op": "replace", "path": "title", "value": "Engineer"},
        changed(title="Engineer"),
        id="3.5.2.3-a-missing-target-is-added",
    ),
    pytest.param(
        {"op": "replace", "path": "emails", "value": [{"type": "work", "value": "new@contoso.com"}]},
        changed(emails=[{"type": "work", "value": "new@contoso.com"}]),
        id="3.5.2.3-a-multi-valued-attribute-without-filter-is-replaced-whole",
    ),
    pytest.param(
        {"op": "replace", "path": "name", "value": {"givenName": "Al"}},
        changed(name={"givenName": "Al", "familyName": "Adams"}),
        id="3.5.2.3-unnamed-sub-attributes-of-a-complex-attribute-are-left-unchanged",
    ),
    pytest.param(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a.adams@contoso.com"},
        changed(emails=[{"type": "work", "value": "a.adams@contoso.com"}, ALICE["emails"][1]]),
        id="3.5.2.3-D1-a-value-filter-path-updates-the-matching-element",
    ),
    pytest.param(
        {"op": "replace", "path": 'emails[type eq "WORK"].value', "value": "a.adams@contoso.com"},
        changed(emails=[{"type": "work", "value": "a.adams@contoso.com"}, ALICE["emails"][1]]),
        id="3.5.2.3-filter-values-compare-case-insensitively",
    ),
    pytest.param(
        {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0101"},
        changed(phoneNumbers=[*ALICE["phoneNumbers"], {"type": "mobile", "value": "+1 555 0101"}]),
        id="3.5.2.3-I19-T1-a-missing-element-is-created-from-the-filter",
    ),
    pytest.param(
        {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Springfield"},
        changed(addresses=[{"type": "work", "locality": "Springfield"}]),
        id="3.5.2.3-I19-an-attribute-with-no-elements-gets-one",
    ),
    pytest.param(
        {
            "op": "replace",
            "path": 'emails[type eq "work"]',
            "value": {"value": "w@contoso.com", "primary": True},
        },
        changed(emails=[{"type": "work", "value": "w@contoso.com", "primary": True}, ALICE["emails"][1]]),
        id="3.5.2.3-a-value-filter-without-sub-attribute-replaces-the-element",
    ),
    pytest.param(
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "10043"},
        changed(**{ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "10043"}}),
        id="3.5.2.3-D2-T1-an-extension-attribute-by-its-urn-path",
    ),
    pytest.param(
        {"op": "replace", "path": "userName", "value": "alice.adams@contoso.com"},
        changed(userName="alice.adams@contoso.com"),
        id="3.5.2.3-D1-a-rename",
    ),
    pytest.param(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": ""},
        changed(emails=[{"type": "home", "value": "alice@example.net"}]),
        id="3.5.2.3-R2-clearing-a-filtered-sub-attribute-leaves-no-husk-of-the-element",
    ),
]


@pytest.mark.parametrize(("operation", "expected"), REPLACE_CASES)
def test_replace_swaps_values_as_section_3_5_2_3_says(
    operation: dict[str, Any], expected: dict[str, Any]
) -> None:
    """RFC 7644 section 3.5.2.3, as Entra sends it."""
    assert patched(ALICE, operation) == expected


def test_a_pathless_replace_with_dotted_and_urn_keys_updates_each_named_attribute() -> None:
    """The aadOptscim062020 shape: one path-less replace whose keys are paths [D2][I5][I6][I7]."""
    document = patched(
        ALICE,
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a.adams@contoso.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Alice Adams-Baker",
                "name.familyName": "Adams-Baker",
                f"{ENTERPRISE_USER}:employeeNumber": "10043",
                ENTERPRISE_USER: {"department": "Sales"},
            },
        },
    )
    assert document == changed(
        displayName="Alice Adams-Baker",
        name={"givenName": "Alice", "familyName": "Adams-Baker"},
        emails=[{"type": "work", "value": "a.adams@contoso.com"}, ALICE["emails"][1]],
        **{ENTERPRISE_USER: {"department": "Sales", "employeeNumber": "10043"}},
    )
    assert "name.familyName" not in document


@pytest.mark.parametrize(
    ("value", "expected"),
    [("False", False), ("false", False), ("True", True), (False, False), (True, True)],
)
def test_active_accepts_entras_strings_and_stores_a_boolean(value: Any, expected: bool) -> None:
    """Legacy Entra sends ``"False"``/``"True"`` (or lower-case) strings, the flag a boolean [D2][I1][I2]."""
    document = patched({**ALICE, "active": not expected}, {"op": "Replace", "path": "active", "value": value})
    assert document["active"] is expected


@pytest.mark.parametrize("empty", [None, "", []])
def test_replacing_with_null_or_empty_clears_the_attribute(empty: Any) -> None:
    """Microsoft's Logic-App suite sets optional attributes to "" and then null and expects them to
    read back empty [R2]: "", null and remove all mean clear (Q24)."""
    assert patched(ALICE, {"op": "replace", "path": "displayName", "value": empty}) == changed(
        displayName=None
    )


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "emails", "value": []},
        {"op": "add", "path": "name", "value": {}},
        {"op": "replace", "path": "name", "value": {}},
        {"op": "add", "value": {"emails": []}},
    ],
)
def test_adding_no_values_changes_nothing(operation: dict[str, Any]) -> None:
    """RFC 7644 3.5.2.1: an add appends its values, and none is nothing; 3.5.2.3: a replace of a complex
    attribute sets the sub-attributes it names, and {} names none. Only null, "" and remove clear."""
    assert patched(ALICE, operation) == ALICE


def test_operations_apply_in_order() -> None:
    """Operations are processed in sequence (RFC 7644 section 3.5.2; Q10)."""
    document = patched(
        ALICE,
        {"op": "replace", "path": "title", "value": "One"},
        {"op": "remove", "path": "title"},
        {"op": "add", "path": "title", "value": "Two"},
    )
    assert document["title"] == "Two"


def test_unknown_attributes_are_reported_as_ignored_and_leave_the_document_alone() -> None:
    """An attribute the schema does not know is ignored, as on POST [R1], and reported."""
    result = applied(
        ALICE,
        {"op": "replace", "path": "favouriteColour", "value": "blue"},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User:badge", "value": "1"},
    )
    assert result.document == ALICE
    assert result.ignored == (
        "favouriteColour",
        "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User:badge",
    )


def test_the_result_names_the_attributes_written_in_the_schemas_spelling_and_not_the_ignored() -> None:
    """What the unmapped check looks at on a PATCH: the attributes the operations wrote, however the
    client spelled them (a core URN, an extension's attribute without its URN, a value filter, a
    path-less value), and none of those it ignored."""
    result = applied(
        ALICE,
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:TITLE", "value": "Boss"},
        {"op": "replace", "path": "department", "value": "Ops"},
        {"op": "add", "path": 'emails[type eq "other"].value', "value": "a@example.org"},
        {"op": "remove", "path": "name.givenName"},
        {"op": "replace", "value": {"displayName": "A", f"{ENTERPRISE_USER}:employeeNumber": "7"}},
        {"op": "replace", "path": "favouriteColour", "value": "blue"},
    )
    assert result.written == {
        (None, "title"),
        (ENTERPRISE_USER, "department"),
        (None, "emails"),
        (None, "name"),
        (None, "displayName"),
        (ENTERPRISE_USER, "employeeNumber"),
    }
    assert result.ignored == ("favouriteColour",)


ERROR_CASES = [
    pytest.param({"op": "replace", "path": "id", "value": "x"}, Mutability, "id is read-only", id="id"),
    pytest.param(
        {"op": "replace", "path": "meta.created", "value": "x"}, Mutability, "meta is read-only", id="meta"
    ),
    pytest.param(
        {"op": "replace", "path": "name.middle", "value": "x"},
        InvalidPath,
        "name has no sub-attribute 'middle'",
        id="unknown-sub-attribute",
    ),
    pytest.param(
        {"op": "add", "path": 'userName[type eq "x"]', "value": "x"},
        InvalidPath,
        "userName is not",
        id="filter-on-a-single-valued-attribute",
    ),
    pytest.param(
        {"op": "replace", "path": 'emails[value co "zzz"].value', "value": "x"},
        NoTarget,
        "no value matches the filter",
        id="3.5.2.3-no-match-and-no-element-to-create",
    ),
    pytest.param(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": 42},
        InvalidValue,
        "must be a string",
        id="wrong-type",
    ),
    pytest.param(
        {"op": "replace", "path": "active", "value": "disabled"},
        InvalidValue,
        "must be true or false",
        id="not-a-boolean",
    ),
    pytest.param(
        {"op": "add", "path": "emails", "value": ["alice@contoso.com"]},
        InvalidValue,
        "must be an object",
        id="bare-string-email",
    ),
    pytest.param(
        {"op": "replace", "path": 'emails[type eq "work"]', "value": "x"},
        InvalidValue,
        "must be an object",
        id="filtered-element-needs-an-object",
    ),
    pytest.param(
        {"op": "replace", "path": "displayName", "value": {}},
        InvalidValue,
        "must be a string",
        id="an-empty-object-where-a-string-belongs",
    ),
]


@pytest.mark.parametrize(("operation", "error", "detail"), ERROR_CASES)
def test_operations_that_cannot_apply_raise_the_rfc_error(
    operation: dict[str, Any], error: type[ScimError], detail: str
) -> None:
    """Mutability, invalidPath, noTarget and invalidValue as RFC 7644 sections 3.5.2 and 3.12 name
    them, with the operation's index in the detail."""
    with pytest.raises(error) as caught:
        patched(ALICE, operation)
    assert detail in caught.value.detail
    assert caught.value.detail.startswith("Operations[0]")
