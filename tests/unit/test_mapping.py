"""The attribute map: loading, converters, templates, documents and changes, filter translation.

Keys in brackets ([D1], [I16], ...) resolve in the Sources of ``docs/entra.md``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.directory.base import (
    MATCH_ALL,
    MATCH_NOTHING,
    AllOf,
    AnyOf,
    DirFilter,
    Entry,
    Eq,
    GreaterOrEqual,
    LessOrEqual,
    Modification,
    Negation,
    Present,
    Substring,
)
from bridge.directory.ldap.render import render_filter
from bridge.mapping.engine import UserMapping
from bridge.mapping.filters import FilterTranslator
from bridge.mapping.load import MapError, load_user_map, parse_maps, parse_user_map
from bridge.mapping.model import PPOLICY_LOCK, Converter, ResourceMap
from bridge.scim.errors import InvalidFilter, InvalidValue
from bridge.scim.filter import parse_filter
from bridge.scim.schemas import ENTERPRISE_USER, USER
from tests.conftest import OPENLDAP_MAP
from tests.samples import EVERY_ROW

MapWith = Callable[[dict[str, Any]], ResourceMap]
STRIP = {"attributes": {"userName": {"ldap": "uid", "strip_suffix": "@contoso.com"}}}


def shipped() -> dict[str, Any]:
    """The shipped map as parsed YAML, to break on purpose."""
    return yaml.safe_load(OPENLDAP_MAP.read_text())


def problems_of(data: Any) -> list[str]:
    with pytest.raises(MapError) as caught:
        parse_user_map(data, "maps/test.yaml")
    assert str(caught.value).startswith("maps/test.yaml: ")
    return caught.value.problems


def with_rows(**rows: Any) -> dict[str, Any]:
    data = shipped()
    data["user"]["attributes"].update(rows)
    return data


def with_user(**keys: Any) -> dict[str, Any]:
    data = shipped()
    data["user"].update(keys)
    return data


# --- loading -------------------------------------------------------------------------------------


def test_the_shipped_openldap_map_loads_with_every_row(user_map: ResourceMap) -> None:
    """config/maps/openldap.yaml compiles, rdn userName -> uid, ppolicy, our auxiliary class."""
    assert len(user_map.rules) == len(shipped()["user"]["attributes"])
    assert user_map.rdn.ldap == "uid"
    assert user_map.object_classes == ("inetOrgPerson", "scimBridgeObject")
    assert user_map.auxiliary_classes == ("scimBridgeObject",)
    assert (user_map.active.method, user_map.active.attribute, user_map.active.disabled_value) == (
        "ppolicy",
        "pwdAccountLockedTime",
        PPOLICY_LOCK,
    )


BAD_ROWS = [
    pytest.param(
        {"emails.value": "mail2"},
        "user.attributes.emails.value: emails is multi-valued: name the element, "
        'e.g. emails[type eq "work"].value',
        id="multi-valued-without-element",
    ),
    pytest.param(
        {'emails[type eq "work"]': "mail2"},
        'user.attributes.emails[type eq "work"]: name the sub-attribute of emails, e.g. .value',
        id="element-without-sub-attribute",
    ),
    pytest.param(
        {"favouriteColour": "colour"},
        "user.attributes.favouriteColour: 'favouriteColour' is not an attribute of "
        "urn:ietf:params:scim:schemas:core:2.0:User",
        id="unknown-attribute",
    ),
    pytest.param(
        {"urn:example:ext:badge": "badge"},
        "user.attributes.urn:example:ext:badge: unknown schema URN 'urn:example:ext'",
        id="unknown-schema",
    ),
    pytest.param(
        {"name": "cn2"},
        "user.attributes.name: name is complex: name a sub-attribute, e.g. name.formatted",
        id="complex-without-sub-attribute",
    ),
    pytest.param(
        {'nickName[type eq "x"]': "nick"},
        'user.attributes.nickName[type eq "x"]: nickName is single-valued: it takes no [filter]',
        id="filter-on-single-valued",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick", "lpad": "x"}},
        "user.attributes.nickName.lpad: unknown key (known: ldap, convert, strip_suffix, default, scheme)",
        id="unknown-row-key",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick name"}},
        "user.attributes.nickName.ldap: must be an LDAP attribute name, not 'nick name'",
        id="bad-ldap-name",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick", "convert": "date"}},
        "user.attributes.nickName.convert: nickName is a SCIM string, so convert must be string, "
        "postal_address or reference, not 'date'",
        id="unknown-converter",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick", "convert": "integer"}},
        "user.attributes.nickName.convert: nickName is a SCIM string, so convert must be string, "
        "postal_address or reference, not 'integer'",
        id="a-converter-that-would-change-the-json-type",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick", "defualt": ["{userName}"]}},
        "user.attributes.nickName.defualt: unknown key (did you mean 'default'?)",
        id="a-typo-in-a-row-key",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick", "strip_suffix": "contoso.com"}},
        "user.attributes.nickName.strip_suffix: must be a domain suffix starting with '@'",
        id="suffix-without-at",
    ),
    pytest.param(
        {"nickName": {"ldap": "nick", "default": ["{favouriteColour}"]}},
        "user.attributes.nickName.default[0]: 'favouriteColour' is not an attribute",
        id="template-naming-an-unknown-attribute",
    ),
    pytest.param(
        {"nickName": 5},
        "user.attributes.nickName: must be an LDAP attribute name or a mapping with 'ldap'",
        id="row-of-the-wrong-type",
    ),
    pytest.param(
        {"nickName": "cn"},
        "user.attributes.nickName: LDAP attribute cn is already mapped from name.formatted",
        id="duplicate-ldap-attribute",
    ),
    pytest.param(
        {"nickName": "CN"},
        "user.attributes.nickName: LDAP attribute CN is already mapped from name.formatted",
        id="duplicate-ldap-attribute-in-another-case",
    ),
]


@pytest.mark.parametrize(("rows", "problem"), BAD_ROWS)
def test_a_bad_row_is_reported_by_its_yaml_path_with_a_hint(rows: dict[str, Any], problem: str) -> None:
    """Every map problem names the row's YAML path and says what would be right (docs/architecture.md,
    Principles 5)."""
    problems = problems_of(with_rows(**rows))
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_every_bad_row_is_reported_at_once() -> None:
    """An admin fixes a map in one round: all problems, not the first (docs/architecture.md, Principles 5)."""
    problems = problems_of(with_rows(favouriteColour="colour", nickName="cn", **{"emails.value": "mail2"}))
    assert [problem.split(":")[0] for problem in problems] == [
        "user.attributes.favouriteColour",
        "user.attributes.emails.value",
        "user.attributes.nickName",
    ]


BAD_SECTIONS = [
    pytest.param(
        with_user(colour="blue"),
        "user.colour: unknown key "
        "(known: object_classes, auxiliary_classes, filter, rdn, derived, active, constants, attributes)",
        id="unknown-user-key",
    ),
    pytest.param(
        with_user(rdn="nickName"),
        "user.rdn: 'nickName' must be one of the mapped SCIM attributes (usually userName)",
        id="rdn-not-mapped",
    ),
    pytest.param(
        with_user(rdn="name.givenName"),
        "user.rdn: must be a simple single-valued attribute such as userName",
        id="rdn-on-a-sub-attribute",
    ),
    pytest.param(
        with_user(object_classes=[]),
        "user.object_classes: a list of object classes for new entries",
        id="no-object-classes",
    ),
    pytest.param(
        with_user(auxiliary_classes="scimBridgeObject"),
        "user.auxiliary_classes: a list of auxiliary classes",
        id="auxiliary-classes-not-a-list",
    ),
    pytest.param(
        with_user(active={"method": "lock"}),
        "user.active.method: must be ppolicy, attribute or uac, not 'lock'",
        id="unknown-disable-method",
    ),
    pytest.param(
        with_user(active="ppolicy"),
        "user.active: must be a mapping with 'method' (ppolicy or attribute)",
        id="active-not-a-mapping",
    ),
    pytest.param(
        with_user(active={"method": "attribute", "attribute": "nsAccountLock"}),
        "user.active.disabled_value: the value it holds while disabled",
        id="attribute-method-without-value",
    ),
    pytest.param(
        with_user(active={"method": "attribute", "disabled_value": "TRUE"}),
        "user.active.attribute: the LDAP attribute that marks a disabled account",
        id="attribute-method-without-attribute",
    ),
    pytest.param(
        with_user(active={"method": "ppolicy", "atribute": "x"}),
        "user.active.atribute: unknown key",
        id="unknown-active-key",
    ),
    pytest.param(
        with_user(attributes={}),
        "user.attributes: a mapping of SCIM paths to LDAP attributes is required",
        id="no-rows",
    ),
    pytest.param({"users": {}}, "user: missing; the map starts with a 'user:' section", id="no-user-section"),
    pytest.param(None, "user: missing", id="empty-file"),
]


@pytest.mark.parametrize(("data", "problem"), BAD_SECTIONS)
def test_bad_sections_are_reported_by_their_yaml_path(data: Any, problem: str) -> None:
    """Unknown keys are errors, a missing rdn mapping or disable method is named (docs/architecture.md,
    Principles 5)."""
    assert any(found.startswith(problem) for found in problems_of(data)), problems_of(data)


def test_a_map_without_username_says_both_that_it_is_required_and_that_the_rdn_is_missing() -> None:
    """userName is required and unique (RFC 7643 4.1.1), and the default rdn."""
    data = shipped()
    del data["user"]["attributes"]["userName"]
    assert problems_of(data) == [
        "user.rdn: 'userName' must be one of the mapped SCIM attributes (usually userName)",
        "user.attributes.userName: userName must be mapped (it is required and unique)",
    ]


def test_the_attribute_disable_method_reads_yaml_booleans_as_ldap_booleans(map_with: MapWith) -> None:
    """YAML reads an unquoted TRUE as a boolean; LDAP spells it TRUE (389-DS nsAccountLock)."""
    active = map_with(
        {"active": {"method": "attribute", "attribute": "nsAccountLock", "disabled_value": True}}
    ).active
    assert (active.method, active.attribute, active.disabled_value, active.enabled_value) == (
        "attribute",
        "nsAccountLock",
        "TRUE",
        None,
    )


def test_load_user_map_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    """A missing file and broken YAML are MapErrors naming the file, not tracebacks."""
    with pytest.raises(MapError, match="cannot read"):
        load_user_map(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("user: [unclosed\n")
    with pytest.raises(MapError, match="not valid YAML") as caught:
        load_user_map(broken)
    assert caught.value.source == str(broken)


# --- converters ----------------------------------------------------------------------------------

ROUND_TRIPS = [
    pytest.param(Converter(), "Jane DOE", "Jane DOE", id="string-keeps-case"),
    pytest.param(Converter(), "+1 (555) 010-0000", "+1 (555) 010-0000", id="string-keeps-phone-format"),
    pytest.param(Converter("boolean"), True, "TRUE", id="boolean-true"),
    pytest.param(Converter("boolean"), False, "FALSE", id="boolean-false"),
    pytest.param(Converter("integer"), 42, "42", id="integer"),
    pytest.param(Converter("integer"), -7, "-7", id="negative-integer"),
    pytest.param(
        Converter("postal_address"), "1 Main St\nSpringfield", "1 Main St$Springfield", id="postal-lines"
    ),
    pytest.param(
        Converter("postal_address"), "Costs $5\nC:\\temp", "Costs \\245$C:\\5Ctemp", id="postal-escapes"
    ),
    pytest.param(Converter("postal_address"), "a\\24b", "a\\5C24b", id="postal-escape-lookalike"),
    pytest.param(Converter(strip_suffix="@contoso.com"), "jdoe@contoso.com", "jdoe", id="suffix-stripped"),
    pytest.param(
        Converter(strip_suffix="@contoso.com"), "bob@fabrikam.com", "bob@fabrikam.com", id="other-domain"
    ),
    # The suffix is restored as configured, so a value in another case is kept whole: Entra compares
    # userName exactly and would re-send a difference every cycle [D1][I16].
    pytest.param(
        Converter(strip_suffix="@contoso.com"), "JDoe@contoso.com", "JDoe", id="suffix-stripped-keeps-case"
    ),
    pytest.param(
        Converter(strip_suffix="@contoso.com"),
        "JDoe@CONTOSO.com",
        "JDoe@CONTOSO.com",
        id="suffix-in-another-spelling-kept-whole",
    ),
]


@pytest.mark.parametrize(("converter", "scim", "ldap"), ROUND_TRIPS)
def test_converters_store_values_and_read_them_back_exactly(
    converter: Converter, scim: Any, ldap: str
) -> None:
    """Values are converted, never re-formatted: Entra re-sends anything that reads back different
    [D1][I16]. Postal Address lines are '$'-separated with '$' and '\\' escaped (RFC 4517 3.3.28)."""
    assert converter.to_ldap(scim) == ldap
    assert converter.from_ldap(ldap) == scim


@pytest.mark.parametrize(
    ("converter", "value", "reason"),
    [
        (Converter("boolean"), "True", "must be true or false"),
        (Converter("integer"), "4.2", "must be an integer"),
        (Converter("integer"), True, "must be an integer"),
        (Converter("integer"), "x", "must be an integer"),
        (Converter(), 42, "must be a string"),
        (Converter(strip_suffix="@contoso.com"), "jdoe", "must end with @contoso.com"),
        (Converter(strip_suffix="@contoso.com"), "@contoso.com", "has nothing before the suffix"),
    ],
)
def test_converters_refuse_values_the_directory_cannot_hold(
    converter: Converter, value: Any, reason: str
) -> None:
    """A value without a directory spelling is a ValueError, which the engine turns into invalidValue."""
    with pytest.raises(ValueError, match=reason):
        converter.to_ldap(value)


@pytest.mark.parametrize(
    ("value", "equal"),
    [
        ("JDOE@CONTOSO.COM", ("JDOE@CONTOSO.COM", "JDOE")),
        ("jdoe@contoso.com", ("jdoe", "jdoe@contoso.com")),
        ("no-at-sign", ()),
    ],
)
def test_strip_suffix_equality_finds_both_spellings_of_a_username(value: str, equal: tuple[str, ...]) -> None:
    """Filters and the uniqueness check compare userName ignoring case, as Entra's matching does [D1]."""
    assert Converter(strip_suffix="@contoso.com").equality_values(value) == equal


