"""Turn directory entries into SCIM documents and back, and work out the smallest set of changes.

The service never writes a whole entry on update: it maps the entry to a document, patches the
document, maps both documents back to directory values and writes only the attributes whose values
differ. So a repeated, identical provisioning cycle writes nothing, and attributes the map does not
know (or values an admin added) are never touched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from bridge.directory.base import (
    MATCH_ALL,
    MATCH_NOTHING,
    BitsSet,
    DirFilter,
    Entry,
    Eq,
    Modification,
    Negation,
    all_of,
    any_of,
)
from bridge.mapping.model import UAC_DISABLED, UAC_NORMAL_ACCOUNT, ResourceMap, Rule
from bridge.scim.errors import InvalidValue

_OPERATIONAL = ("objectClass", "createTimestamp", "modifyTimestamp")

LdapValues = dict[str, tuple[str, ...]]
_FLAGS = ("primary", "display")  # sub-attributes the map does not store: they do not make two values differ


class ResourceMapping:
    """A compiled resource map (users or groups), with everything the services ask of it."""

    def __init__(self, resource_map: ResourceMap) -> None:
        self.map = resource_map
        self.rules = resource_map.rules
        self.naming = resource_map.naming
        self.rdn_attribute = self.naming.attribute if self.naming else resource_map.rdn.ldap
        active = [resource_map.active.attribute] if resource_map.active else []
        naming = [self.naming.attribute] if self.naming else []
        # Write-only values (password: returned "never", RFC 7643 4.1.1) are never requested or read back.
        self._readable = tuple(rule for rule in self.rules if _returned(rule) != "never")
        self._references = {rule.ldap.lower() for rule in self.rules if rule.converter.kind == "reference"}
        names = [*_OPERATIONAL, *(rule.ldap for rule in self._readable), *active, *naming]
        self.read_attributes: tuple[str, ...] = tuple(dict.fromkeys(names))
        extra = (resource_map.filter,) if resource_map.filter is not None else ()
        self.structural_filter: DirFilter = all_of(Eq("objectClass", resource_map.object_classes[0]), *extra)
        slots: dict[tuple[str | None, str], list[str]] = {}
        for rule in self.rules:
            if rule.target.type is not None:
                types = slots.setdefault((rule.target.urn, rule.target.attribute.name), [])
                if rule.target.type not in types:
                    types.append(rule.target.type)
        self._slots = slots
        # rules_for is asked once per value of every write (the unmapped check) and per filter: an index
        # by (attribute, sub, urn), lower case, instead of a scan of every rule each time.
        by_target: dict[tuple[str, str | None, str | None], list[Rule]] = {}
        for rule in self.rules:
            target = rule.target
            sub = target.sub.name.lower() if target.sub else None
            by_target.setdefault((target.attribute.name.lower(), sub, target.urn or None), []).append(rule)
        self._by_target = {key: tuple(rules) for key, rules in by_target.items()}

    # --- reading -------------------------------------------------------------------------------

    def is_active(self, entry: Entry) -> bool:
        """False when the entry carries this directory's disable marker."""
        active = self.map.active
        if active is None:
            return True
        if active.method == "uac":
            return not _uac(entry) & UAC_DISABLED
        return not any(
            value.upper() == active.disabled_value.upper() for value in entry.get(active.attribute)
        )

    def to_document(self, entry: Entry) -> dict[str, Any]:
        """The canonical SCIM document of ``entry`` (without id and meta)."""
        document: dict[str, Any] = {}
        for rule in self._readable:
            values = entry.get(rule.ldap)
            if values:
                rule.target.put(document, rule.converter.from_ldap(values[0]))
        if self.map.active is not None:
            document["active"] = self.is_active(entry)
        return document

    # --- writing -------------------------------------------------------------------------------

    def _value(self, rule: Rule, document: Mapping[str, Any]) -> tuple[str, ...]:
        value = rule.target.get(document)
        if value not in (None, ""):
            try:
                return (rule.converter.to_ldap(value),)
            except ValueError as exc:
                raise InvalidValue(f"{rule.target.text} {exc}") from exc
        for template in rule.default:
            rendered = template.render(document)
            if rendered is not None:
                return (rendered,)
        return ()

    def to_ldap(self, document: Mapping[str, Any]) -> LdapValues:
        """The directory values of every mapped attribute (empty tuples for absent ones)."""
        document = self.typed(document)
        return {rule.ldap: self._value(rule, document) for rule in self.rules}

    def typed(self, document: Mapping[str, Any]) -> Mapping[str, Any]:
        """``document`` with its multi-valued elements checked against the map's one-per-type slots.

        An element without a type takes the map's first type for that attribute when that slot is
        free (clients often send one email with no type). Two different values for one type the map
        stores once are refused: keeping one and answering 200 would drop the other silently.
        """
        out: dict[str, Any] | None = None
        for (urn, name), types in self._slots.items():
            owner = document.get(urn, {}) if urn else document
            elements = owner.get(name) if isinstance(owner, Mapping) else None
            if not isinstance(elements, list) or not elements:
                continue
            given = {str(e.get("type")).lower() for e in elements if isinstance(e, dict) and e.get("type")}
            fixed: list[Any] = []
            for element in elements:
                if isinstance(element, dict) and not element.get("type") and types[0].lower() not in given:
                    fixed.append({**element, "type": types[0]})
                    given.add(types[0].lower())
                else:
                    fixed.append(element)
            for slot in types:
                wanted = slot.lower()
                same = [e for e in fixed if isinstance(e, dict) and str(e.get("type", "")).lower() == wanted]
                # Compared as canonical JSON only when there are several: a write maps its document two or
                # three times, nearly always with one element of a type.
                distinct = len({_canonical(e) for e in same}) if len(same) > 1 else len(same)
                if distinct > 1:
                    raise InvalidValue(
                        f'{name} has {distinct} elements of type "{slot}"; the directory keeps one. '
                        f"Send one, or replace the one it has"
                    )
            if fixed != elements:
                out = out if out is not None else copy.deepcopy(dict(document))
                target = out.setdefault(urn, {}) if urn else out
                target[name] = fixed
        return out if out is not None else document

    def rdn(self, values: Mapping[str, tuple[str, ...]]) -> tuple[str, str]:
        """The RDN (attribute, value) of an entry with these mapped values."""
        found = values.get(self.rdn_attribute, ())
        if not found:
            raise InvalidValue(f"{self.map.rdn.target.text} is required")
        return self.rdn_attribute, found[0]

    def rdn_filter(self, document: Mapping[str, Any]) -> DirFilter:
        """Entries whose naming value equals this document's, ignoring case: who holds the name."""
        rule = self.map.rdn
        values = rule.converter.equality_values(rule.target.get(document))
        return any_of(*(Eq(rule.ldap, value) for value in values)) if values else MATCH_NOTHING

    def new_entry(
        self, document: Mapping[str, Any], active: bool, *, now: str | None = None
    ) -> dict[str, tuple[str, ...]]:
        """All attributes of a new entry for ``document``; ``now`` (GeneralizedTime) is recorded in the
        active rule's ``since`` attribute when the entry is created disabled."""
        attributes = {name: values for name, values in self.to_ldap(document).items() if values}
        attributes.update(dict(self.map.constants))
        attributes["objectClass"] = self.map.object_classes
        rule = self.map.active
        if rule is not None and rule.method == "uac":
            flags = UAC_NORMAL_ACCOUNT | (0 if active else UAC_DISABLED)
            attributes[rule.attribute] = (str(flags),)
        elif not active and rule is not None:
            attributes[rule.attribute] = (rule.disabled_value,)
        if not active and rule is not None and rule.since and now:
            attributes[rule.since] = (now,)
        return attributes

    def changes(
        self,
        entry: Entry,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        now: str | None = None,
        after: LdapValues | None = None,
    ) -> list[Modification]:
        """The modifications that take ``entry`` from document ``old`` to document ``new``.

        The RDN attribute is left out: renaming is a modify-DN, which the service does first. A disable
        records ``now`` (GeneralizedTime) in the active rule's ``since`` attribute; an enable removes it.
        ``after`` is ``to_ldap(new)``, when the caller has it already.
        """
        before, after = self.to_ldap(old), self.to_ldap(new) if after is None else after
        changes = [
            Modification("replace", name, values)
            for name, values in after.items()
            if self._differ(name, values, before.get(name, ())) and name.lower() != self.rdn_attribute.lower()
        ]
        present = {value.lower() for value in entry.get("objectClass")}
        missing = tuple(c for c in self.map.auxiliary_classes if c.lower() not in present)
        if changes and missing:
            changes.insert(0, Modification("add", "objectClass", missing))  # adopted entries gain our class
        rule = self.map.active
        if rule is not None and bool(new.get("active", True)) != self.is_active(entry):
            active = bool(new.get("active", True))
            changes.append(self.active_change(active, entry))
            if rule.since and (active or now):
                changes.append(Modification("replace", rule.since, () if active else (str(now),)))
        return changes

    def _differ(self, name: str, new: tuple[str, ...], old: tuple[str, ...]) -> bool:
        """Whether values differ; DNs (references such as manager) ignoring case, as the directory
        compares them: AD spells CN=Mona,OU=people where the bridge writes cn=Mona,ou=people."""
        if name.lower() in self._references:
            return tuple(v.lower() for v in new) != tuple(v.lower() for v in old)
        return new != old

    def active_change(self, active: bool, entry: Entry) -> Modification:
        """The modification that enables or disables ``entry``, which is in the other state."""
        rule = self.map.active
        assert rule is not None, "only resources with an active rule are enabled or disabled"
        if rule.method == "uac":  # set or clear one bit, keep the others: never a toggle
            flags = _uac(entry)
            flags = flags & ~UAC_DISABLED if active else flags | UAC_DISABLED
            return Modification("replace", rule.attribute, (str(flags),))
        if not active:
            return Modification("replace", rule.attribute, (rule.disabled_value,))
        if rule.enabled_value is not None:
            return Modification("replace", rule.attribute, (rule.enabled_value,))
        return Modification("delete", rule.attribute, (rule.disabled_value,))

    def active_filter(self, active: bool) -> DirFilter:
        """Entries whose ``active`` is ``active``."""
        if self.map.active is None:
            return MATCH_ALL if active else MATCH_NOTHING
        if self.map.active.method == "uac":
            bit: DirFilter = BitsSet(self.map.active.attribute, UAC_DISABLED)
            return Negation(bit) if active else bit
        disabled = Eq(self.map.active.attribute, self.map.active.disabled_value)
        return Negation(disabled) if active else disabled

    def rules_for(self, attribute: str, sub: str | None, urn: str | None) -> list[Rule]:
        """The rules whose target is ``attribute`` (any element type) and ``sub``."""
        key = (attribute.lower(), sub.lower() if sub else None, urn or None)
        return list(self._by_target.get(key, ()))


def _returned(rule: Rule) -> str:
    return (rule.target.sub or rule.target.attribute).returned


def _canonical(element: Mapping[str, Any]) -> str:
    """An element of a multi-valued attribute as one text, its flags left out: two that differ only in
    ``primary`` are one value."""
    return json.dumps({k: v for k, v in element.items() if k not in _FLAGS}, sort_keys=True)


def _uac(entry: Entry) -> int:
    """The entry's userAccountControl flags (a normal account when it has none)."""
    value = entry.first("userAccountControl") or str(UAC_NORMAL_ACCOUNT)
    return int(value) if value.lstrip("-").isdigit() else UAC_NORMAL_ACCOUNT


UserMapping = ResourceMapping  # the name the user service and its tests know it by

__all__ = ["MATCH_NOTHING", "LdapValues", "ResourceMapping", "UserMapping"]
