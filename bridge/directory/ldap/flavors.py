"""What differs between directory servers: how an entry's immutable id is named, spelled and found, and
which attribute holds an entry's own DN.

OpenLDAP keeps an ``entryUUID`` (RFC 4530) on every entry, a string. Active Directory keeps an
``objectGUID``, 16 bytes in Microsoft's mixed-endian order, which the bridge spells as the standard UUID
string and finds with an escaped binary filter.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Literal

from bridge.directory.base import BinaryEq, DirFilter, Eq

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class Flavor:
    """One kind of directory server."""

    name: Literal["openldap", "active_directory"]
    id_attribute: str
    dn_attribute: str  # an attribute holding the entry's own DN, for batch lookups by DN
    version_attribute: str  # the change marker, which every change to the entry alters
    asserts: bool  # the server honours the assertion control (RFC 4528) on writes
    # What a server-side sorted list view is sorted by: unique, unchanging, with an ORDERING rule.
    # None: pages of large lists are cut by the bridge from the directory's own order.
    sort_key: str | None = None
    # Attributes (lower case) whose writes are checked by a read just before, never by an assertion.
    unasserted: frozenset[str] = frozenset()
    asserts_moves: bool = True  # False: a rename or move is checked by a read just before, not asserted

    def valid_id(self, entry_id: str) -> bool:
        """True when ``entry_id`` is well-formed for this server (a malformed id can match nothing)."""
        return bool(_UUID.match(entry_id))

    def decode_id(self, raw: bytes) -> str:
        """The SCIM id spelled from the raw id attribute value."""
        if self.name == "active_directory":
            return str(uuid.UUID(bytes_le=raw))  # objectGUID's first three fields are little-endian
        return raw.decode("ascii").lower()

    def id_filter(self, entry_id: str) -> DirFilter:
        """The filter that finds the entry with SCIM id ``entry_id`` (malformed ids match nothing)."""
        if self.name == "active_directory":
            if not self.valid_id(entry_id):
                return Eq(self.id_attribute, "not-a-guid")  # invalid syntax: the directory matches nothing
            return BinaryEq(self.id_attribute, uuid.UUID(entry_id).bytes_le)
        return Eq(self.id_attribute, entry_id)


OPENLDAP = Flavor(
    name="openldap",
    id_attribute="entryUUID",
    dn_attribute="entryDN",
    version_attribute="entryCSN",
    asserts=True,
    sort_key="entryUUID",
    # slapd's memberof overlay updates the members' memberOf with modifies of its own, which carry the
    # group write's assertion along and fail it on the member entry, silently: a member added or
    # removed under an assertion keeps or lacks memberOf for good (measured with slapd 2.5).
    unasserted=frozenset({"member", "uniquemember"}),
    # The same overlay rewrites the members' memberOf when a group is renamed, under the rename's
    # assertion too: a group renamed under one leaves its members naming the old DN.
    asserts_moves=False,
)
ACTIVE_DIRECTORY = Flavor(
    name="active_directory",
    id_attribute="objectGUID",
    dn_attribute="distinguishedName",
    version_attribute="uSNChanged",
    asserts=False,  # AD does not list 1.3.6.1.1.12 among its supportedControl
    sort_key="objectGUID",  # AD (and Samba) sort on it for a virtual list view: unique and unchanging
)
FLAVORS = {flavor.name: flavor for flavor in (OPENLDAP, ACTIVE_DIRECTORY)}