def test_a_directory_value_that_is_not_a_number_reads_back_as_text() -> None:
    """An admin's non-numeric value under an integer row is shown, not crashed on."""
    assert Converter("integer").from_ldap("n/a") == "n/a"


# --- documents -----------------------------------------------------------------------------------

FULL = EVERY_ROW

FULL_LDAP = {
    "uid": ("Jane.Doe@Contoso.com",),
    "scimExternalId": ("3F1E-abc-0042",),
    "givenName": ("Jane",),
    "sn": ("de la Doe",),
    "cn": ("Jane de la Doe",),
    "displayName": ("Jane DOE",),
    "title": ("VP, R&D",),
    "preferredLanguage": ("en-US",),
    "mail": ("Jane.Doe@Contoso.com",),
    "telephoneNumber": ("+1 (555) 010-0000",),
    "mobile": ("+44 7700 900123",),
    "facsimileTelephoneNumber": ("555.010.0001 ext. 2",),
    "street": ("1 Main St.",),
    "l": ("Springfield",),
    "st": ("IL",),
    "postalCode": ("62701-0001",),
    "postalAddress": ("1 Main St.$Springfield, IL 62701",),
    "employeeNumber": ("007",),
    "departmentNumber": ("R&D",),
    "o": ("Contoso Ltd.",),
    "scimCostCenter": ("CC-4711",),
    "scimDivision": ("Research",),
    "manager": (),  # a reference: the service turns an id into the manager's DN before this point
    "userPassword": (),  # write-only: written only when a document carries a password
}


