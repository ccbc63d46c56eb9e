"""Directory flavours: how ids are spelled and found (OpenLDAP entryUUID, AD objectGUID)."""

from __future__ import annotations

import uuid

from bridge.directory.base import BinaryEq, Eq
from bridge.directory.ldap.flavors import ACTIVE_DIRECTORY, OPENLDAP
from bridge.directory.ldap.render import render_filter

GUID = "01234567-89ab-cdef-0123-456789abcdef"


def test_an_ad_object_guid_reads_as_the_standard_uuid_string() -> None:
    """objectGUID's first three fields are little-endian (MS-DTYP 2.3.4.2); the SCIM id is the usual
    spelling, so Entra and admins see what AD tools show."""
    raw = uuid.UUID(GUID).bytes_le
    assert raw[:4] == bytes.fromhex("67452301")
    assert ACTIVE_DIRECTORY.decode_id(raw) == GUID


def test_an_ad_id_is_found_with_an_escaped_binary_filter() -> None:
    flt = ACTIVE_DIRECTORY.id_filter(GUID.upper())
    assert flt == BinaryEq("objectGUID", uuid.UUID(GUID).bytes_le)
    assert render_filter(flt) == r"(objectGUID=\67\45\23\01\ab\89\ef\cd\01\23\45\67\89\ab\cd\ef)"


def test_a_malformed_id_matches_nothing_in_either_flavour() -> None:
    assert render_filter(ACTIVE_DIRECTORY.id_filter("*)(objectClass=*")) == "(objectGUID=not-a-guid)"
    assert render_filter(OPENLDAP.id_filter("*)(uid=*")) == r"(entryUUID=\2a\29\28uid=\2a)"
    assert not OPENLDAP.valid_id("*") and OPENLDAP.valid_id(GUID)


def test_openldap_ids_are_entry_uuids_in_lower_case() -> None:
    assert OPENLDAP.decode_id(GUID.upper().encode()) == GUID
    assert OPENLDAP.id_filter(GUID) == Eq("entryUUID", GUID)
    assert (OPENLDAP.dn_attribute, ACTIVE_DIRECTORY.dn_attribute) == ("entryDN", "distinguishedName")
