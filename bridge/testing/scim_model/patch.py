"""RFC 7644 section 3.5.2 (PATCH) over a plain dict, with the documented tolerances of docs/scim.md.

The RFC, as modelled:

* ``add`` (3.5.2.1): a single-valued attribute gets the value; a complex one gets the sub-attributes
  given, the others left as they are (``{}`` changes nothing); a multi-valued one gets each value it does
  not hold yet (``[]`` changes nothing). Without a path the value is a set of attributes, each added so; a
  key may be a path of its own (``name.givenName``, ``urn:...:User:department``) or an extension URN
  holding that schema's attributes. A value of the wrong type (an object where a string belongs) is
  ``400 invalidValue`` (3.12).
* ``replace`` (3.5.2.3): as ``add``, but a multi-valued attribute without a filter is replaced whole (``[]``
  leaves it empty), and a filter names the elements whose value (or whose sub-attribute, with ``.sub``) is
  replaced.
* ``remove`` (3.5.2.2): the attribute, sub-attribute, or the elements the filter matches; no path is
  ``400 noTarget``. An extension URN as path is the extension's every attribute.
* A path may name an extension URN alone, with an object value of that schema's attributes (3.5.2: the
  ``attrPath`` of the ABNF may be a schema URN).
* Attribute and sub-attribute names ignore case (RFC 7643 2.1); so do ``type`` and ``value`` of
  emails, phone numbers and members when compared (their ``caseExact`` is false, RFC 7643 8.7.1).
* The request is atomic: a failing operation leaves the resource as it was (3.5.2).

The documented tolerances (docs/scim.md, "Everything Entra is known to send is accepted"): ops in any case;
``"True"``/``"False"`` for booleans; ``""`` and ``null`` as a value mean "clear"; ``remove`` of a
multi-valued attribute with a value removes only those values; an add or replace of ``attr[filter]`` or
``attr[filter].sub`` that matches no element creates the element the filter describes (merged with the
value, whose sub-attributes win), where RFC 7644 3.5.2.3 says ``noTarget``. Clearing ``active`` leaves the
document without it: :meth:`.model.Model.expect` refuses that (``400 mutability``, docs/scim.md: an account is
always enabled or disabled).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.testing.scim_model.schema import Attr, Path, Schema, parse_path
from bridge.testing.scim_model.stored import Refusal

_CLEARS = (None, "")


def apply_patch(document: dict[str, Any], body: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """A new document with the PatchOp ``body`` applied; ``document`` is not changed."""
    result: dict[str, Any] = json.loads(json.dumps(document))
    for operation in body["Operations"]:
        op = str(operation["op"]).lower()
        path = operation.get("path")
        value = operation.get("value")
        if not path:
            if op == "remove":
                raise Refusal(400, "noTarget", "remove without a path")
            _pathless(result, op, value, schema)
        elif schema.is_extension(path):
            _whole_extension(result, op, value, schema)
        else:
            _at(result, op, parse_path(path, schema), value)
    return result


def coerce_boolean(value: Any) -> bool:
    """A boolean, or its documented string forms ("True", "false", "1", "0")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise Refusal(400, "invalidValue", f"{value!r} is not a boolean")
    return text in ("true", "1")


def _pathless(document: dict[str, Any], op: str, value: Any, schema: Schema) -> None:
    for key, item in dict(value).items():
        if schema.is_extension(key) and isinstance(item, Mapping):
            _whole_extension(document, op, item, schema)
        else:
            _at(document, op, parse_path(key, schema), item)


def _whole_extension(document: dict[str, Any], op: str, value: Any, schema: Schema) -> None:
    assert schema.extension is not None
    if op == "remove":
        document.pop(schema.extension, None)
        return
    for key, item in dict(value).items():
        _at(document, op, parse_path(f"{schema.extension}:{key}", schema), item)


def _at(document: dict[str, Any], op: str, path: Path, value: Any) -> None:
    attr = path.attr
    if attr is None:
        raise ValueError(f"the sequences only send attributes of the schema, not {path.describe()}")
    owner: dict[str, Any] = document.setdefault(path.urn, {}) if path.urn else document
    clear = op == "remove" or value in _CLEARS
    if not clear and not attr.multi and not attr.subs and not attr.boolean and not isinstance(value, str):
        raise Refusal(400, "invalidValue", f"{path.describe()} is a string, not {json.dumps(value)}")
    if attr.boolean:
        if clear:  # active is required: the model refuses the PATCH that leaves it unassigned
            owner.pop(attr.name, None)
        else:
            owner[attr.name] = coerce_boolean(value)
    elif path.filter is not None:
        _filtered(owner, attr, op, path, value, clear=clear)
    elif path.sub is not None:
        if attr.multi:
            raise ValueError(f"the sequences name elements by a filter, not {path.describe()}")
        sub = _sub_name(attr, path.sub)
        if not clear and not isinstance(value, str):
            raise Refusal(400, "invalidValue", f"{path.describe()} is a string, not {json.dumps(value)}")
        current = dict(owner.get(attr.name) or {})
        if clear:
            current.pop(sub, None)
        else:
            current[sub] = value
        _store(owner, attr.name, current)
    elif attr.multi:
        _multi(owner, attr, op, value, clear)
    elif attr.subs:
        current = {} if clear else dict(owner.get(attr.name) or {})
        for key, item in ({} if clear else dict(value)).items():
            _set(current, _sub_name(attr, key), item)
        _store(owner, attr.name, current)
    elif clear:
        owner.pop(attr.name, None)
    else:
        owner[attr.name] = value
    if path.urn and not owner:
        document.pop(path.urn)


