"""How the services name new entries: the longest RDN slapd can index, and the names a map derives
(``jdoe``, ``jdoe2``, ...) that no other entry holds."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.directory.base import Directory, Entry, Eq
from bridge.directory.errors import EntryAlreadyExists
from bridge.mapping.engine import ResourceMapping
from bridge.mapping.model import NamingRule
from bridge.scim.errors import InvalidValue, ServerError

_MAX_NAME_TRIES = 100


# slapd (back-mdb) keeps an entry's RDN twice in one index record, as written and normalized, and
# refuses an add or a rename whose two spellings take more than 491 bytes together ("other", with no
# reason on an add and "DN index add failed" on a rename), however short the rest of the DN. Measured:
# uid= with 241 ASCII letters fits, 242 do not; cn= 242; an escaped character (, + " \ < > ; =) counts
# three bytes in both spellings. Active Directory's RDN, a cn of at most 64 UTF-16 units, fits unless
# its characters grow when normalized (U+FDFA becomes 18 characters).
RDN_INDEX_BYTES = 491
_DN_SPECIALS = frozenset(',+"\\<>;=\x00')


def _rdn_bytes(attribute: str, value: str) -> int:
    """Bytes of ``attribute=value`` as slapd spells an RDN: UTF-8, with the characters RFC 4514 escapes
    (and a leading ``#`` or space, a trailing space) as ``\\hh``."""
    size = len(attribute) + 1
    for index, char in enumerate(value):
        edge = (index == 0 and char in "# ") or (index == len(value) - 1 and char == " ")
        size += 3 if char in _DN_SPECIALS or edge else len(char.encode("utf-8", "surrogatepass"))
    return size


def rdn_index_bytes(rdn: tuple[str, str]) -> int:
    """What ``rdn`` takes of slapd's ``RDN_INDEX_BYTES``: its bytes as written, and as normalized. slapd
    normalizes with Unicode tables of its own (compatibility forms, lower case); the longest of Python's
    spellings stands in for that, which errs long for a few characters (U+0130 counts three bytes where
    slapd takes one) and, measured across scripts and planes, never short."""
    attribute, value = rdn
    forms = (
        value,
        unicodedata.normalize("NFKC", value).casefold(),
        unicodedata.normalize("NFKC", value.lower()),
    )
    return _rdn_bytes(attribute, value) + max(_rdn_bytes(attribute, form) for form in forms)


def check_rdn(rdn: tuple[str, str], mapping: ResourceMapping) -> None:
    """Refuse, before anything is written, a value too long to name an entry (``RDN_INDEX_BYTES``)."""
    size = rdn_index_bytes(rdn)
    if size > RDN_INDEX_BYTES:
        ascii_letters = RDN_INDEX_BYTES // 2 - len(rdn[0]) - 1
        raise InvalidValue(
            f"{scim_name(rdn[0], mapping)} is too long to name a directory entry: {rdn[0]}=... would "
            f"take {size} bytes, written and normalized, and the bridge allows {RDN_INDEX_BYTES}, OpenLDAP's "
            f"limit (about {ascii_letters} ASCII letters; fewer in other scripts)"
        )


def add_named(
    directory: Directory,
    bases: Sequence[str],
    mapping: ResourceMapping,
    *,
    parent: str,
    document: Mapping[str, Any],
    attributes: Mapping[str, tuple[str, ...]],
    read: Sequence[str],
) -> Entry:
    """Add an entry, deriving its names first when the map says so.

    Derived values (a short uid, AD's sAMAccountName and CN) take the first of ``jdoe``, ``jdoe2``, ...
    that no entry in ``bases`` holds; that check races with other instances, so an add the directory
    refuses as a duplicate moves on to the next number.
    """
    naming, rules = mapping.naming, mapping.map.derived_names
    if not rules:
        rdn = mapping.rdn(attributes)
        check_rdn(rdn, mapping)
        return directory.add(parent, rdn, attributes, read)
    stems = {rule.attribute: rule.derive(document) for rule in rules}
    numbers = dict.fromkeys(stems, 1)

    def pick(rule: NamingRule) -> str:
        name, numbers[rule.attribute] = free_name(
            directory, bases, rule, stems[rule.attribute], start=numbers[rule.attribute]
        )
        return name

    for _ in range(_MAX_NAME_TRIES):
        values = dict(attributes)
        for rule in rules:
            values[rule.attribute] = (pick(rule),)
        rdn = (naming.attribute, values[naming.attribute][0]) if naming is not None else mapping.rdn(values)
        check_rdn(rdn, mapping)
        try:
            return directory.add(parent, rdn, values, read)
        except EntryAlreadyExists:
            # Another instance took one of the names a moment ago (the RDN, or AD's unique
            # sAMAccountName, which AD also reports as existing): try the next numbers.
            for rule in rules:
                numbers[rule.attribute] += 1
    raise ServerError(f"no free name after {_MAX_NAME_TRIES} tries")


def free_name(
    directory: Directory,
    bases: Sequence[str],
    rule: NamingRule,
    stem: str,
    *,
    start: int = 1,
    own_id: str | None = None,
) -> tuple[str, int]:
    """The first of ``stem``, ``stem2``, ... from ``start`` that no entry under ``bases`` but
    ``own_id`` holds, and its number."""
    for number in range(start, start + _MAX_NAME_TRIES):
        name = rule.numbered(stem, number)
        holders = directory.search(bases, Eq(rule.attribute, name), (), limit=2).entries
        if all(holder.id == own_id for holder in holders):
            return name, number
    raise ServerError(f"no free {rule.attribute} for {stem!r} after {_MAX_NAME_TRIES} tries")


def rederived(
    directory: Directory,
    bases: Sequence[str],
    rules: Sequence[NamingRule],
    entry: Entry,
    *,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> dict[str, str]:
    """New values for the ``keep: false`` rules whose source changed (a renamed user's short name)."""
    values: dict[str, str] = {}
    for rule in rules:
        stem = rule.derive(new)
        if rule.keep or stem == rule.derive(old):
            continue
        values[rule.attribute] = free_name(directory, bases, rule, stem, own_id=entry.id)[0]
    return values


def scim_name(attribute: str, mapping: ResourceMapping | None) -> str:
    """``title`` as ``title (title)``: the SCIM path the map stores in the LDAP ``attribute``, and it."""
    if mapping is not None:
        naming = mapping.naming
        if naming is not None and naming.attribute.lower() == attribute.lower():
            parts = [part for template in naming.templates for part in template.parts]
            sources = dict.fromkeys(part.text for part in parts if not isinstance(part, str))
            return f"{attribute} (derived from {' or '.join(sources)})"
        for rule in mapping.rules:
            if rule.ldap.lower() == attribute.lower():
                return f"{rule.target.text} ({rule.ldap})"
    return attribute


__all__ = [
    "RDN_INDEX_BYTES",
    "add_named",
    "check_rdn",
    "free_name",
    "rdn_index_bytes",
    "rederived",
    "scim_name",
]
