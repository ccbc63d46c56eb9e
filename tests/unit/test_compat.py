"""Entra's deviations from RFC 7643/7644, tolerated in ``bridge.scim.compat``.

The keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.scim.canonical import PatchOperation, normalize_patch, normalize_resource
from bridge.scim.compat import coerce_boolean
from bridge.scim.errors import InvalidPath, InvalidSyntax, InvalidValue, NoTarget, ScimError
from bridge.scim.filter import AttrPath, Compare
from bridge.scim.path import Path
from bridge.scim.schemas import CORE_USER, ENTERPRISE_USER, PATCH_OP, USER
from tests.samples import ENTRA_POST

WORK = Compare(AttrPath(None, "type", None), "eq", "work")


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# --- coerce_boolean ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("True", True),
        ("False", False),
        ("true", True),
        ("false", False),
        ("TRUE", True),
        ("FALSE", False),
        (" False ", False),
    ],
)
def test_booleans_arrive_as_json_booleans_or_as_true_false_strings_in_any_case(
    value: Any, expected: bool
) -> None:
    """Without aadOptscim062020 ``active`` is the string output of a Switch() expression, in whatever
    case the admin wrote it [D2][R6][I1][I2]; with the flag it is a JSON boolean [D1][D2]."""
    assert coerce_boolean(value, "active") is expected


@pytest.mark.parametrize("value", ["yes", "no", "", "Truthy", None, 1, 0, 1.0, ["True"], {"value": True}])
def test_anything_else_where_a_boolean_belongs_is_invalid_value_naming_the_attribute(value: Any) -> None:
    """Values that are neither a boolean nor "true"/"false" are refused with invalidValue
    (RFC 7644 section 3.12), the attribute and the value in the detail."""
    with pytest.raises(InvalidValue) as caught:
        coerce_boolean(value, "active")
    assert caught.value.scim_type == "invalidValue"
    assert caught.value.detail.startswith("active must be true or false")


# --- normalize_resource ------------------------------------------------------------------------


ENTRA_POST_DOCUMENT = {
    "externalId": "alice",
    "userName": "alice@contoso.com",
    "active": True,
    "displayName": "Alice Adams",
    "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
    "name": {"formatted": "Alice Adams", "familyName": "Adams", "givenName": "Alice"},
    "title": "Engineer",
    ENTERPRISE_USER: {"employeeNumber": "10042", "department": "R&D"},
}

RESOURCE_CASES = [
    pytest.param(ENTRA_POST, ENTRA_POST_DOCUMENT, id="D1-documented-create"),
    pytest.param(
        {
            "schemas": [CORE_USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
            "userName": "bob@contoso.com",
            "addresses": None,
            "phoneNumbers": None,
            "title": None,
            ENTERPRISE_USER: {"department": None, "manager": None},
        },
        {"userName": "bob@contoso.com"},
        id="D1-D18-nulls-and-a-malformed-schema-urn",
    ),
    pytest.param(
        {"userName": "emp1@contoso.com", "active": "True"},
        {"userName": "emp1@contoso.com", "active": True},
        id="R1-R6-active-as-the-string-True",
    ),
    pytest.param(
        {"userName": "u@contoso.com", "active": "False"},
        {"userName": "u@contoso.com", "active": False},
        id="D2-active-as-the-string-False",
    ),
    pytest.param(
        {
            "UserName": "c@contoso.com",
            "DisplayName": "C",
            "Emails": [{"Primary": "True", "Type": "work", "Value": "c@contoso.com"}],
            "NAME": {"GivenName": "C"},
        },
        {
            "userName": "c@contoso.com",
            "displayName": "C",
            "emails": [{"primary": True, "type": "work", "value": "c@contoso.com"}],
            "name": {"givenName": "C"},
        },
        id="R1-capitalised-attribute-and-sub-attribute-names",
    ),
    pytest.param(
        {
            "userName": "d@contoso.com",
            ENTERPRISE_USER.upper(): {"Department": "Sales", "Manager": {"Value": "m-1"}},
        },
        {"userName": "d@contoso.com", ENTERPRISE_USER: {"department": "Sales", "manager": {"value": "m-1"}}},
        id="R1-capitalised-enterprise-keys-and-Manager-Value",
    ),
    pytest.param(
        {"userName": "e@contoso.com", ENTERPRISE_USER: {"manager": "m-2"}},
        {"userName": "e@contoso.com", ENTERPRISE_USER: {"manager": {"value": "m-2"}}},
        id="I12-I13-manager-as-a-plain-id-string",
    ),
    pytest.param(
        {
            "userName": "f@contoso.com",
            ENTERPRISE_USER: {"manager": [{"$ref": "../Users/m-3", "value": "m-3"}]},
        },
        {"userName": "f@contoso.com", ENTERPRISE_USER: {"manager": {"$ref": "../Users/m-3", "value": "m-3"}}},
        id="D1-D18-manager-in-the-old-array-form",
    ),
    pytest.param(
        {"userName": "g@contoso.com", "emails": {"type": "work", "value": "g@contoso.com"}},
        {"userName": "g@contoso.com", "emails": [{"type": "work", "value": "g@contoso.com"}]},
        id="a-single-object-where-a-list-belongs",
    ),
    pytest.param(
        {
            "userName": "h@contoso.com",
            "roles": [{"primary": "True", "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
        },
        {
            "userName": "h@contoso.com",
            "roles": [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}],
        },
        id="D7-T1-role-with-primary-as-a-string",
    ),
    pytest.param(
        {
            "userName": "i@contoso.com",
            "roles": [{"value": '{"id":"r-1","value":"Admin","displayName":"Admin"}'}],
        },
        {
            "userName": "i@contoso.com",
            "roles": [{"value": '{"id":"r-1","value":"Admin","displayName":"Admin"}'}],
        },
        id="D7-role-value-as-a-json-encoded-string-kept-opaque",
    ),
    pytest.param(
        {
            "userName": "j@contoso.com",
            "id": "client-chosen",
            "meta": {"created": "2020-01-01"},
            "schemas": "x",
        },
        {"userName": "j@contoso.com"},
        id="D1-read-only-id-meta-schemas-in-the-body",
    ),
]


@pytest.mark.parametrize(("body", "document"), RESOURCE_CASES)
def test_entra_create_bodies_become_canonical_documents(
    body: dict[str, Any], document: dict[str, Any]
) -> None:
    """POST/PUT bodies as Entra and Microsoft's test suites send them normalise to the schema's own
    spelling, JSON booleans, no nulls, extension attributes under the canonical URN (RFC 7643 2.1)."""
    assert normalize_resource(body, USER).document == document


def test_unknown_attributes_and_unknown_extensions_are_ignored_and_reported() -> None:
    """A misspelled attribute in Microsoft's PUT test is expected to be ignored [R1]; a custom
    extension may arrive without its URN in ``schemas`` [D7]. Both are named in ``ignored``."""
    custom = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
    normalized = normalize_resource(
        {
            "userName": "k@contoso.com",
            "dispalyName": "typo",
            custom: {"badge": "42"},
            ENTERPRISE_USER: {"favouriteColour": "blue", "costCenter": "CC-1"},
        },
        USER,
    )
    assert normalized.document == {"userName": "k@contoso.com", ENTERPRISE_USER: {"costCenter": "CC-1"}}
    assert set(normalized.ignored) == {"dispalyName", custom, f"{ENTERPRISE_USER}:favouriteColour"}


def test_an_extension_that_holds_only_nulls_disappears() -> None:
    """Nulls mean "no value" [D1][D18], so an extension of nulls leaves no empty object behind."""
    normalized = normalize_resource(
        {"userName": "l@contoso.com", ENTERPRISE_USER: {"department": None}}, USER
    )
    assert normalized.document == {"userName": "l@contoso.com"}


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        (["userName"], InvalidSyntax, "must be a JSON object"),
        ("userName", InvalidSyntax, "must be a JSON object"),
        ({"userName": 42}, InvalidValue, "userName must be a string, not int 42"),
        ({"userName": "m", "active": "yes"}, InvalidValue, "active must be true or false"),
        ({"userName": "m", "name": "Mary Major"}, InvalidValue, "name must be an object"),
        ({"userName": "m", "emails": ["m@contoso.com"]}, InvalidValue, "emails[0] must be an object"),
        (
            {"userName": "m", ENTERPRISE_USER: "Sales"},
            InvalidValue,
            "must be an object holding the extension",
        ),
        ({"userName": "m", "emails": [{"type": "work", "primary": "sometimes"}]}, InvalidValue, "primary"),
    ],
)
def test_bodies_of_the_wrong_shape_are_refused_with_the_place_named(
    body: Any, error: type[ScimError], detail: str
) -> None:
    """A body that is not an object is invalidSyntax; a value of the wrong type is invalidValue
    (RFC 7644 section 3.12); the detail names where."""
    with pytest.raises(error) as caught:
        normalize_resource(body, USER)
    assert detail in caught.value.detail


# --- normalize_patch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("Add", "add"),
        ("Replace", "replace"),
        ("Remove", "remove"),
        ("add", "add"),
        ("REPLACE", "replace"),
        (" remove ", "remove"),
    ],
)
def test_op_names_are_compared_case_insensitively(op: str, expected: str) -> None:
    """Entra sends Add/Replace/Remove unless the aadOptscim062020 flag is set [D1][D2]."""
    operations = normalize_patch(patch_body({"op": op, "path": "title", "value": "x"}), USER)
    assert [operation.op for operation in operations] == [expected]


def test_the_legacy_entra_update_is_one_operation_per_attribute_with_parsed_paths() -> None:
    """The legacy engine's PATCH: capitalised ops, one op per changed attribute, value-filter and
    extension-URN paths [D1][D2]."""
    body = patch_body(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a.adams@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Adams-Baker"},
        {"op": "Replace", "path": "externalId", "value": "aadams"},
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "10043"},
        {"op": "Replace", "path": "active", "value": "False"},
    )
    assert normalize_patch(body, USER) == [
        PatchOperation("replace", Path(None, "emails", WORK, "value"), "a.adams@contoso.com"),
        PatchOperation("replace", Path(None, "name", None, "familyName"), "Adams-Baker"),
        PatchOperation("replace", Path(None, "externalId", None, None), "aadams"),
        PatchOperation("replace", Path(ENTERPRISE_USER, "employeeNumber", None, None), "10043"),
        PatchOperation("replace", Path(None, "active", None, None), "False"),
    ]


def test_a_pathless_replace_with_dotted_and_urn_keys_becomes_one_operation_per_key() -> None:
    """With aadOptscim062020 simple attributes are merged into one path-less replace whose keys are
    paths, not attribute names [D2][I5][I6][I7]."""
    body = patch_body(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a.adams@contoso.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Alice Adams-Baker",
                "name.givenName": "Alice",
                "name.familyName": "Adams-Baker",
                f"{ENTERPRISE_USER}:employeeNumber": "10043",
            },
        },
    )
    assert normalize_patch(body, USER) == [
        PatchOperation("replace", Path(None, "emails", WORK, "value"), "a.adams@contoso.com"),
        PatchOperation("replace", Path(None, "displayName", None, None), "Alice Adams-Baker"),
        PatchOperation("replace", Path(None, "name", None, "givenName"), "Alice"),
        PatchOperation("replace", Path(None, "name", None, "familyName"), "Adams-Baker"),
        PatchOperation("replace", Path(ENTERPRISE_USER, "employeeNumber", None, None), "10043"),
    ]


def test_a_pathless_value_may_hold_the_enterprise_urn_as_an_object() -> None:
    """A path-less value may carry the enterprise URN as a key holding department/manager [I29]."""
    body = patch_body(
        {"op": "add", "value": {ENTERPRISE_USER: {"department": "R&D", "manager": {"value": "m"}}}}
    )
    assert normalize_patch(body, USER) == [
        PatchOperation("add", Path(ENTERPRISE_USER, "department", None, None), "R&D"),
        PatchOperation("add", Path(ENTERPRISE_USER, "manager", None, None), {"value": "m"}),
    ]


def test_a_path_that_names_a_schema_alone_is_split_into_its_attributes() -> None:
    """RFC 7644 3.5.2: attrPath may be a schema URN; the value then holds that schema's attributes, whose
    keys are paths within it. Split at the last colon, it was "attribute User of urn:...:2.0" and ignored."""
    value = {"employeeNumber": "70001", "manager.value": "m", "meta": {}}
    body = patch_body({"op": "Replace", "path": ENTERPRISE_USER.upper(), "value": value})
    assert normalize_patch(body, USER) == [
        PatchOperation("replace", Path(ENTERPRISE_USER, "employeeNumber", None, None), "70001"),
        PatchOperation("replace", Path(ENTERPRISE_USER, "manager", None, "value"), "m"),
    ]
    core = patch_body({"op": "add", "path": CORE_USER, "value": {"name.givenName": "Kim"}})
    assert normalize_patch(core, USER) == [
        PatchOperation("add", Path(None, "name", None, "givenName"), "Kim")
    ]


def test_removing_an_extension_schema_removes_each_of_its_attributes() -> None:
    operations = normalize_patch(patch_body({"op": "remove", "path": ENTERPRISE_USER}), USER)
    assert {op.op for op in operations} == {"remove"}
    assert {op.path.attr for op in operations if op.path} == {
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    }


def test_read_only_keys_in_a_pathless_value_are_skipped() -> None:
    """``id``, ``meta`` and ``schemas`` inside a path-less value are not targets [D1] (RFC 7643 3.1)."""
    body = patch_body({"op": "replace", "value": {"id": "x", "meta": {}, "schemas": [], "userName": "u"}})
    assert normalize_patch(body, USER) == [PatchOperation("replace", Path(None, "userName", None, None), "u")]


def test_the_members_remove_of_the_legacy_engine_keeps_its_value_list() -> None:
    """Legacy member/email removal is Remove + path + the values to remove [D2][I9][I10]; the value
    must reach apply_patch, which removes only those."""
    body = patch_body({"op": "Remove", "path": "emails", "value": [{"value": "old@contoso.com"}]})
    assert normalize_patch(body, USER) == [
        PatchOperation("remove", Path(None, "emails", None, None), [{"value": "old@contoso.com"}])
    ]


def test_the_operations_key_and_operation_fields_are_found_in_any_case() -> None:
    """Attribute names are case-insensitive (RFC 7643 section 2.1); Microsoft's suites capitalise [R1]."""
    body = {"operations": [{"OP": "Replace", "Path": "title", "Value": "Boss"}]}
    assert normalize_patch(body, USER) == [PatchOperation("replace", Path(None, "title", None, None), "Boss")]


