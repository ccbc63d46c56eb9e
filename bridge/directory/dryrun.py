"""A directory that reads from a real one and records the writes instead of doing them.

``scim-ldap-bridge preview`` runs one SCIM request through the whole bridge over this, and prints what
the directory would have been asked to do. Reads answer from the real directory; a write answers as
if it had succeeded (an add with the entry it would create, a modify with the changes applied to the
entry as read), so the request runs to its end. Password values are never recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bridge.directory.base import MATCH_ALL, Directory, Entry, Expect, Modification
from bridge.directory.delegate import DelegatingDirectory
from bridge.directory.dn import first_rdn, make_dn, make_rdn, parent_dn
from bridge.directory.errors import NoSuchEntry

_SECRET = re.compile(r"password|unicodepwd", re.IGNORECASE)
HIDDEN = "(not shown)"


@dataclass(frozen=True, slots=True)
class Operation:
    """One write the request would have made: its kind, DN, and what it writes."""

    op: str
    dn: str
    detail: dict[str, object]


def _shown(attribute: str, values: Sequence[str]) -> list[str]:
    return [HIDDEN] if _SECRET.search(attribute) and values else list(values)


class DryRunDirectory(DelegatingDirectory):
    """Delegates reads to ``inner``; records adds, modifies, moves and deletes in ``operations``."""

    def __init__(self, inner: Directory) -> None:
        super().__init__(inner)
        self.operations: list[Operation] = []

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        dn = make_dn(rdn, parent)
        written = {name: _shown(name, values) for name, values in attributes.items() if values}
        self.operations.append(Operation("add", dn, {"attributes": written}))
        kept = {name.lower(): tuple(values) for name, values in attributes.items() if values}
        return Entry(dn=dn, parent=parent, id="(new)", attributes=kept, version="(new)")

    def _current(self, dn: str, read: Sequence[str]) -> Entry:
        found = self.inner.search([dn], MATCH_ALL, read, limit=1).entries
        if not found:
            raise NoSuchEntry(f"{dn} does not exist")
        return found[0]

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        self.update(dn, changes, expect=expect)
        try:
            entry = self._current(dn, read)
        except NoSuchEntry:  # renamed a moment ago in this same preview
            entry = Entry(dn=dn, parent=parent_dn(dn), id="(moved)")
        attributes = {name: list(values) for name, values in entry.attributes.items()}
        for change in changes:
            name = change.attribute.lower()
            if change.op == "replace" or (change.op == "delete" and not change.values):
                attributes[name] = list(change.values)
            elif change.op == "add":
                attributes[name] = attributes.get(name, []) + list(change.values)
            else:
                attributes[name] = [v for v in attributes.get(name, []) if v not in change.values]
        kept = {name: tuple(values) for name, values in attributes.items() if values}
        return Entry(dn=entry.dn, parent=entry.parent, id=entry.id, attributes=kept, version=entry.version)

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        if changes:
            detail = [
                {"op": c.op, "attribute": c.attribute, "values": _shown(c.attribute, c.values)}
                for c in changes
            ]
            self.operations.append(Operation("modify", dn, {"changes": detail}))

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        new_dn = f"{make_rdn(rdn) if rdn is not None else first_rdn(dn)},{parent}"
        self.operations.append(Operation("move", dn, {"new_dn": new_dn}))
        return new_dn

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        self.operations.append(Operation("delete", dn, {}))


__all__ = ["HIDDEN", "DryRunDirectory", "Operation"]
