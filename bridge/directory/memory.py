"""A small but real directory in memory, for fast tests of everything above the port.

It keeps the rules of an LDAP server that the service relies on: DNs are unique (case-insensitively),
an entry needs its parent, only leaves can be deleted, ids never change, equality and substring
matching ignore case (except for attributes named in ``case_exact``), and operational timestamps
follow the injected clock. It does not check schemas.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from bridge.directory.base import (
    AllOf,
    AnyOf,
    BinaryEq,
    BitsSet,
    DirFilter,
    Entry,
    Eq,
    Expect,
    GreaterOrEqual,
    LessOrEqual,
    Modification,
    Negation,
    Present,
    SearchResult,
    Substring,
)
from bridge.directory.dn import dn_key, first_rdn, make_dn, normalize_dn, parent_dn
from bridge.directory.errors import Changed, EntryAlreadyExists, NoSuchEntry, NotAllowed

ID_ATTRIBUTE = "entryuuid"
_OPERATIONAL = ("entryuuid", "createtimestamp", "modifytimestamp", "entrycsn")


def _generalized_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


class InMemoryDirectory:
    """The :class:`bridge.directory.base.Directory` port over a dict, safe across threads."""

    def __init__(
        self,
        bases: Iterable[str] = (),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        case_exact: Iterable[str] = (),
    ) -> None:
        self._clock = clock
        self._new_id = new_id
        self._case_exact = {name.lower() for name in case_exact}
        self._lock = threading.RLock()
        self._entries: dict[str, tuple[str, dict[str, list[str]]]] = {}
        self.writes = 0
        self._changes = 0  # every write's serial number, the entries' versions (entryCSN's role)
        for base in bases:
            self.ensure(base)

    # --- test helpers --------------------------------------------------------------------------

    def ensure(self, dn: str, attributes: Mapping[str, Sequence[str]] | None = None) -> None:
        """Create ``dn`` (and no parents) if missing: how tests lay out bases."""
        with self._lock:
            if dn_key(dn) not in self._entries:
                self._store(normalize_dn(dn), attributes or {})

    def raw(self, dn: str) -> dict[str, list[str]]:
        """A copy of the stored attributes of ``dn`` (lower-cased names), for assertions."""
        with self._lock:
            found = self._entries.get(dn_key(dn))
            if found is None:
                raise NoSuchEntry(dn)
            return {name: list(values) for name, values in found[1].items()}

    def dns(self) -> list[str]:
        """Every DN held, sorted."""
        with self._lock:
            return sorted(dn for dn, _ in self._entries.values())

    # --- the port ------------------------------------------------------------------------------

    def normalize_dn(self, dn: str) -> str:
        return normalize_dn(dn)

    def can_order(self, attribute: str) -> bool:
        return True  # values compare as Python strings

    def ping(self) -> None:
        return None  # always there

    def search(
        self,
        bases: Sequence[str],
        flt: DirFilter,
        attributes: Sequence[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> SearchResult:
        with self._lock:
            keys = [dn_key(base) for base in bases]
            found = [
                self._entry(dn, attrs, attributes)
                for key, (dn, attrs) in sorted(self._entries.items())
                if any(key == base or key.endswith("," + base) for base in keys)
                and self._matches(flt, attrs, dn)
            ]
        stop = None if limit is None else offset + limit
        return SearchResult(tuple(found[offset:stop]), len(found))

    def get_by_id(
        self, bases: Sequence[str], flt: DirFilter, entry_id: str, attributes: Sequence[str]
    ) -> Entry:
        result = self.search(bases, AllOf((flt, Eq(ID_ATTRIBUTE, entry_id))), attributes)
        if not result.entries:
            raise NoSuchEntry(f"no entry with id {entry_id}")
        return result.entries[0]

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        dn = make_dn(rdn, parent)
        with self._lock:
            if dn_key(dn) in self._entries:
                raise EntryAlreadyExists(f"{dn} already exists")
            if dn_key(parent) not in self._entries:
                raise NoSuchEntry(f"parent {parent} does not exist")
            values = {name.lower(): list(vals) for name, vals in attributes.items() if vals}
            rdn_values = values.setdefault(rdn[0].lower(), [])
            if not any(self._equal(rdn[0], value, rdn[1]) for value in rdn_values):
                rdn_values.insert(0, rdn[1])
            stored = self._store(normalize_dn(dn), values)
            self.writes += 1
            return self._entry(normalize_dn(dn), stored, read)

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        with self._lock:
            normal, attrs = self._get(dn, expect)
            if not changes:
                return self._entry(normal, attrs, read)
            updated = {name: list(values) for name, values in attrs.items()}
            for change in changes:
                name = change.attribute.lower()
                current = updated.get(name, [])
                if change.op == "replace":
                    current = list(change.values)
                elif change.op == "add":
                    current = current + [v for v in change.values if not self._has(name, current, v)]
                elif change.values:
                    current = [v for v in current if not any(self._equal(name, v, d) for d in change.values)]
                else:
                    current = []
                if current:
                    updated[name] = current
                else:
                    updated.pop(name, None)
            self._touch(updated)
            self._entries[dn_key(dn)] = (normal, updated)
            self.writes += 1
            return self._entry(normal, updated, read)

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        self.modify(dn, changes, (), expect=expect)

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        new_dn = normalize_dn(make_dn(rdn, parent) if rdn is not None else f"{first_rdn(dn)},{parent}")
        with self._lock:
            normal, attrs = self._get(dn, expect)
            if dn_key(parent) not in self._entries:
                raise NoSuchEntry(f"parent {parent} does not exist")
            if dn_key(new_dn) in self._entries and dn_key(new_dn) != dn_key(dn):
                raise EntryAlreadyExists(f"{new_dn} already exists")
            if self._children(dn):
                raise NotAllowed(f"{dn} has children")
            updated = {name: list(values) for name, values in attrs.items()}
            if rdn is not None:
                old_rdn = normal.split(",", 1)[0].split("=", 1)
                old_values = updated.get(old_rdn[0].lower(), [])
                kept = [v for v in old_values if not self._equal(old_rdn[0], v, old_rdn[1])]
                updated[rdn[0].lower()] = [rdn[1]] + [v for v in kept if not self._equal(rdn[0], v, rdn[1])]
            self._touch(updated)
            del self._entries[dn_key(dn)]
            self._entries[dn_key(new_dn)] = (new_dn, updated)
            self.writes += 1
            return new_dn

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        with self._lock:
            self._get(dn, expect)
            if self._children(dn):
                raise NotAllowed(f"{dn} is not a leaf entry")
            del self._entries[dn_key(dn)]
            self.writes += 1

    # --- internals -----------------------------------------------------------------------------

    def _store(self, dn: str, values: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        now = _generalized_time(self._clock())
        stored = {name.lower(): list(vals) for name, vals in values.items()}
        stored.update(entryuuid=[self._new_id()], createtimestamp=[now], modifytimestamp=[now])
        self._touch(stored)
        self._entries[dn_key(dn)] = (dn, stored)
        return stored

    def _touch(self, attrs: dict[str, list[str]]) -> None:
        self._changes += 1
        attrs["modifytimestamp"] = [_generalized_time(self._clock())]
        attrs["entrycsn"] = [f"{self._changes:012d}"]

    def _get(self, dn: str, expect: Expect = None) -> tuple[str, dict[str, list[str]]]:
        found = self._entries.get(dn_key(dn))
        if found is None:
            raise NoSuchEntry(f"{dn} does not exist")
        if expect is not None and found[1]["entrycsn"][0] != expect:
            raise Changed(f"{dn} changed since it was read")
        return found

    def _children(self, dn: str) -> bool:
        suffix = "," + dn_key(dn)
        return any(key.endswith(suffix) for key in self._entries)

    def _entry(self, dn: str, attrs: Mapping[str, list[str]], read: Sequence[str]) -> Entry:
        wanted = {name.lower() for name in read}
        everything = "*" in wanted
        picked = {
            name: tuple(values)
            for name, values in attrs.items()
            if name in wanted or (everything and name not in _OPERATIONAL)
        }
        parent = parent_dn(dn) if "," in dn else ""
        return Entry(
            dn=dn, parent=parent, id=attrs[ID_ATTRIBUTE][0], attributes=picked, version=attrs["entrycsn"][0]
        )

    def _fold(self, name: str, value: str) -> str:
        return value if name.lower() in self._case_exact else value.casefold()

    def _equal(self, name: str, left: str, right: str) -> bool:
        return self._fold(name, left) == self._fold(name, right)

    def _has(self, name: str, values: Sequence[str], value: str) -> bool:
        return any(self._equal(name, v, value) for v in values)

    def _matches(self, flt: DirFilter, attrs: Mapping[str, list[str]], dn: str) -> bool:
        match flt:
            case Eq(name, value) if name.lower() == "entrydn":  # OpenLDAP's DN-valued operational attribute
                return dn_key(value) == dn_key(dn)
            case Eq(name, value):
                return self._has(name, attrs.get(name.lower(), ()), value)
            case BinaryEq():
                return False  # the in-memory directory keeps no binary attributes
            case BitsSet(name, mask):
                return any(
                    v.lstrip("-").isdigit() and int(v) & mask == mask for v in attrs.get(name.lower(), ())
                )
            case Present(name):
                return bool(attrs.get(name.lower()))
            case Substring(name, initial, middle, final):
                return any(
                    self._substring(name, v, initial, middle, final) for v in attrs.get(name.lower(), ())
                )
            case GreaterOrEqual(name, value):
                return any(
                    self._fold(name, v) >= self._fold(name, value) for v in attrs.get(name.lower(), ())
                )
            case LessOrEqual(name, value):
                return any(
                    self._fold(name, v) <= self._fold(name, value) for v in attrs.get(name.lower(), ())
                )
            case AllOf(items):
                return all(self._matches(item, attrs, dn) for item in items)
            case AnyOf(items):
                return any(self._matches(item, attrs, dn) for item in items)
            case Negation(item):
                return not self._matches(item, attrs, dn)
        raise TypeError(f"not a directory filter: {flt!r}")  # pragma: no cover

    def _substring(
        self, name: str, value: str, initial: str | None, middle: Sequence[str], final: str | None
    ) -> bool:
        text = self._fold(name, value)
        position = 0
        if initial is not None:
            if not text.startswith(self._fold(name, initial)):
                return False
            position = len(initial)
        for part in middle:
            found = text.find(self._fold(name, part), position)
            if found < 0:
                return False
            position = found + len(part)
        return final is None or (
            len(text) - position >= len(final) and text.endswith(self._fold(name, final))
        )
