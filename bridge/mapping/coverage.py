"""Which values of a SCIM document the map would not keep: the check behind "never a 2xx for a change
that was not made".

A write maps the document the client asked for to directory values. A value can fail to arrive in two
ways: the map has no row for its path (``nickName``, ``emails[type eq "home"].value``), so it is
*unmapped*, which ``scim.unmapped`` decides on (ignore, logged and counted, or reject); or the map has a
row but the value does not read back as sent, so it is *lost*, which is always refused. Both are found
here, before anything is written, purely from the map.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.mapping.engine import ResourceMapping
from bridge.mapping.model import Rule

# Not stored, and never a loss: the directory keeps one value per type, which is its own preference
# (Entra marks its only work email primary [D1]); "type" is where the value is kept, not a value; and
# a reference's "$ref" is made from its value on every read.
_MARKERS = frozenset({"type", "primary", "$ref"})
# RFC 7643's canonical types (sections 4.1.2 and 2.4): a metric label names one of these or none, so a
# client cannot grow the number of series with types of its own.
_CANONICAL_TYPES = frozenset(
    {"work", "home", "other", "mobile", "fax", "pager", "photo", "thumbnail"}
    | {"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"}
)
_UNREADABLE = frozenset({"ldap_password", "ad_password"})  # written, never read back: nothing to compare
_RELATIVE = frozenset({"reference"})  # an id on the wire, a DN in the directory: checked by the service


@dataclass(frozen=True, slots=True)
class Leaf:
    """One value of a document and where it sits, in the words of the map's paths."""

    urn: str | None
    attribute: str
    type: str | None
    sub: str | None
    value: Any

    @property
    def path(self) -> str:
        """The path as the map (and Entra's mapping screen) writes it: ``emails[type eq "home"].value``."""
        name = f"{self.urn}:{self.attribute}" if self.urn else self.attribute
        if self.type is not None:
            name += f'[type eq "{self.type}"]'
        return f"{name}.{self.sub}" if self.sub is not None else name

    @property
    def label(self) -> str:
        """The path with an uncommon type folded into one word: a bounded value for a metric label."""
        if self.type is None or self.type.lower() in _CANONICAL_TYPES:
            return self.path
        return Leaf(self.urn, self.attribute, "(uncommon)", self.sub, None).path


@dataclass(frozen=True, slots=True)
class Unstored:
    """The values the map has no row for, and the paths whose value would read back otherwise."""

    unmapped: tuple[Leaf, ...] = ()
    lost: tuple[str, ...] = ()


def unstored(
    mapping: ResourceMapping,
    document: Mapping[str, Any],
    *,
    kept_apart: tuple[str, ...] = (),
    only: Collection[tuple[str | None, str]] | None = None,
) -> Unstored:
    """What of ``document`` (canonical, before references become DNs) the map would not store.

    ``kept_apart`` names attributes the service stores by other means (a group's ``members``) or that
    are read-only (a user's ``groups``). ``active`` is stored where the map has an ``active`` rule.
    ``only`` limits the check to these attributes (extension URN or None, name): a PATCH's, as the rest
    of its document is the resource as the directory holds it, read back through the same map.
    """
    if only is not None:
        document = _part(document, only)
    skipped = {name.lower() for name in kept_apart}
    if mapping.map.active is not None:
        skipped.add("active")
    unmapped: dict[str, Leaf] = {}
    lost: list[str] = []
    for leaf in leaves(mapping.typed(document)):
        if leaf.attribute.lower() in skipped and leaf.urn is None:
            continue
        rule = _rule_for(mapping, leaf)
        if rule is None:
            unmapped.setdefault(leaf.path, leaf)
        elif not _reads_back(rule, leaf.value):
            lost.append(leaf.path)
    return Unstored(tuple(unmapped.values()), tuple(dict.fromkeys(lost)))


def always_held(
    mapping: ResourceMapping, before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[str, ...]:
    """The paths that ``before`` holds, ``after`` (the PATCH applied) clears, and the directory always
    holds a value for: ``active`` (an account is enabled or disabled), and every row with a ``default``
    (the map fills it because the directory requires it, such as ``sn`` for ``name.familyName``).
    RFC 7644 3.5.2.2 refuses their removal (``mutability``)."""
    cleared = [
        rule.target.text
        for rule in mapping.rules
        if rule.default and rule.target.get(before) not in (None, "") and rule.target.get(after) in (None, "")
    ]
    if mapping.map.active is not None and "active" in before and after.get("active") is None:
        cleared.append("active")
    return tuple(cleared)


def _part(document: Mapping[str, Any], attributes: Collection[tuple[str | None, str]]) -> dict[str, Any]:
    """The attributes of ``document`` named in ``attributes`` ((extension URN or None, name), any case),
    extension attributes still under their URN."""
    wanted = {(urn.lower() if urn else None, name.lower()) for urn, name in attributes}
    found: dict[str, Any] = {}
    for key, value in document.items():
        lowered = key.lower()
        if lowered.startswith("urn:") and isinstance(value, Mapping):
            inner = {name: item for name, item in value.items() if (lowered, str(name).lower()) in wanted}
            if inner:
                found[key] = inner
        elif (None, lowered) in wanted:
            found[key] = value
    return found


def leaves(document: Mapping[str, Any]) -> Iterator[Leaf]:
    """Every value of a canonical document with its path; extension attributes under their URN."""
    for key, value in document.items():
        if key.lower().startswith("urn:") and isinstance(value, Mapping):
            for name, item in value.items():
                yield from _leaves_of(key, str(name), item)
        else:
            yield from _leaves_of(None, key, value)


def _leaves_of(urn: str | None, name: str, value: Any) -> Iterator[Leaf]:
    if isinstance(value, list):
        for element in value:
            if isinstance(element, Mapping):
                kind = element.get("type")
                kind = str(kind) if kind not in (None, "") else None
                for sub, item in element.items():
                    if sub not in _MARKERS and item not in (None, ""):
                        yield Leaf(urn, name, kind, sub, item)
            elif element not in (None, ""):
                yield Leaf(urn, name, None, None, element)
    elif isinstance(value, Mapping):
        for sub, item in value.items():
            if sub not in _MARKERS and item not in (None, ""):
                yield Leaf(urn, name, None, str(sub), item)
    elif value not in (None, ""):
        yield Leaf(urn, name, None, None, value)


def _rule_for(mapping: ResourceMapping, leaf: Leaf) -> Rule | None:
    for rule in mapping.rules_for(leaf.attribute, leaf.sub, leaf.urn):
        wanted = rule.target.type
        if (wanted or "").lower() == (leaf.type or "").lower():
            return rule
    return None


def _reads_back(rule: Rule, value: Any) -> bool:
    """Whether the directory value of ``value`` reads back as ``value``. A value the converter refuses
    is not judged here: writing it raises the converter's own 400, which says why."""
    converter = rule.converter
    if converter.kind in _UNREADABLE or converter.kind in _RELATIVE:
        return True
    try:
        back = converter.from_ldap(converter.to_ldap(value))
    except ValueError:
        return True
    if converter.kind == "postal_address" and isinstance(value, str):
        value = value.replace("\r\n", "\n")  # one line break, however the client's platform spells it
    return bool(back == value)


__all__ = ["Leaf", "Unstored", "always_held", "leaves", "unstored"]
