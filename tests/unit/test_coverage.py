"""``bridge.mapping.coverage``: which values of a document the map would not keep, purely."""

from __future__ import annotations

from dataclasses import replace

from bridge.mapping.coverage import Leaf, Unstored, leaves, unstored
from bridge.mapping.engine import ResourceMapping
from bridge.mapping.model import Converter, MapSet, ResourceMap

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_every_value_is_a_leaf_with_the_path_the_map_would_write() -> None:
    document = {
        "userName": "ann",
        "name": {"givenName": "Ann", "middleName": ""},
        "emails": [{"type": "work", "value": "a@example.org", "primary": True}, {"value": "b@example.org"}],
        "x509Certificates": [{"value": "MIIB"}],
        ENTERPRISE: {"manager": {"value": "42", "$ref": "../Users/42"}, "department": "Ops"},
    }
    assert [leaf.path for leaf in leaves(document)] == [
        "userName",
        "name.givenName",
        'emails[type eq "work"].value',
        "emails.value",
        "x509Certificates.value",
        f"{ENTERPRISE}:manager.value",
        f"{ENTERPRISE}:department",
    ]


def test_a_label_keeps_the_rfc_types_and_folds_the_rest() -> None:
    assert Leaf(None, "phoneNumbers", "Pager", "value", "1").label == 'phoneNumbers[type eq "Pager"].value'
    assert Leaf(None, "emails", "private", "value", "x").label == 'emails[type eq "(uncommon)"].value'
    assert Leaf(None, "nickName", None, None, "x").label == "nickName"


def test_the_shipped_map_stores_entras_default_user_but_not_what_it_has_no_row_for(maps: MapSet) -> None:
    mapping = ResourceMapping(maps.user)
    entra = {
        "userName": "ann@contoso.com",
        "active": False,
        "displayName": "Ann",
        "emails": [{"primary": True, "type": "work", "value": "ann@contoso.com"}],
        "name": {"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"},
        "addresses": [{"type": "work", "formatted": "1 Main St\r\nTown", "postalCode": "1"}],
        "password": "S3cret!",
        ENTERPRISE: {"employeeNumber": "7", "manager": {"value": "42"}},
    }
    assert unstored(mapping, entra) == unstored(mapping, {})
    found = unstored(mapping, {**entra, "emails": [{"value": "b@example.org"}, {"value": "c@example.org"}]})
    assert [leaf.path for leaf in found.unmapped] == ["emails.value"]  # the first takes the work slot
    assert found.lost == ()


def test_active_is_unmapped_only_where_the_map_has_no_active_rule(maps: MapSet) -> None:
    assert maps.group is not None
    assert [leaf.path for leaf in unstored(ResourceMapping(maps.group), {"active": True}).unmapped] == [
        "active"
    ]
    assert unstored(ResourceMapping(maps.user), {"active": True}).unmapped == ()


def test_attributes_kept_apart_are_not_judged(maps: MapSet) -> None:
    assert maps.group is not None
    group = ResourceMapping(maps.group)
    members = {"displayName": "Ops", "members": [{"value": "1", "type": "User"}]}
    assert unstored(group, members, kept_apart=("members",)).unmapped == ()
    assert [leaf.path for leaf in unstored(group, members).unmapped] == ['members[type eq "User"].value']


def test_a_value_a_rows_conversion_cannot_read_back_is_lost(user_map: ResourceMap) -> None:
    """The map loader only allows conversions that fit the SCIM type; the check stands behind it."""
    rules = tuple(
        replace(rule, converter=Converter("integer")) if rule.ldap == "employeeNumber" else rule
        for rule in user_map.rules
    )
    mapping = ResourceMapping(replace(user_map, rules=rules))
    assert unstored(mapping, {ENTERPRISE: {"employeeNumber": "007"}}).lost == (
        f"{ENTERPRISE}:employeeNumber",
    )
    assert unstored(mapping, {ENTERPRISE: {"employeeNumber": 7}}).lost == ()


def test_only_limits_the_check_to_the_attributes_named_in_any_case(user_map: ResourceMap) -> None:
    """A PATCH checks what its operations wrote; the rest of its document is the entry as read."""
    rules = tuple(
        replace(rule, converter=Converter("integer")) if rule.ldap == "employeeNumber" else rule
        for rule in user_map.rules
    )
    mapping = ResourceMapping(replace(user_map, rules=rules))
    document = {
        "userName": "ann",
        "nickName": "Annie",
        "title": "Boss",
        ENTERPRISE: {"department": "Ops", "employeeNumber": "007", "costCentre": "1"},
    }
    everything = unstored(mapping, document)
    assert [leaf.path for leaf in everything.unmapped] == ["nickName", f"{ENTERPRISE}:costCentre"]
    assert everything.lost == (f"{ENTERPRISE}:employeeNumber",)
    assert unstored(mapping, document, only={(None, "title"), (ENTERPRISE, "department")}) == Unstored()
    nickname = unstored(mapping, document, only={(None, "NICKNAME"), (None, "costCentre")})
    assert ([leaf.path for leaf in nickname.unmapped], nickname.lost) == (["nickName"], ())
    extension = unstored(
        mapping, document, only={(ENTERPRISE.lower(), "costcentre"), (ENTERPRISE, "employeeNumber")}
    )
    assert [leaf.path for leaf in extension.unmapped] == [f"{ENTERPRISE}:costCentre"]
    assert extension.lost == (f"{ENTERPRISE}:employeeNumber",)
    assert unstored(mapping, document, only=()) == Unstored()