@pytest.mark.parametrize(
    ("body", "error", "detail"),
    [
        ([], InvalidSyntax, "must be a JSON object"),
        ({"schemas": [PATCH_OP]}, InvalidSyntax, "non-empty 'Operations' list"),
        (patch_body(), InvalidSyntax, "non-empty 'Operations' list"),
        ({"Operations": {"op": "add"}}, InvalidSyntax, "non-empty 'Operations' list"),
        (patch_body("add"), InvalidSyntax, "Operations[0] must be an object"),
        (
            patch_body({"op": "merge", "path": "title"}),
            InvalidSyntax,
            "must be add, replace or remove, not 'merge'",
        ),
        (
            patch_body({"path": "title", "value": "x"}),
            InvalidSyntax,
            "must be add, replace or remove, not None",
        ),
        (
            patch_body({"op": "add", "path": 5, "value": "x"}),
            InvalidSyntax,
            "Operations[0].path must be a string",
        ),
        (
            patch_body({"op": "add", "value": "x"}),
            InvalidSyntax,
            "value must be an object when there is no path",
        ),
        (patch_body({"op": "remove"}), NoTarget, "remove needs a path"),
        (patch_body({"op": "remove", "path": "  "}), NoTarget, "remove needs a path"),
        (patch_body({"op": "add", "path": "emails[type eq", "value": "x"}), InvalidPath, "invalid path"),
        (patch_body({"op": "add", "value": {"emails[": "x"}}), InvalidPath, "invalid path"),
        (
            patch_body({"op": "replace", "path": ENTERPRISE_USER, "value": "70001"}),
            InvalidValue,
            f"must be an object holding attributes of {ENTERPRISE_USER}",
        ),
        (patch_body({"op": "remove", "path": CORE_USER}), NoTarget, "cannot be removed"),
        (
            patch_body({"op": "add", "path": ENTERPRISE_USER, "value": {f"{CORE_USER}:title": "x"}}),
            InvalidPath,
            "is a path of its own",
        ),
    ],
)
def test_malformed_patch_bodies_are_refused_with_the_rfc_error_type(
    body: Any, error: type[ScimError], detail: str
) -> None:
    """RFC 7644 3.5.2: a path-less remove is noTarget (3.5.2.2), a bad path invalidPath, anything
    else that is not a PatchOp invalidSyntax (3.12)."""
    with pytest.raises(error) as caught:
        normalize_patch(body, USER)
    assert detail in caught.value.detail


# --- the quirk catalogue -------------------------------------------------------------------------


def test_every_quirk_of_the_catalogue_names_functions_that_exist() -> None:
    """The catalogue lists Entra's quirks Q1 to Q28; each has its handler named in compat.QUIRKS."""
    import importlib

    from bridge.scim.compat import QUIRKS

    assert [quirk.number for quirk in QUIRKS] == [f"Q{n}" for n in range(1, 29)]
    for quirk in QUIRKS:
        assert quirk.sources.startswith("["), quirk
        for reference in quirk.handled_by:
            module_name, _, qualified = reference.partition(":")
            target: object = importlib.import_module(module_name)
            for part in qualified.split("."):
                target = getattr(target, part)
            assert callable(target) and target.__doc__, f"{quirk.number}: {reference} has no docstring"