def entry(
    values: dict[str, tuple[str, ...]],
    object_classes: tuple[str, ...] = ("inetOrgPerson", "scimBridgeObject"),
) -> Entry:
    attributes = {name.lower(): tuple(v) for name, v in values.items() if v}
    attributes["objectclass"] = object_classes
    return Entry("uid=x,ou=people,dc=example,dc=org", "ou=people,dc=example,dc=org", "id-1", attributes)


@pytest.fixture
def mapping(user_map: ResourceMap) -> UserMapping:
    """The engine over the shipped map."""
    return UserMapping(user_map)


@pytest.fixture
def stored(mapping: UserMapping) -> Entry:
    """The entry the shipped map makes of ``FULL``."""
    return entry(mapping.to_ldap(FULL))


def test_every_row_of_the_shipped_map_stores_the_value_in_its_ldap_attribute(mapping: UserMapping) -> None:
    """One LDAP attribute per row, values as sent (config/maps/openldap.yaml)."""
    assert mapping.to_ldap(FULL) == FULL_LDAP


def test_every_row_of_the_shipped_map_reads_back_exactly_as_sent(mapping: UserMapping, stored: Entry) -> None:
    """Case, phone formats and address lines come back unchanged, so Entra has nothing to re-send
    [D1][I16] (Q22)."""
    assert mapping.to_document(stored) == FULL


