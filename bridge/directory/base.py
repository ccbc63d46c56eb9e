"""The storage port: what the service needs from a directory, and nothing about how it is reached.

Two adapters implement :class:`Directory`: ``memory.InMemoryDirectory`` (fast tests) and
``ldap.adapter.LdapDirectory`` (OpenLDAP, Active Directory). One contract suite
(``tests/contract``) runs against both.

Attribute names are case-insensitive in LDAP; the port hands them around lower-cased, and values as
``str``. DNs are built only by the adapters from structured parts (a parent DN and an RDN pair), so
that escaping lives in one place (``ldap/render.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

# --- entries and changes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry as read: its DN, its parent DN, its stable id, its attributes and version.

    ``id`` is the directory's immutable identifier (OpenLDAP ``entryUUID``, AD ``objectGUID``), which
    becomes the SCIM ``id``. ``attributes`` maps lower-cased attribute names to their values.
    ``parent`` is normalised by the adapter, so it compares equal to a normalised base DN.
    ``version`` is the directory's change marker (OpenLDAP ``entryCSN``, AD ``uSNChanged``): it differs
    after every change to the entry, and becomes the SCIM ``meta.version``.
    """

    dn: str
    parent: str
    id: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    version: str = ""

    def get(self, name: str) -> tuple[str, ...]:
        """All values of attribute ``name`` (any case), or an empty tuple."""
        return self.attributes.get(name.lower(), ())

    def first(self, name: str) -> str | None:
        """The first value of attribute ``name``, or None when it has none."""
        values = self.get(name)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Modification:
    """One LDAP modify operation on one attribute (RFC 4511 section 4.6).

    ``replace`` with no values deletes the attribute; ``delete`` with no values deletes every value.
    Adding a value that is present, or deleting one that is absent, succeeds (permissive modify), so
    retried member changes are idempotent without reading the member list.
    """

    op: Literal["add", "delete", "replace"]
    attribute: str
    values: tuple[str, ...] = ()


# --- the directory filter AST: what the mapping produces and the adapters render or evaluate ----


@dataclass(frozen=True, slots=True)
class Eq:
    """``(attribute=value)``, matched with the attribute's equality rule."""

    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class BinaryEq:
    """``(attribute=<bytes>)`` for a binary attribute such as AD's objectGUID."""

    attribute: str
    value: bytes


@dataclass(frozen=True, slots=True)
class BitsSet:
    """Every bit of ``mask`` is set in the integer attribute (AD's LDAP_MATCHING_RULE_BIT_AND)."""

    attribute: str
    mask: int


@dataclass(frozen=True, slots=True)
class Present:
    """``(attribute=*)``."""

    attribute: str


@dataclass(frozen=True, slots=True)
class Substring:
    """``(attribute=initial*any*final)``; at least one part is set."""

    attribute: str
    initial: str | None = None
    any: tuple[str, ...] = ()
    final: str | None = None


@dataclass(frozen=True, slots=True)
class GreaterOrEqual:
    """``(attribute>=value)``."""

    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class LessOrEqual:
    """``(attribute<=value)``."""

    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class AllOf:
    """``(&...)``; an empty AllOf matches everything."""

    items: tuple[DirFilter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``(|...)``; an empty AnyOf matches nothing."""

    items: tuple[DirFilter, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    """``(!...)``."""

    item: DirFilter


DirFilter = (
    Eq | BinaryEq | BitsSet | Present | Substring | GreaterOrEqual | LessOrEqual | AllOf | AnyOf | Negation
)

MATCH_NOTHING: DirFilter = AnyOf(())
MATCH_ALL: DirFilter = AllOf(())


def _flatten(kind: type[AllOf] | type[AnyOf], items: tuple[DirFilter, ...]) -> DirFilter:
    """``kind`` of ``items``, with nested ``kind`` nodes flattened and the constants folded: a term that
    decides the whole (nothing for AND, everything for OR) wins, and the neutral one is dropped."""
    neutral, absorbing = (MATCH_ALL, MATCH_NOTHING) if kind is AllOf else (MATCH_NOTHING, MATCH_ALL)
    flat: list[DirFilter] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    if absorbing in flat:
        return absorbing
    flat = [item for item in flat if item != neutral]
    if not flat:
        return neutral
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def all_of(*items: DirFilter) -> DirFilter:
    """AND of ``items``."""
    return _flatten(AllOf, items)


def any_of(*items: DirFilter) -> DirFilter:
    """OR of ``items``."""
    return _flatten(AnyOf, items)


# --- the port -----------------------------------------------------------------------------------


Expect = str | None  # the version a write expects the entry at, or None for any


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of a search: the entries and the total number that matched."""

    entries: tuple[Entry, ...]
    total: int


class Directory(Protocol):
    """The operations the provisioning service performs on a directory.

    Every method raises a :class:`bridge.directory.errors.DirectoryError` subclass on failure; none
    returns None to mean failure.
    """

    def normalize_dn(self, dn: str) -> str:
        """The canonical spelling of ``dn``, comparable with ``Entry.parent``."""
        ...

    def ping(self) -> None:
        """One cheap round trip as the bridge's bind DN (readiness); raises when it cannot be made."""
        ...

    def can_order(self, attribute: str) -> bool:
        """Whether the server answers ``>=`` and ``<=`` on ``attribute`` (it has an ORDERING rule);
        where it has none, ``(uid>=x)`` is Undefined and would match nothing."""
        ...

    def search(
        self,
        bases: Sequence[str],
        flt: DirFilter,
        attributes: Sequence[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> SearchResult:
        """Entries under any of ``bases`` (subtree) matching ``flt``: the ``limit`` (all when None)
        that follow the first ``offset`` of them.

        ``total`` counts every match, also those outside the page. The order is the directory's and
        stable while the entries do not change, so that consecutive pages neither repeat nor skip an
        entry; it is not alphabetical. Memory use is bounded by the page, not by ``total``.
        """
        ...

    def get_by_id(
        self, bases: Sequence[str], flt: DirFilter, entry_id: str, attributes: Sequence[str]
    ) -> Entry:
        """The entry with stable id ``entry_id`` under ``bases`` that matches ``flt``.

        Raises ``NoSuchEntry`` when there is none (also for ids that are not well-formed).
        """
        ...

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        """Create ``rdn,parent`` with ``attributes`` and return it as read back with ``read``."""
        ...

    # ``expect``, on every write: the entry's version as the caller read it. When
    # the entry has changed since, the write raises ``Changed`` and changes nothing
    # (OpenLDAP checks it in the same operation, with the assertion control of RFC 4528; elsewhere it is
    # compared just before the write).

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        """Apply ``changes`` atomically to ``dn`` and return the entry as read back with ``read``."""
        ...

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        """Apply ``changes`` atomically to ``dn`` without reading it back (member changes answer 204,
        and reading a group of 100,000 members back costs the directory as much as the change)."""
        ...

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        """Rename ``dn`` to ``rdn,parent`` (modify DN, old RDN value removed), or only move it under
        ``parent`` when ``rdn`` is None; returns the new DN."""
        ...

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        """Delete the leaf entry ``dn``."""
        ...