def _multi(owner: dict[str, Any], attr: Attr, op: str, value: Any, clear: bool) -> None:
    """A whole multi-valued attribute: add appends what is not there; replace sets; remove empties, or with
    values (the documented tolerance) removes only those."""
    current: list[dict[str, Any]] = list(owner.get(attr.name) or [])
    if op == "remove" and value not in (*_CLEARS, []):
        doomed = {_fold(item.get("value")) for item in _elements(attr, value)}
        _store(owner, attr.name, [e for e in current if _fold(e.get("value")) not in doomed])
    elif clear:
        owner.pop(attr.name, None)
    elif op == "replace":
        _store(owner, attr.name, _distinct(attr, [], _elements(attr, value)))
    else:
        _store(owner, attr.name, _distinct(attr, current, _elements(attr, value)))


def _filtered(owner: dict[str, Any], attr: Attr, op: str, path: Path, value: Any, *, clear: bool) -> None:
    assert path.filter is not None
    left, right = _sub_name(attr, path.filter[0]), path.filter[1]
    elements = [dict(e) for e in owner.get(attr.name) or []]
    matched = [i for i, e in enumerate(elements) if _fold(e.get(left)) == _fold(right)]
    if path.sub is not None:
        sub = _sub_name(attr, path.sub)
        if not matched and not clear:  # created when missing: documented for emails[type eq "work"].value
            elements.append({left: right})
            matched = [len(elements) - 1]
        for i in matched:
            _set(elements[i], sub, None if clear else value)
    elif op == "remove" or clear:
        elements = [e for i, e in enumerate(elements) if i not in matched]
    else:
        replacement = _elements(attr, value)[0]
        if not matched:  # created, as for attr[filter].sub (docs/scim.md), not 400 noTarget (3.5.2.3)
            elements.append({left: right, **replacement})
        for i in matched:
            elements[i] = replacement if op == "replace" else {**elements[i], **replacement}
    _store(owner, attr.name, elements)


def _elements(attr: Attr, value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [{_sub_name(attr, k): v for k, v in dict(item).items() if v not in _CLEARS} for item in items]


def _distinct(attr: Attr, current: list[dict[str, Any]], added: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``current`` and each added value it does not hold (3.5.2.1: "If the target location already
    contains the value specified, no changes SHOULD be made"). A member is the same member whatever its
    ``$ref`` or ``display`` say (3.5.2.1's example); other elements are the same when equal."""
    out = list(current)
    keys = [_identity(attr, e) for e in out]
    for element in added:
        if _identity(attr, element) not in keys:
            keys.append(_identity(attr, element))
            out.append(element)
    return out


def _identity(attr: Attr, element: Mapping[str, Any]) -> str:
    if attr.name == "members":
        return _fold(element.get("value"))
    folded = {k: _fold(v) if k in ("type", "value") else v for k, v in element.items() if k != "primary"}
    return json.dumps(folded, sort_keys=True)


def _fold(value: Any) -> str:
    return value.lower() if isinstance(value, str) else json.dumps(value)


def _sub_name(attr: Attr, name: str) -> str:
    canonical = attr.sub(name)
    if canonical is None:
        raise ValueError(f"the sequences only send sub-attributes of the schema, not {attr.name}.{name}")
    return canonical


def _set(target: dict[str, Any], name: str, value: Any) -> None:
    if value in _CLEARS:
        target.pop(name, None)
    else:
        target[name] = value


def _store(owner: dict[str, Any], name: str, value: Any) -> None:
    """An attribute left with no value is unassigned (3.5.2.2); so is an element that holds only its
    type or primary flag, and a complex value with no sub-attribute."""
    if isinstance(value, list):
        value = [e for e in value if any(k not in ("type", "primary") for k in e)]
    if value in (None, "", [], {}):
        owner.pop(name, None)
    else:
        owner[name] = value