@pytest.mark.parametrize(
    ("locked_time", "active"),
    [(PPOLICY_LOCK, False), ("20261122083000Z", True)],
    ids=["permanent-lock", "temporary-lockout"],
)
def test_a_locked_entry_reads_back_inactive_and_a_temporary_lockout_does_not(
    mapping: UserMapping, locked_time: str, active: bool
) -> None:
    """ppolicy's permanent lock 000001010000Z is "disabled"; a timestamp from failed binds is not,
    so a client never unlocks an account under attack by re-enabling it (config/maps/openldap.yaml)."""
    locked = entry({"uid": ("a",), "pwdAccountLockedTime": (locked_time,)})
    assert mapping.to_document(locked)["active"] is active


TEMPLATES = [
    pytest.param({"userName": "u@contoso.com"}, "u@contoso.com", "u@contoso.com", id="only-userName"),
    pytest.param(
        {"userName": "u@contoso.com", "displayName": "Dana D"}, "Dana D", "Dana D", id="displayName"
    ),
    pytest.param(
        {"userName": "u@contoso.com", "name": {"givenName": "Ann", "familyName": "Lee"}},
        "Lee",
        "Ann Lee",
        id="given-and-family-name",
    ),
    pytest.param(
        {"userName": "u@contoso.com", "name": {"givenName": "Ann"}},
        "u@contoso.com",
        "u@contoso.com",
        id="a-template-with-a-missing-value-is-skipped",
    ),
    pytest.param(
        {"userName": "u@contoso.com", "displayName": "D", "name": {"familyName": "F", "formatted": "Dr F"}},
        "F",
        "Dr F",
        id="sent-values-win-over-templates",
    ),
    pytest.param(
        {"userName": "u@contoso.com", "displayName": " "},
        "u@contoso.com",
        "u@contoso.com",
        id="a-blank-rendering-falls-through",
    ),
]


@pytest.mark.parametrize(("document", "sn", "cn"), TEMPLATES)
def test_cn_and_sn_are_filled_from_templates_when_the_client_sent_none(
    mapping: UserMapping, document: dict[str, Any], sn: str, cn: str
) -> None:
    """person requires cn and sn (RFC 4519); the map's default templates fill them, first complete
    template wins (config/maps/openldap.yaml)."""
    values = mapping.to_ldap(document)
    assert (values["sn"], values["cn"]) == ((sn,), (cn,))


