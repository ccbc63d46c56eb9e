"""A user's references to other users (``manager``): the directory holds the other user's DN, the client
knows its id. Each read, write and filter crosses over here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.directory.base import Directory, DirFilter, Eq, all_of
from bridge.directory.errors import NoSuchEntry
from bridge.mapping.engine import ResourceMapping
from bridge.mapping.model import Rule
from bridge.scim.errors import InvalidValue
from bridge.scim.filter import And, AttrPath, Compare, Filter, Not, Or
from bridge.scim.patch import copy_document


class References:
    """The reference rules of the user map, over the users in scope (``bases`` and ``scope_filter``);
    ``dn_attribute`` holds an entry's own DN (OpenLDAP ``entryDN``, AD ``distinguishedName``)."""

    def __init__(
        self,
        directory: Directory,
        mapping: ResourceMapping,
        bases: Sequence[str],
        scope_filter: DirFilter,
        dn_attribute: str,
    ) -> None:
        self._directory = directory
        self._bases = tuple(bases)
        self._scope_filter = scope_filter
        self._dn_attribute = dn_attribute
        self.rules = tuple(rule for rule in mapping.rules if rule.converter.kind == "reference")

    def client_form(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` with each reference as the client knows it: the DN the directory holds becomes
        that user's id. A DN that leads to no user in scope (a deleted manager) reads as no value."""
        if not any(rule.target.get(document) for rule in self.rules):
            return document
        result: dict[str, Any] = copy_document(document)
        for rule in self.rules:
            dn = rule.target.get(result)
            if not dn:
                continue
            condition = all_of(self._scope_filter, Eq(self._dn_attribute, str(dn)))
            found = self._directory.search(self._bases, condition, (), limit=1).entries
            if found:
                rule.target.put(result, found[0].id)
            else:
                rule.target.clear(result)
        return result

    def directory_form(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` with each reference as the directory holds it: the user's DN for its id. An
        id of no user in scope is a 400, never a DN that leads nowhere."""
        if not any(rule.target.get(document) for rule in self.rules):
            return document
        result: dict[str, Any] = copy_document(document)
        for rule in self.rules:
            reference = rule.target.get(result)
            if not reference:
                continue
            try:
                entry = self._directory.get_by_id(self._bases, self._scope_filter, str(reference), ())
            except NoSuchEntry as exc:
                raise InvalidValue(f"{rule.target.text}: no user has the id {reference}") from exc
            rule.target.put(result, entry.dn)
        return result

    def in_filter(self, flt: Filter) -> Filter:
        """``flt`` with each manager id replaced by the manager's DN, which the directory compares.

        Entra's older reference check is ``id eq "<user>" and manager eq "<manager>"`` [D18]. An
        id of no user becomes an impossible DN, so the comparison matches nothing.
        """
        match flt:
            case And(left, right):
                return And(self.in_filter(left), self.in_filter(right))
            case Or(left, right):
                return Or(self.in_filter(left), self.in_filter(right))
            case Not(inner):
                return Not(self.in_filter(inner))
            case Compare(path, op, str(value)) if op in ("eq", "ne") and (rule := self._rule(path)):
                try:
                    dn = self._directory.get_by_id(self._bases, self._scope_filter, value, ()).dn
                except NoSuchEntry:
                    dn = "cn=no such user"  # a DN no entry has: the comparison is false
                target = rule.target
                sub = target.sub.name if target.sub else None
                return Compare(AttrPath(target.urn, target.attribute.name, sub), op, dn)
        return flt

    def _rule(self, path: AttrPath) -> Rule | None:
        """The reference rule ``path`` names (``manager``, ``manager.value``, with or without its URN)."""
        for rule in self.rules:
            target = rule.target
            same_sub = (path.sub or "value").lower() == (target.sub.name.lower() if target.sub else "value")
            same_urn = path.uri is None or (target.urn or "").lower() == path.uri.lower()
            if path.attr.lower() == target.attribute.name.lower() and same_sub and same_urn:
                return rule
        return None


__all__ = ["References"]
