"""Translate a SCIM filter (RFC 7644 section 3.4.2.2) into a directory filter the server evaluates.

Nothing is fetched and filtered in Python: the directory answers. A filter that cannot be expressed
exactly is refused with invalidFilter and the reason, never answered wrongly. Values go into the
directory filter AST as plain strings; ``directory/ldap/render.py`` escapes them.

Multi-valued attributes are stored as one LDAP attribute per element type (``mail`` holds the work
email), so ``emails[type eq "work" and value co "@x"]`` is evaluated slot by slot: inside a slot the
``type`` comparison is a constant, and the other sub-attributes are that slot's LDAP attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.directory.base import (
    MATCH_ALL,
    MATCH_NOTHING,
    DirFilter,
    Eq,
    GreaterOrEqual,
    LessOrEqual,
    Negation,
    Present,
    Substring,
    all_of,
    any_of,
)
from bridge.mapping.engine import UserMapping
from bridge.mapping.model import Rule
from bridge.scim.errors import InvalidFilter
from bridge.scim.filter import ORDER_OPS, And, AttrPath, Compare, Filter, Not, Or, ValuePath
from bridge.scim.filter import Present as ScimPresent
from bridge.scim.schemas import Attribute, ResourceSchema


def negate(flt: DirFilter) -> DirFilter:
    """NOT ``flt``, folding the constants."""
    if flt == MATCH_ALL:
        return MATCH_NOTHING
    if flt == MATCH_NOTHING:
        return MATCH_ALL
    return Negation(flt)


def _chain(flt: Filter, kind: type[And] | type[Or]) -> list[Filter]:
    """The operands of a chain of one operator, gathered with a loop: the parser builds ``a and b and c``
    as a left-leaning tree that can be hundreds of levels deep."""
    items: list[Filter] = []
    stack: list[Filter] = [flt]
    while stack:
        node = stack.pop()
        if isinstance(node, kind):
            stack.extend((node.right, node.left))
        else:
            items.append(node)
    return items


@dataclass(frozen=True, slots=True)
class _Slot:
    """One element type of a multi-valued attribute, inside a value filter."""

    attribute: Attribute
    urn: str | None
    type: str


class FilterTranslator:
    """Translates filters for one resource type's map."""

    def __init__(
        self,
        mapping: UserMapping,
        schema: ResourceSchema,
        id_filter: Callable[[str], DirFilter],
        can_order: Callable[[str], bool] = lambda _: True,
    ) -> None:
        self._mapping = mapping
        self._schema = schema
        self._id_filter = id_filter
        self._can_order = can_order  # Directory.can_order: the server has an ORDERING rule

    def translate(self, flt: Filter) -> DirFilter:
        """The directory filter for ``flt``; InvalidFilter when it cannot be answered exactly."""
        return self._walk(flt, None)

    def _walk(self, flt: Filter, slot: _Slot | None) -> DirFilter:
        match flt:
            case And():
                return all_of(*(self._walk(item, slot) for item in _chain(flt, And)))
            case Or():
                return any_of(*(self._walk(item, slot) for item in _chain(flt, Or)))
            case Not(inner):
                return negate(self._walk(inner, slot))
            case ValuePath(path, inner):
                if slot is not None:
                    raise InvalidFilter("value filters cannot be nested")
                return self._over_slots(path, lambda s: self._walk(inner, s))
            case Compare(path, _, _) | ScimPresent(path):
                return self._leaf(flt, path, slot)
        raise InvalidFilter(f"unsupported filter {flt!r}")  # pragma: no cover

    def _resolve(self, path: AttrPath) -> tuple[str | None, Attribute]:
        if path.uri is not None and self._schema.urn(path.uri) is None:
            raise InvalidFilter(f"unknown schema {path.uri!r}")
        attribute = self._schema.attribute(path.uri, path.attr)
        if attribute is None:
            raise InvalidFilter(
                f"{path.attr!r} is not an attribute of a {self._schema.core_urn.rsplit(':', 1)[-1]}"
            )
        urn = self._schema.urn(path.uri) if path.uri else None
        return (None if urn == self._schema.core_urn else urn), attribute

    def _over_slots(self, path: AttrPath, inner: Callable[[_Slot], DirFilter]) -> DirFilter:
        urn, attribute = self._resolve(path)
        if not attribute.multi_valued or attribute.type != "complex":
            raise InvalidFilter(f"{attribute.name} is not multi-valued; it takes no [filter]")
        types = dict.fromkeys(
            rule.target.type
            for rule in self._mapping.rules
            if rule.target.attribute is attribute and rule.target.type is not None
        )
        if not types:
            raise InvalidFilter(
                f"{attribute.name} is not stored by the attribute map, so it cannot be filtered"
            )
        results = []
        for element_type in types:
            slot = _Slot(attribute, urn, element_type)
            exists = any_of(*(Present(rule.ldap) for rule in self._slot_rules(slot, None)))
            results.append(all_of(exists, inner(slot)))
        return any_of(*results)

    def _slot_rules(self, slot: _Slot, sub: str | None) -> list[Rule]:
        return [
            rule
            for rule in self._mapping.rules
            if rule.target.attribute is slot.attribute
            and (rule.target.type or "").lower() == slot.type.lower()
            and (sub is None or (rule.target.sub is not None and rule.target.sub.name.lower() == sub.lower()))
        ]

    def _leaf(self, flt: Compare | ScimPresent, path: AttrPath, slot: _Slot | None) -> DirFilter:
        if slot is not None:
            if path.sub is not None:
                raise InvalidFilter('inside a value filter, name sub-attributes directly: [type eq "work"]')
            if path.attr.lower() == "type":
                return self._compare_constant(flt, slot.type)
            return self._rules_filter(flt, self._slot_rules(slot, path.attr), path)
        urn, attribute = self._resolve(path)
        name = attribute.name
        if name == "id" and urn is None:
            return self._on_id(flt)
        if name == "active" and urn is None:
            return self._on_active(flt)
        if name in ("meta", "schemas"):
            raise InvalidFilter(f"filtering on {name} is not supported")
        if attribute.returned == "never":
            # RFC 7643 section 7 leaves it to the service provider; a filter on a password would be a
            # way to test guesses (or, on its presence, to learn who has one).
            raise InvalidFilter(f"{name} is write-only and never returned, so it cannot be filtered")
        if attribute.multi_valued and attribute.type == "complex":
            sub_path = AttrPath(None, path.sub or "value", None)
            leaf = Compare(sub_path, flt.op, flt.value) if isinstance(flt, Compare) else ScimPresent(sub_path)
            return self._over_slots(
                AttrPath(path.uri, path.attr, None), lambda s: self._leaf(leaf, sub_path, s)
            )
        if attribute.type == "complex" and path.sub is None:
            example = f"{name}.{attribute.sub_attributes[0].name}"
            raise InvalidFilter(f"{name} is complex: filter on a sub-attribute such as {example}")
        rules = self._mapping.rules_for(name, path.sub, urn)
        if not rules:
            shown = f"{name}.{path.sub}" if path.sub else name
            raise InvalidFilter(f"{shown} is not stored by the attribute map, so it cannot be filtered")
        return self._rules_filter(flt, rules, path)

    def _rules_filter(self, flt: Compare | ScimPresent, rules: list[Rule], path: AttrPath) -> DirFilter:
        if not rules:
            return MATCH_NOTHING  # a sub-attribute this slot does not store is absent
        return any_of(*(self._on_rule(flt, rule, path) for rule in rules))

    def _on_rule(self, flt: Compare | ScimPresent, rule: Rule, path: AttrPath) -> DirFilter:
        if isinstance(flt, ScimPresent):
            return Present(rule.ldap)
        op, value = flt.op, flt.value
        shown = rule.target.text
        if rule.converter.kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"  # Entra spells booleans as strings [D2]
        if isinstance(value, bool) != (rule.converter.kind == "boolean") or value is None:
            if value is None and op in ("eq", "ne"):
                present = Present(rule.ldap)
                return negate(present) if op == "eq" else present
            raise InvalidFilter(f"{shown} cannot be compared with {value!r}: compare it with a quoted string")
        if isinstance(value, float) and rule.converter.kind != "integer":
            raise InvalidFilter(f"{shown} cannot be compared with a number: quote the value")
        # Refuse what cannot be answered exactly before converting: a partial value ("sw j") need not
        # be storable, and must not turn into "matches nothing".
        if op in ("co", "sw", "ew") and not rule.converter.exact:
            raise InvalidFilter(
                f"{shown} is converted before it is stored, so '{op}' cannot be answered exactly"
            )
        if op in ORDER_OPS:
            if rule.converter.kind == "boolean" or (
                not rule.converter.exact and rule.converter.kind != "integer"
            ):
                raise InvalidFilter(f"'{op}' is not defined for {shown}")
            if not self._can_order(rule.ldap):
                raise InvalidFilter(
                    f"'{op}' cannot be answered for {shown}: "
                    f"the directory defines no ordering for {rule.ldap}"
                )
        if op in ("eq", "ne"):
            # A value the directory cannot hold (a userName without the map's suffix) matches nothing.
            equal = any_of(*(Eq(rule.ldap, v) for v in rule.converter.equality_values(value)))
            return equal if op == "eq" else negate(equal)
        try:
            text = rule.converter.to_ldap(value if rule.converter.kind != "string" else str(value))
        except ValueError:
            return MATCH_NOTHING
        if op == "co":
            return Substring(rule.ldap, any=(text,))
        if op in ("sw", "ew"):
            return Substring(rule.ldap, initial=text) if op == "sw" else Substring(rule.ldap, final=text)
        if op == "ge":
            return GreaterOrEqual(rule.ldap, text)
        if op == "le":
            return LessOrEqual(rule.ldap, text)
        if op == "gt":
            return all_of(GreaterOrEqual(rule.ldap, text), Negation(Eq(rule.ldap, text)))
        if op == "lt":
            return all_of(LessOrEqual(rule.ldap, text), Negation(Eq(rule.ldap, text)))
        raise InvalidFilter(f"unknown operator {op!r}")  # pragma: no cover - the parser knows them all

    @staticmethod
    def _compare_constant(flt: Compare | ScimPresent, constant: str) -> DirFilter:
        if isinstance(flt, ScimPresent):
            return MATCH_ALL
        value = flt.value
        if not isinstance(value, str):
            return MATCH_NOTHING if flt.op != "ne" else MATCH_ALL
        left, right = constant.lower(), value.lower()
        result = {
            "eq": left == right,
            "ne": left != right,
            "co": right in left,
            "sw": left.startswith(right),
            "ew": left.endswith(right),
            "gt": left > right,
            "ge": left >= right,
            "lt": left < right,
            "le": left <= right,
        }[flt.op]
        return MATCH_ALL if result else MATCH_NOTHING

    def _on_id(self, flt: Compare | ScimPresent) -> DirFilter:
        if isinstance(flt, ScimPresent):
            return MATCH_ALL
        if flt.op not in ("eq", "ne") or not isinstance(flt.value, str):
            raise InvalidFilter("id can only be compared with eq or ne and a quoted id")
        match = self._id_filter(flt.value)
        return match if flt.op == "eq" else negate(match)

    def _on_active(self, flt: Compare | ScimPresent) -> DirFilter:
        if isinstance(flt, ScimPresent):
            return MATCH_ALL
        if flt.op not in ("eq", "ne"):
            raise InvalidFilter("active is a boolean: compare it with eq or ne")
        value = flt.value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"  # Entra spells booleans as strings [D2]
        if not isinstance(value, bool):
            raise InvalidFilter(f"active is a boolean, not {flt.value!r}")
        return self._mapping.active_filter(value if flt.op == "eq" else not value)
