"""What a server says about itself, read once per pool: the controls it supports (root DSE) and its
attribute types (subschema entry, RFC 4512), of which the adapter needs the ORDERING rules."""

from __future__ import annotations

import logging

from ldap3 import BASE, Connection
from ldap3.protocol.rfc4512 import AttributeTypeInfo

logger = logging.getLogger(__name__)


def read_controls(conn: Connection) -> set[str]:
    """The controls the server's root DSE says it supports."""
    conn.search("", "(objectClass=*)", BASE, attributes=["supportedControl"])
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    values = entries[0]["attributes"].get("supportedControl", []) if entries else []
    return {str(value) for value in ([values] if isinstance(values, str) else values)}


def read_attribute_types(conn: Connection) -> dict[str, AttributeTypeInfo] | None:
    """The server's attribute types by lower-cased name, from its subschema entry; None when it shows
    none."""
    conn.search("", "(objectClass=*)", BASE, attributes=["subschemaSubentry"])
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    subentry = entries[0]["attributes"].get("subschemaSubentry") if entries else None
    if not subentry:
        return None
    conn.search(
        subentry[0] if isinstance(subentry, list) else subentry,
        "(objectClass=*)",
        BASE,
        attributes=["attributeTypes"],
    )
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    definitions = entries[0]["raw_attributes"].get("attributeTypes", []) if entries else []
    types = AttributeTypeInfo.from_definition([d.decode("utf-8", "replace") for d in definitions])
    return {name.lower(): info for info in types.values() for name in (info.name or [])}


def read_ordering(conn: Connection) -> dict[str, bool]:
    """Which attribute types have an ORDERING matching rule, their own or a superior's (RFC 4512
    4.1.2), read once from the server's subschema entry. An unreadable schema means "unknown"."""
    by_name = read_attribute_types(conn)
    if by_name is None:
        logger.warning("the directory shows no subschemaSubentry: ordering filters are sent as they are")
        return {}

    def orders(info: AttributeTypeInfo, depth: int = 0) -> bool:
        if info.ordering:
            return True
        superiors = info.superior or []
        parent = by_name.get(superiors[0].lower()) if superiors and depth < 16 else None
        return orders(parent, depth + 1) if parent is not None else False

    return {name: orders(info) for name, info in by_name.items()}
