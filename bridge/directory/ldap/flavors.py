"""What differs between directory servers: for now, how an entry's immutable id is named and read.

OpenLDAP keeps an ``entryUUID`` (RFC 4530) on every entry. Active Directory's ``objectGUID`` is the
next flavour (its bytes are little-endian and need a ``<GUID=...>`` lookup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class Flavor:
    """One kind of directory server."""

    name: str
    id_attribute: str

    def valid_id(self, entry_id: str) -> bool:
        """True when ``entry_id`` is well-formed for this server (a malformed id can match nothing)."""
        return bool(_UUID.match(entry_id))

    def decode_id(self, raw: bytes) -> str:
        """The SCIM id spelled from the raw id attribute value."""
        return raw.decode("ascii").lower()


OPENLDAP = Flavor(name="openldap", id_attribute="entryUUID")