def test_one_element_a_type_is_kept_and_two_different_ones_are_refused(mapping: UserMapping) -> None:
    """The map keeps one work email: a second that differs only in ``primary`` is the same value; one with
    another address would be dropped silently, so it is refused; an untyped one takes the free slot."""
    same = [
        {"type": "work", "value": "a@contoso.com", "primary": True},
        {"type": "work", "value": "a@contoso.com"},
    ]
    assert mapping.to_ldap({"userName": "a@contoso.com", "emails": same})["mail"] == ("a@contoso.com",)
    untyped = [{"value": "b@contoso.com"}]
    assert mapping.to_ldap({"userName": "a@contoso.com", "emails": untyped})["mail"] == ("b@contoso.com",)
    two = [*same, {"type": "work", "value": "b@contoso.com"}]
    with pytest.raises(InvalidValue, match='emails has 2 elements of type "work"'):
        mapping.to_ldap({"userName": "a@contoso.com", "emails": two})


def test_a_value_the_converter_refuses_is_invalid_value_naming_the_row(map_with: MapWith) -> None:
    """strip_suffix refuses a userName without '@' (config/maps/openldap.yaml comment) with invalidValue."""
    mapping = UserMapping(map_with(STRIP))
    with pytest.raises(InvalidValue, match=r"userName must end with @contoso\.com"):
        mapping.to_ldap({"userName": "jdoe"})


def test_a_new_entry_carries_the_object_classes_and_the_lock_when_inactive(mapping: UserMapping) -> None:
    """POST with active=false creates the entry locked in the same add (RFC 7644 3.3)."""
    assert mapping.new_entry({"userName": "u"}, active=False) == {
        "uid": ("u",),
        "sn": ("u",),
        "cn": ("u",),
        "objectClass": ("inetOrgPerson", "scimBridgeObject"),
        "pwdAccountLockedTime": (PPOLICY_LOCK,),
    }
    assert "pwdAccountLockedTime" not in mapping.new_entry({"userName": "u"}, active=True)


# --- changes -------------------------------------------------------------------------------------


