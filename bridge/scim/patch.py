"""Apply PATCH operations to a canonical document (RFC 7644 section 3.5.2), purely.

The service reads an entry, maps it to a document, applies the operations here, and maps the result
back: what changed in the directory is the difference, so an operation that sets what is already
there writes nothing. Operations on attributes the schema does not know are reported in
``PatchResult.ignored`` instead of failing, as unknown attributes are on POST.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bridge.scim.canonical import PatchOperation, normalize_value
from bridge.scim.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from bridge.scim.filter import And, Compare, Filter, evaluate
from bridge.scim.schemas import Attribute, ResourceSchema

_EMPTY: tuple[Any, ...] = (None, "", [], {})


Written = frozenset[tuple[str | None, str]]  # (an extension's URN, or None for the core schema; a name)


@dataclass(frozen=True, slots=True)
class PatchResult:
    """The patched document, the paths of operations that targeted unknown attributes, and the attributes
    the operations wrote, spelled as the schema spells them: what of the document the client sent (the
    rest is the resource as it was)."""

    document: dict[str, Any]
    ignored: tuple[str, ...]
    written: Written = frozenset()


def copy_document(value: Any) -> Any:
    """A copy of a JSON-shaped value (dicts, lists, scalars) that shares nothing mutable with it: what
    ``copy.deepcopy`` gives for such a value, several times faster: every PATCH copies its document."""
    if isinstance(value, dict):
        return {key: copy_document(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_document(item) for item in value]
    return value


def apply_patch(
    document: dict[str, Any], operations: list[PatchOperation], schema: ResourceSchema
) -> PatchResult:
    """A new document with ``operations`` applied in order; ``document`` is left untouched."""
    result: dict[str, Any] = copy_document(document)
    ignored: list[str] = []
    written: set[tuple[str | None, str]] = set()
    for index, operation in enumerate(operations):
        _apply(result, operation, schema, ignored=ignored, written=written, where=f"Operations[{index}]")
    return PatchResult(result, tuple(dict.fromkeys(ignored)), frozenset(written))


def _owner(document: dict[str, Any], urn: str | None, create: bool) -> dict[str, Any]:
    """The dict that holds attributes of extension ``urn`` (canonical; None for the core schema): the
    document, or its extension object."""
    if urn is None:
        return document
    if create:
        return document.setdefault(urn, {})  # type: ignore[no-any-return]
    found = document.get(urn)
    return found if isinstance(found, dict) else {}


def _apply(
    document: dict[str, Any],
    operation: PatchOperation,
    schema: ResourceSchema,
    *,
    ignored: list[str],
    written: set[tuple[str | None, str]],
    where: str,
) -> None:
    path = operation.path
    assert path is not None  # canonical.normalize_patch splits path-less operations
    canonical = schema.urn(path.uri) if path.uri is not None else schema.core_urn
    if canonical is None:
        ignored.append(f"{path.uri}:{path.attr}")
        return
    urn = None if canonical == schema.core_urn else canonical  # an extension's, or None for the core schema
    attribute = schema.attribute(path.uri, path.attr)
    if attribute is None:
        ignored.append(path.attr)
        return
    if attribute.mutability == "readOnly":
        raise Mutability(f"{where}: {attribute.name} is read-only")
    written.add((urn, attribute.name))
    owner = _owner(document, urn, create=operation.op != "remove")
    primaries = _primaries(owner, attribute)
    if path.filter is not None:
        _apply_filtered(owner, attribute, operation, where, ignored=ignored)
    elif path.sub is not None:
        _apply_sub(owner, attribute, path.sub, operation, where, ignored=ignored)
    else:
        _apply_whole(owner, attribute, operation, where, ignored=ignored)
    _one_primary(owner, attribute, primaries)
    if urn is not None and urn in document and not document[urn]:
        del document[urn]


def _clears(operation: PatchOperation) -> bool:
    """Remove, and add or replace with null or "", all mean "clear": Microsoft's suite sets optional
    attributes to "" and then null and expects them to read back empty [R2]. So does a replace with no
    values (``[]``). An add of no values (``[]``, ``{}``) changes nothing (RFC 7644 3.5.2.1), and neither
    does a replace of a complex attribute with ``{}`` (3.5.2.3: sub-attributes not given are kept)."""
    value = operation.value
    return operation.op == "remove" or value in (None, "") or (operation.op == "replace" and value == [])


def _apply_whole(
    owner: dict[str, Any], attribute: Attribute, operation: PatchOperation, where: str, *, ignored: list[str]
) -> None:
    """An operation on a whole attribute. A remove that carries values removes only those values (Entra's
    legacy member and email removal [D2][I9][R8], Q7); add appends to multi-valued attributes; add and
    replace merge into complex ones; null or "" clears."""
    name = attribute.name
    if operation.op == "remove" and attribute.multi_valued and operation.value not in _EMPTY:
        # Entra's legacy member/email removal: Remove + path + the values to remove, not "all" [D2][I9][I10].
        doomed = normalize_value(attribute, operation.value, where) or []
        keys = {_element_key(item) for item in doomed}
        kept = [item for item in owner.get(name, []) if _element_key(item) not in keys]
        _store(owner, name, kept)
        return
    if _clears(operation):
        owner.pop(name, None)
        return
    value = normalize_value(attribute, operation.value, where, ignored)
    if attribute.multi_valued:
        if operation.op == "add":
            # A value whose elements all normalize away (no known sub-attribute) is None: nothing to add.
            value = _appended(list(owner.get(name, [])), value or [])
        _store(owner, name, value)
    elif attribute.type == "complex":
        # Both add and replace merge sub-attributes into a complex attribute (3.5.2.1, 3.5.2.3).
        merged = {**owner.get(name, {}), **value}
        _store(owner, name, {k: v for k, v in merged.items() if v not in _EMPTY})
    else:
        owner[name] = value


def _apply_sub(
    owner: dict[str, Any],
    attribute: Attribute,
    sub_name: str,
    operation: PatchOperation,
    where: str,
    *,
    ignored: list[str],
) -> None:
    sub = attribute.sub(sub_name)
    if sub is None:
        raise InvalidPath(f"{where}: {attribute.name} has no sub-attribute {sub_name!r}")
    if sub.mutability == "readOnly":
        raise Mutability(f"{where}: {attribute.name}.{sub.name} is read-only")
    value = None if _clears(operation) else normalize_value(sub, operation.value, where, ignored)
    if attribute.multi_valued:
        elements = [dict(item) for item in owner.get(attribute.name, [])]
        if not elements and value is not None:
            elements = [{}]
        for element in elements:
            _check_immutable(attribute, sub, element.get(sub.name), value, where)
            _set(element, sub.name, value)
        _store(owner, attribute.name, [e for e in elements if _meaningful(e)])
        return
    current = dict(owner.get(attribute.name) or {})
    _check_immutable(attribute, sub, current.get(sub.name), value, where)
    _set(current, sub.name, value)
    _store(owner, attribute.name, current)


def _apply_filtered(
    owner: dict[str, Any], attribute: Attribute, operation: PatchOperation, where: str, *, ignored: list[str]
) -> None:
    """An operation on ``attr[filter]`` or ``attr[filter].sub`` (RFC 7644 3.5.2): matching elements are
    changed or removed; an add or replace that matches nothing creates the element the filter describes,
    as Entra expects for ``emails[type eq "work"].value`` [I19][T1] (Q6)."""
    path = operation.path
    assert path is not None and path.filter is not None
    if not attribute.multi_valued:
        _apply_filtered_single(owner, attribute, operation, where)
        return
    case_exact = {sub.name.lower() for sub in attribute.sub_attributes if sub.case_exact}
    elements = [dict(item) for item in owner.get(attribute.name, [])]
    matched = [
        i
        for i, element in enumerate(elements)
        if evaluate(path.filter, element, case_exact=lambda p: (p.sub or p.attr).lower() in case_exact)
    ]
    if path.sub is not None:
        sub = attribute.sub(path.sub)
        if sub is None:
            raise InvalidPath(f"{where}: {attribute.name} has no sub-attribute {path.sub!r}")
        if sub.mutability == "readOnly":
            raise Mutability(f"{where}: {attribute.name}.{sub.name} is read-only")
        value = None if _clears(operation) else normalize_value(sub, operation.value, where, ignored)
        if not matched and value is not None:
            # Entra adds or replaces emails[type eq "work"].value on users that have no work email yet,
            # and expects the element to be created [I19][T1].
            elements.append(_element_from_filter(path.filter, where, attribute))
            matched = [len(elements) - 1]
        for i in matched:
            _check_immutable(attribute, sub, elements[i].get(sub.name), value, where)
            _set(elements[i], sub.name, value)
    elif operation.op == "remove":
        elements = [e for i, e in enumerate(elements) if i not in matched]
    else:
        value = None if _clears(operation) else normalize_value(attribute, operation.value, where, ignored)
        replacement = value[0] if isinstance(value, list) and value else value
        if not isinstance(replacement, dict):
            raise InvalidValue(f"{where}: the value for a filtered path must be an object")
        if not matched:
            elements.append({**_element_from_filter(path.filter, where, attribute), **replacement})
        for i in matched:
            base = (
                elements[i] if operation.op == "add" else _element_from_filter(path.filter, where, attribute)
            )
            elements[i] = {**base, **replacement}
    _store(owner, attribute.name, [e for e in elements if _meaningful(e)])


def _apply_filtered_single(
    owner: dict[str, Any], attribute: Attribute, operation: PatchOperation, where: str
) -> None:
    """``remove`` with ``manager[value eq "<id>"]``, as Azure AD has sent it [I14]: the attribute goes when
    it holds that value, and stays when it does not (the removal already happened)."""
    path = operation.path
    assert path is not None and path.filter is not None
    if attribute.type != "complex" or operation.op != "remove" or path.sub is not None:
        raise InvalidPath(f"{where}: a value filter needs a multi-valued attribute; {attribute.name} is not")
    current = owner.get(attribute.name)
    if isinstance(current, dict) and evaluate(path.filter, current):
        owner.pop(attribute.name)


def _element_from_filter(flt: Filter, where: str, attribute: Attribute) -> dict[str, Any]:
    """The element a filter of equalities describes: ``type eq "work"`` gives ``{"type": "work"}``."""
    match flt:
        case Compare(path, "eq", value) if path.sub is None and value is not None:
            sub = attribute.sub(path.attr)
            if sub is None:
                raise InvalidPath(f"{where}: {attribute.name} has no sub-attribute {path.attr!r}")
            return {sub.name: value}
        case And(left, right):
            return {
                **_element_from_filter(left, where, attribute),
                **_element_from_filter(right, where, attribute),
            }
    raise NoTarget(f"{where}: no value matches the filter, and it does not describe a value to create")


def _check_immutable(attribute: Attribute, sub: Attribute, current: Any, value: Any, where: str) -> None:
    """RFC 7644 3.5.2: an immutable sub-attribute may get a value where it has none, and no other change."""
    if sub.mutability == "immutable" and current not in _EMPTY and current != value:
        raise Mutability(f"{where}: {attribute.name}.{sub.name} is immutable")


def _appended(current: list[Any], added: list[Any]) -> list[Any]:
    """``current`` and each added value that is not already there (RFC 7644 3.5.2.1), in one pass, so a
    member add of ``canonical.MAX_VALUES`` values costs linear time. Elements with a "value" are the same
    value when it is, whatever their $ref or display say (3.5.2.1's add-member example shortens the $ref
    of a member already in RFC 7643 8.4's group); other values when they are equal."""
    seen = {_identity(item) for item in current}
    for item in added:
        if (key := _identity(item)) not in seen:
            seen.add(key)
            current.append(item)
    return current


def _identity(item: Any) -> tuple[bool, str]:
    keyed = isinstance(item, dict) and "value" in item
    return keyed, json.dumps(_element_key(item) if keyed else item, sort_keys=True, default=str)


def _primaries(owner: dict[str, Any], attribute: Attribute) -> list[Any]:
    elements = owner.get(attribute.name) if attribute.multi_valued else None
    return [e for e in elements if isinstance(e, dict) and e.get("primary") is True] if elements else []


def _one_primary(owner: dict[str, Any], attribute: Attribute, before: list[Any]) -> None:
    """RFC 7644 3.5.2: after an operation that sets a primary value, no other value is primary (the flag
    is dropped: absent reads as false, RFC 7643 2.4)."""
    elements = owner.get(attribute.name) if attribute.multi_valued else None
    if not isinstance(elements, list):
        return
    made = [e for e in elements if isinstance(e, dict) and e.get("primary") is True and e not in before]
    if made:
        owner[attribute.name] = [
            {k: v for k, v in e.items() if k != "primary"} if isinstance(e, dict) and e not in made else e
            for e in elements
        ]


def _meaningful(element: Any) -> bool:
    """An element left with only its type or primary flag holds no value any more."""
    if not isinstance(element, dict):
        return element not in _EMPTY
    return any(key not in ("type", "primary") for key in element)


def _element_key(item: Any) -> Any:
    if isinstance(item, dict):
        value = item.get("value")
        return value.lower() if isinstance(value, str) else value
    return item.lower() if isinstance(item, str) else item


def _set(target: dict[str, Any], name: str, value: Any) -> None:
    if value in _EMPTY:
        target.pop(name, None)
    else:
        target[name] = value


def _store(owner: dict[str, Any], name: str, value: Any) -> None:
    _set(owner, name, value)