def changed(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(FULL)
    out.update(changes)
    return {key: value for key, value in out.items() if value is not None}


CHANGES = [
    pytest.param(FULL, [], id="nothing-differs-nothing-is-written"),
    pytest.param(changed(title="CTO"), [Modification("replace", "title", ("CTO",))], id="one-attribute"),
    pytest.param(changed(title=None), [Modification("replace", "title", ())], id="a-cleared-attribute"),
    pytest.param(
        changed(emails=[{"type": "work", "value": "jane.doe@contoso.com"}]),
        [Modification("replace", "mail", ("jane.doe@contoso.com",))],
        id="a-case-only-change-is-a-change",
    ),
    pytest.param(changed(userName="jane@contoso.com"), [], id="the-rdn-is-left-to-the-rename"),
    pytest.param(
        changed(active=False),
        [Modification("replace", "pwdAccountLockedTime", (PPOLICY_LOCK,))],
        id="disable-with-ppolicy",
    ),
    pytest.param(
        changed(emails=[{"type": "work", "value": "Jane.Doe@Contoso.com", "primary": True}], nickName="J"),
        [],
        id="unmapped-values-write-nothing",
    ),
]


@pytest.mark.parametrize(("new", "expected"), CHANGES)
def test_changes_are_the_smallest_set_of_modifications(
    mapping: UserMapping, stored: Entry, new: dict[str, Any], expected: list[Modification]
) -> None:
    """Read, patch, diff, write: only attributes whose values differ are written, so an identical
    Entra cycle writes nothing (bridge/mapping/engine.py)."""
    assert mapping.changes(stored, FULL, new) == expected


def test_enabling_a_ppolicy_locked_entry_deletes_only_the_permanent_lock(mapping: UserMapping) -> None:
    """The lock value is deleted, not the attribute, so a concurrent lockout time is not lost."""
    locked = entry({**mapping.to_ldap(FULL), "pwdAccountLockedTime": (PPOLICY_LOCK,)})
    assert mapping.changes(locked, {**FULL, "active": False}, FULL) == [
        Modification("delete", "pwdAccountLockedTime", (PPOLICY_LOCK,)),
        Modification("replace", "scimDisabledAt", ()),  # the time of the disable goes too
    ]


def test_a_disable_records_when_in_the_since_attribute_and_a_disabled_create_too(
    user_map: ResourceMap, mapping: UserMapping, stored: Entry
) -> None:
    """``active.since`` (the shipped map: scimDisabledAt) holds the time of the disable, which ``sweep``
    compares with deprovisioning.delete_after_days."""
    assert user_map.active is not None and user_map.active.since == "scimDisabledAt"
    assert mapping.changes(stored, FULL, {**FULL, "active": False}, now="20261122101500Z") == [
        Modification("replace", "pwdAccountLockedTime", (PPOLICY_LOCK,)),
        Modification("replace", "scimDisabledAt", ("20261122101500Z",)),
    ]
    assert mapping.changes(stored, FULL, {**FULL, "title": "x"}, now="20261122101500Z") == [
        Modification("replace", "title", ("x",))
    ]
    created = mapping.new_entry(FULL, False, now="20261122101500Z")
    assert created["scimDisabledAt"] == ("20261122101500Z",)
    assert "scimDisabledAt" not in mapping.new_entry(FULL, True, now="20261122101500Z")


def test_since_is_an_ldap_attribute_name(map_with: MapWith) -> None:
    with pytest.raises(MapError, match=r"active.since: the LDAP attribute that records when"):
        map_with({"active": {"method": "ppolicy", "since": "not an attribute!"}})
    rule = map_with(
        {
            "active": {
                "method": "attribute",
                "attribute": "nsAccountLock",
                "disabled_value": "TRUE",
                "since": "description",
            }
        }
    ).active
    assert rule is not None and (rule.method, rule.since) == ("attribute", "description")


@pytest.mark.parametrize(
    ("active", "disable", "enable"),
    [
        (
            {"method": "attribute", "attribute": "nsAccountLock", "disabled_value": "TRUE"},
            Modification("replace", "nsAccountLock", ("TRUE",)),
            Modification("delete", "nsAccountLock", ("TRUE",)),
        ),
        (
            {
                "method": "attribute",
                "attribute": "nsAccountLock",
                "disabled_value": "TRUE",
                "enabled_value": "FALSE",
            },
            Modification("replace", "nsAccountLock", ("TRUE",)),
            Modification("replace", "nsAccountLock", ("FALSE",)),
        ),
    ],
)
def test_the_attribute_disable_method_sets_and_removes_or_resets_its_value(
    map_with: MapWith, active: dict[str, Any], disable: Modification, enable: Modification
) -> None:
    """A configured attribute holds disabled_value while disabled; on enable it gets enabled_value,
    or the disabled value is removed (bridge/mapping/model.py ActiveRule)."""
    mapping = UserMapping(map_with({"active": active}))
    values = mapping.to_ldap(FULL)
    assert mapping.changes(entry(values), FULL, {**FULL, "active": False}) == [disable]
    disabled = entry({**values, "nsAccountLock": ("true",)})
    assert mapping.is_active(disabled) is False
    assert mapping.changes(disabled, {**FULL, "active": False}, FULL) == [enable]
    if active.get("enabled_value"):
        assert mapping.is_active(entry({**values, "nsAccountLock": ("FALSE",)})) is True


def test_an_adopted_entry_gains_the_auxiliary_class_with_its_first_write(mapping: UserMapping) -> None:
    """Entries an admin created before get scimBridgeObject the first time the bridge writes to them,
    and not when nothing is written (config/maps/openldap.yaml auxiliary_classes)."""
    adopted = entry(mapping.to_ldap(FULL), object_classes=("top", "person", "inetOrgPerson"))
    assert mapping.changes(adopted, FULL, FULL) == []
    assert mapping.changes(adopted, FULL, changed(title="CTO")) == [
        Modification("add", "objectClass", ("scimBridgeObject",)),
        Modification("replace", "title", ("CTO",)),
    ]


# --- filters -------------------------------------------------------------------------------------


def uuid_filter(value: str) -> DirFilter:
    return Eq("entryUUID", value)


def translate(resource_map: ResourceMap, text: str) -> DirFilter:
    return FilterTranslator(UserMapping(resource_map), USER, uuid_filter).translate(parse_filter(text))


WORK_MAIL = Present("mail")
TRANSLATIONS = [
    pytest.param('userName eq "a@b.c"', Eq("uid", "a@b.c"), "(uid=a@b.c)", id="D1-userName-eq"),
    pytest.param('USERNAME EQ "a@b.c"', Eq("uid", "a@b.c"), "(uid=a@b.c)", id="R1-any-case"),
    pytest.param(
        'externalId eq "0d5c-41"',
        Eq("scimExternalId", "0d5c-41"),
        "(scimExternalId=0d5c-41)",
        id="I17-externalId",
    ),
    pytest.param(
        'emails[type eq "work"].value eq "a@b.c"',
        AllOf((WORK_MAIL, Eq("mail", "a@b.c"))),
        "(&(mail=*)(mail=a@b.c))",
        id="D1-work-email",
    ),
    pytest.param(
        'userName eq "a@b.c" and externalId eq "x"',
        AllOf((Eq("uid", "a@b.c"), Eq("scimExternalId", "x"))),
        "(&(uid=a@b.c)(scimExternalId=x))",
        id="D18-and",
    ),
    pytest.param(
        'userName eq "a" or title eq "b"',
        AnyOf((Eq("uid", "a"), Eq("title", "b"))),
        "(|(uid=a)(title=b))",
        id="or",
    ),
    pytest.param('not (userName eq "x")', Negation(Eq("uid", "x")), "(!(uid=x))", id="not"),
    pytest.param("userName pr", Present("uid"), "(uid=*)", id="pr"),
    pytest.param('title ne "x"', Negation(Eq("title", "x")), "(!(title=x))", id="ne"),
    pytest.param('userName sw "j"', Substring("uid", initial="j"), "(uid=j*)", id="sw"),
    pytest.param('userName ew ".com"', Substring("uid", final=".com"), "(uid=*.com)", id="ew"),
    pytest.param(
        'emails co "@b"',
        AllOf((WORK_MAIL, Substring("mail", any=("@b",)))),
        "(&(mail=*)(mail=*@b*))",
        id="co",
    ),
    pytest.param(
        'title gt "m"',
        AllOf((GreaterOrEqual("title", "m"), Negation(Eq("title", "m")))),
        "(&(title>=m)(!(title=m)))",
        id="gt",
    ),
    pytest.param('title ge "m"', GreaterOrEqual("title", "m"), "(title>=m)", id="ge"),
    pytest.param('title le "m"', LessOrEqual("title", "m"), "(title<=m)", id="le"),
    pytest.param(
        'title lt "m"',
        AllOf((LessOrEqual("title", "m"), Negation(Eq("title", "m")))),
        "(&(title<=m)(!(title=m)))",
        id="lt",
    ),
    pytest.param("name.givenName eq null", Negation(Present("givenName")), "(!(givenName=*))", id="eq-null"),
    pytest.param(
        f'{ENTERPRISE_USER}:department eq "R&D"',
        Eq("departmentNumber", "R&D"),
        "(departmentNumber=R&D)",
        id="enterprise-urn",
    ),
    pytest.param(
        'phoneNumbers eq "1"',
        AnyOf(
            (
                AllOf((Present("telephoneNumber"), Eq("telephoneNumber", "1"))),
                AllOf((Present("mobile"), Eq("mobile", "1"))),
                AllOf((Present("facsimileTelephoneNumber"), Eq("facsimileTelephoneNumber", "1"))),
            )
        ),
        "(|(&(telephoneNumber=*)(telephoneNumber=1))(&(mobile=*)(mobile=1))"
        "(&(facsimileTelephoneNumber=*)(facsimileTelephoneNumber=1)))",
        id="every-element-type-of-a-multi-valued-attribute",
    ),
    pytest.param(
        'emails[type eq "home"].value eq "x"', MATCH_NOTHING, "(!(objectClass=*))", id="unmapped-element-type"
    ),
    pytest.param(
        "active eq false",
        Eq("pwdAccountLockedTime", PPOLICY_LOCK),
        "(pwdAccountLockedTime=000001010000Z)",
        id="inactive",
    ),
    pytest.param(
        'active eq "True"',
        Negation(Eq("pwdAccountLockedTime", PPOLICY_LOCK)),
        "(!(pwdAccountLockedTime=000001010000Z))",
        id="D2-active-as-a-string",
    ),
    pytest.param('id eq "2f6c-1"', Eq("entryUUID", "2f6c-1"), "(entryUUID=2f6c-1)", id="id"),
    pytest.param("id pr", MATCH_ALL, "(objectClass=*)", id="id-pr"),
    pytest.param(
        'userName eq "*)(uid=*"', Eq("uid", "*)(uid=*"), r"(uid=\2a\29\28uid=\2a)", id="injection-is-escaped"
    ),
    pytest.param('userName eq "a\\\\b"', Eq("uid", "a\\b"), r"(uid=a\5cb)", id="backslash-is-escaped"),
    pytest.param(
        'userName co "a*b"',
        Substring("uid", any=("a*b",)),
        r"(uid=*a\2ab*)",
        id="star-in-substring-is-escaped",
    ),
    pytest.param('userName eq "\\u0000"', Eq("uid", "\x00"), r"(uid=\00)", id="nul-is-escaped"),
]


@pytest.mark.parametrize(("text", "expected", "rendered"), TRANSLATIONS)
def test_scim_filters_become_directory_filters_with_every_value_escaped(
    user_map: ResourceMap, text: str, expected: DirFilter, rendered: str
) -> None:
    """The directory answers the filter (RFC 7644 3.4.2.2 -> RFC 4515); hostile values never become
    filter syntax (RFC 4515 section 3)."""
    translated = translate(user_map, text)
    assert translated == expected
    assert render_filter(translated) == rendered


STRIPPED = [
    pytest.param(
        'userName eq "jdoe@contoso.com"',
        AnyOf((Eq("uid", "jdoe"), Eq("uid", "jdoe@contoso.com"))),
        id="the-suffix-is-stripped",
    ),
    pytest.param(
        'userName eq "JDOE@CONTOSO.COM"',
        AnyOf((Eq("uid", "JDOE@CONTOSO.COM"), Eq("uid", "JDOE"))),
        id="in-any-case",
    ),
    pytest.param('userName eq "bob@fabrikam.com"', Eq("uid", "bob@fabrikam.com"), id="other-domains-whole"),
    pytest.param(
        'userName eq "5d1f0b32-8a1e-4c1b-9a63-1f0e2d3c4b5a"', MATCH_NOTHING, id="D1-R7-test-connection-guid"
    ),
    pytest.param('userName eq "*)(uid=*"', MATCH_NOTHING, id="unstorable-values-match-nothing"),
    pytest.param('userName ne "jdoe"', MATCH_ALL, id="ne-an-unstorable-value-matches-all"),
    pytest.param('not (userName eq "x")', MATCH_ALL, id="not-of-nothing"),
]


@pytest.mark.parametrize(("text", "expected"), STRIPPED)
def test_filters_on_a_stripped_username_compare_the_stored_form(
    map_with: MapWith, text: str, expected: DirFilter
) -> None:
    """With strip_suffix, Entra's userName filters find uid=jdoe, and Test Connection's random GUID
    is answered without asking the directory [D1][R7]."""
    assert translate(map_with(STRIP), text) == expected


REFUSED = [
    pytest.param(
        None, 'favouriteColour eq "x"', "'favouriteColour' is not an attribute of a User", id="unknown"
    ),
    pytest.param(None, 'nickName eq "x"', "nickName is not stored by the attribute map", id="unmapped"),
    pytest.param(None, 'meta.lastModified gt "2020-01-01"', "filtering on meta is not supported", id="meta"),
    pytest.param(None, 'name eq "x"', "name is complex: filter on a sub-attribute", id="complex"),
    pytest.param(None, "userName eq true", "userName cannot be compared with True", id="boolean-on-a-string"),
    pytest.param(None, 'id co "x"', "id can only be compared with eq or ne", id="id-substring"),
    pytest.param(None, 'active eq "maybe"', "active is a boolean", id="active-not-boolean"),
    pytest.param(
        None,
        'addresses[type eq "work"].formatted co "Main"',
        "is converted before it is stored, so 'co' cannot be answered exactly",
        id="substring-of-a-converted-value",
    ),
    pytest.param(
        STRIP, 'userName sw "j"', "so 'sw' cannot be answered exactly", id="sw-on-a-stripped-userName"
    ),
    pytest.param(
        STRIP, 'userName co "doe"', "so 'co' cannot be answered exactly", id="co-on-a-stripped-userName"
    ),
    pytest.param(
        STRIP, 'userName gt "j"', "'gt' is not defined for userName", id="gt-on-a-stripped-userName"
    ),
]


@pytest.mark.parametrize(("changes", "text", "detail"), REFUSED)
def test_filters_that_cannot_be_answered_exactly_are_invalid_filter(
    map_with: MapWith, changes: dict[str, Any] | None, text: str, detail: str
) -> None:
    """Never answered wrongly: refused with invalidFilter and the reason (RFC 7644 3.4.2.2, 3.12)."""
    with pytest.raises(InvalidFilter) as caught:
        translate(map_with(changes or {}), text)
    assert detail in caught.value.detail


# --- group members ----------------------------------------------------------------------------------

ON_MEMBERS = {"attribute": "scimMemberOf", "kept_on": "members"}


def with_group(**keys: Any) -> dict[str, Any]:
    data = shipped()
    data["group"].update(keys)
    return data


def group_members_problems(members: Any) -> list[str]:
    with pytest.raises(MapError) as caught:
        parse_maps(with_group(members=members), "maps/test.yaml")
    return caught.value.problems


def test_membership_kept_on_the_members_loads_with_its_defaults() -> None:
    group = parse_maps(with_group(object_classes=["groupOfURLs"], members=ON_MEMBERS), "maps/test.yaml").group
    assert group is not None and group.members is not None
    rule = group.members
    assert (rule.attribute, rule.holds, rule.placeholder) == ("scimMemberOf", "dn", None)
    assert rule.on_members and (rule.url_attribute, rule.member_class) == ("memberURL", "scimBridgeObject")
    assert not parse_maps(shipped(), "maps/test.yaml").group.members.on_members  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ({**ON_MEMBERS, "kept_on": "users"}, "group.members.kept_on: must be group or members, not 'users'"),
        ({**ON_MEMBERS, "attribute": "member"}, "group.members.attribute: with kept_on: members this is"),
        ({**ON_MEMBERS, "attribute": "scim MemberOf"}, "group.members.attribute: an LDAP attribute"),
        ({**ON_MEMBERS, "url_attribute": 7}, "group.members.url_attribute: an LDAP attribute"),
        ({**ON_MEMBERS, "placeholder": "cn=x"}, "group.members.placeholder: a group whose members keep"),
        ({"attribute": "member", "placeholder": "cn=x", "member_class": "x"}, "group.members: url_attribute"),
    ],
)
def test_bad_member_settings_are_reported_by_their_yaml_path(members: Any, problem: str) -> None:
    found = group_members_problems(members)
    assert any(p.startswith(problem) for p in found), found
