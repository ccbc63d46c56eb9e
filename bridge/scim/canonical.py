"""The input parser: a POST or PUT body, or a PatchOp body, as a *canonical document* or a list of
``PatchOperation``: a plain dict whose keys are the schema's own spelling of attribute names, whose
booleans are booleans, with no nulls, and with extension attributes nested under their schema URN.

It is lenient where real clients deviate from RFC 7643/7644, each time through a named quirk of
``bridge.scim.compat`` or, where the deviation is the parse itself, with its source in brackets
(the Sources of ``docs/entra.md``); it is strict on sizes and on control characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.scim.compat import coerce_boolean, extension_of, normalize_op_name, unwrap_reference
from bridge.scim.errors import InvalidPath, InvalidSyntax, InvalidValue, NoTarget
from bridge.scim.path import Path, parse_path
from bridge.scim.schemas import Attribute, ResourceSchema

_IGNORED_KEYS = frozenset({"schemas", "id", "meta"})

MAX_OPERATIONS = 1_000
"""Operations in one PATCH, at most. Entra sends one per changed attribute, and all of a group's member
changes in one or a few [D1][D14]; more than a thousand is a runaway client, and each costs a lookup.
Too many is invalidSyntax (RFC 7644 3.12, "did not conform to the request schema"): it is the PatchOp
message that is refused, before any of its operations is looked at."""

MAX_VALUES = 10_000
"""Values of one attribute in one request, at most: in a POST or PUT, or in one PATCH operation (a member
add). Microsoft names no batch size, only that one op may carry many ids [D1][D14]; 10,000
member ids (``{"$ref":null,"value":"<uuid>"}``) are about 570 KB, within the default 1 MiB body. The
cap is per request, not per group: a group of 100,000 members is filled by ten such PATCHes, each one
LDAP modify that adds values without reading the others. Too many is invalidValue (RFC 7644 3.12,
"not compatible with the operation"): the message is well formed, the detail names the attribute, and
the client's fix is to split that attribute's values over several requests."""

# Unicode's control characters (category Cc) are never text. NUL is refused by LDAP's Directory String
# syntax (RFC 4517 3.3.6), and ESC and its kin become terminal escapes in the tools that show directory
# data. Tab, line feed and carriage return are text in free-form values (RFC 7643 4.1.2: a formatted
# address "MAY contain newlines"; AD's street address is a multi-line box), but never in a value that
# names or identifies a resource (see _identifies), where Unicode's line and paragraph separators are
# refused too: slapd stores "x\u2028" as a uid that no equality filter then finds.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def normalize_value(attribute: Attribute, value: Any, where: str, dropped: list[str] | None = None) -> Any:
    """``value`` checked against ``attribute``'s type, with canonical sub-attribute names; None for null.

    Sub-attribute names are matched case-insensitively: Microsoft's suite sends ``"Primary"`` and
    ``"Manager": {"Value": ...}`` [R1]. Nulls and empty lists mean "no value": an older Entra sends
    ``"addresses": null``, and every Entra POST carries ``"roles": []`` [D1][D18]. Sub-attributes the
    schema does not know are left out, like unknown attributes, and named in ``dropped``
    (``name.nickname``) for ``scim.unmapped``.
    """
    return _normalize(attribute, unwrap_reference(attribute, value), where, dropped)


def _normalize(attribute: Attribute, value: Any, where: str, dropped: list[str] | None) -> Any:
    if value is None:
        return None
    if attribute.multi_valued:
        items = value if isinstance(value, list) else [value]
        check_count(items, where)
        single = Attribute(attribute.name, attribute.type, sub_attributes=attribute.sub_attributes)
        out = [_normalize(single, item, f"{where}[{i}]", dropped) for i, item in enumerate(items)]
        out = [item for item in out if item not in (None, {})]
        return out or None
    if attribute.type == "complex":
        if not isinstance(value, Mapping):
            raise InvalidValue(f"{where} must be an object")
        result: dict[str, Any] = {}
        for key, sub_value in value.items():
            sub = attribute.sub(str(key))
            if sub is None:
                if dropped is not None and sub_value not in (None, ""):
                    dropped.append(f"{attribute.name}.{key}")
                continue
            normalized = normalize_value(sub, sub_value, f"{where}.{sub.name}", dropped)
            if normalized is not None:
                result[sub.name] = normalized
        return result
    if attribute.type == "boolean":
        return coerce_boolean(value, where)
    if attribute.type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"{where} must be an integer, not {value!r}")
    if attribute.type == "decimal":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise InvalidValue(f"{where} must be a number, not {value!r}")
    if not isinstance(value, str):
        raise InvalidValue(f"{where} must be a string, not {type(value).__name__}{_quoted(attribute, value)}")
    check_text(attribute, value, where)
    return value


def _identifies(attribute: Attribute) -> bool:
    """Whether a value of ``attribute`` names or identifies a resource (userName, a group's displayName,
    id, externalId): it becomes an RDN or is matched exactly, so it is one line of text."""
    return attribute.uniqueness != "none" or attribute.case_exact


def check_text(attribute: Attribute, value: str, where: str) -> None:
    """Refuse control characters in a string value: any but tab, line feed and carriage return, and
    those too, and U+2028/U+2029, in a value that identifies a resource. The value is not quoted (it
    may be a password)."""
    identifies = _identifies(attribute)
    found = (_CONTROL_OR_BREAK if identifies else _CONTROL).search(value)
    if found is not None:
        kind = "control character" if unicodedata.category(found.group()) == "Cc" else "line separator"
        rule = (
            "a value that names a resource is one line of text"
            if identifies
            else "tab, line feed and carriage return are the only control characters allowed"
        )
        code = f"U+{ord(found.group()):04X}"
        raise InvalidValue(f"{where} holds the {kind} {code} at position {found.start()}; {rule}")


def check_count(values: list[Any], where: str) -> None:
    """Refuse more than ``MAX_VALUES`` values for one attribute in one request."""
    if len(values) > MAX_VALUES:
        raise InvalidValue(
            f"{where} holds {len(values)} values; at most {MAX_VALUES} are taken in one request: "
            "send the rest in further requests (PATCH add appends)"
        )


def _quoted(attribute: Attribute, value: Any) -> str:
    """`` <value>`` for an error detail, or nothing for a write-only attribute: a password sent in the
    wrong shape must not come back in the response body (RFC 7643 4.1.1: never returned in any form)."""
    return "" if attribute.mutability == "writeOnly" else f" {value!r}"


@dataclass(frozen=True, slots=True)
class Normalized:
    """A canonical document and the attribute names that were recognised as not ours and dropped."""

    document: dict[str, Any]
    ignored: tuple[str, ...]


def normalize_resource(body: Any, schema: ResourceSchema) -> Normalized:
    """The canonical document of a POST or PUT body.

    Tolerated: ``meta``, ``id`` and ``schemas`` in the body (Entra sends ``meta.resourceType`` [D1]);
    schema URNs that are unknown or malformed (``...enterprise:2.0User`` [D18]), or missing for an
    extension that is present [D7]; unknown attributes (a misspelled one in Microsoft's PUT test is
    expected to be ignored [R1]); and capitalised attribute names [R1].
    """
    if not isinstance(body, Mapping):
        raise InvalidSyntax("the request body must be a JSON object")
    document: dict[str, Any] = {}
    ignored: list[str] = []
    for raw_key, value in body.items():
        key = str(raw_key)
        if key.lower() in _IGNORED_KEYS:
            continue
        urn = schema.urn(key)
        if urn is not None and urn != schema.core_urn:
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise InvalidValue(f"{key} must be an object holding the extension's attributes")
            extension: dict[str, Any] = {}
            for sub_key, sub_value in value.items():
                attribute = schema.attribute(urn, str(sub_key))
                if attribute is None:
                    ignored.append(f"{urn}:{sub_key}")
                    continue
                normalized = normalize_value(attribute, sub_value, f"{urn}:{attribute.name}", ignored)
                if normalized is not None:
                    extension[attribute.name] = normalized
            if extension:
                document[urn] = extension
            continue
        attribute = schema.attribute(None, key)
        if attribute is None:
            home = extension_of(schema, key)
            if home is not None and value is not None:
                qualified = normalize_resource({home: {key: value}}, schema).document
                document.setdefault(home, {}).update(qualified.get(home, {}))
                continue
            ignored.append(key)
            continue
        normalized = normalize_value(attribute, value, attribute.name, ignored)
        if normalized is not None:
            document[attribute.name] = normalized
    return Normalized(document, tuple(dict.fromkeys(ignored)))


def qualify(path: Path, schema: ResourceSchema) -> Path:
    """``path`` with the extension URN added when it names an extension attribute without one."""
    if path.uri is not None or schema.attribute(None, path.attr) is not None:
        return path
    urn = extension_of(schema, path.attr)
    return Path(urn, path.attr, path.filter, path.sub) if urn else path


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One PATCH operation with a lower-case op and a parsed path (RFC 7644 section 3.5.2)."""

    op: str
    path: Path | None
    value: Any


def expand_pathless(value: Any, schema: ResourceSchema, op: str, index: int) -> list[PatchOperation]:
    """A path-less add/replace value split into one operation per attribute.

    With aadOptscim062020, Entra merges simple attributes into one path-less ``replace`` whose keys are
    paths: ``"name.givenName"`` and ``"urn:...:enterprise:2.0:User:employeeNumber"`` [D2][I5][I6][I7];
    a key may also be an extension URN holding an object [I29]. Treating the keys as paths, not as
    literal attribute names, is what libraries that broke on this got wrong.
    """
    if not isinstance(value, Mapping):
        raise InvalidSyntax(f"Operations[{index}].value must be an object when there is no path")
    operations: list[PatchOperation] = []
    for raw_key, item in value.items():
        key = str(raw_key)
        urn = schema.urn(key)
        if urn is not None and isinstance(item, Mapping):
            operations.extend(_under_schema(urn, item, schema, op))
        elif key.lower() in _IGNORED_KEYS:
            continue
        else:
            operations.append(PatchOperation(op, qualify(parse_path(key), schema), item))
    return operations


def _under_schema(
    urn: str, value: Mapping[str, Any], schema: ResourceSchema, op: str
) -> list[PatchOperation]:
    """One operation per key of an object that holds attributes of schema ``urn``: a path-less value's
    URN key [I29], or a path that names a schema alone (RFC 7644 3.5.2: "attrPath" may be a schema
    URN; scim2-tester patches the enterprise extension so). Keys are paths within that schema
    (``manager.value``); ``schemas``, ``id`` and ``meta`` are skipped as in a path-less value."""
    operations = []
    for raw_key, item in value.items():
        key = str(raw_key)
        if key.lower() in _IGNORED_KEYS:
            continue
        try:
            inner = parse_path(key)
        except InvalidPath:
            inner = Path(None, key, None, None)  # no attribute of the schema: ignored as unknown names are
        if inner.uri is not None and schema.urn(inner.uri) != urn:
            raise InvalidPath(f"{key!r} is a path of its own, not an attribute of {urn}")
        uri = None if urn == schema.core_urn else urn
        operations.append(PatchOperation(op, Path(uri, inner.attr, inner.filter, inner.sub), item))
    return operations


def _schema_removal(urn: str, schema: ResourceSchema) -> list[PatchOperation]:
    """``remove`` of a path that names an extension schema alone: every attribute of that extension
    (RFC 7644 3.5.2.2, the attribute "and all its values" for the extension object)."""
    return [PatchOperation("remove", Path(urn, a.name, None, None), None) for a in schema.extensions[urn]]


def normalize_patch(body: Any, schema: ResourceSchema) -> list[PatchOperation]:
    """The operations of a PatchOp body, with op names lower-cased and path-less values split."""
    if not isinstance(body, Mapping):
        raise InvalidSyntax("the request body must be a JSON object")
    raw_ops = next((v for k, v in body.items() if str(k).lower() == "operations"), None)
    if not isinstance(raw_ops, list) or not raw_ops:
        raise InvalidSyntax("a PATCH body needs a non-empty 'Operations' list")
    if len(raw_ops) > MAX_OPERATIONS:
        raise InvalidSyntax(
            f"the PATCH has {len(raw_ops)} operations; at most {MAX_OPERATIONS} are taken in one request"
        )
    operations: list[PatchOperation] = []
    for index, raw in enumerate(raw_ops):
        if not isinstance(raw, Mapping):
            raise InvalidSyntax(f"Operations[{index}] must be an object")
        fields = {str(k).lower(): v for k, v in raw.items()}
        op = normalize_op_name(fields.get("op"), index)
        path_text = fields.get("path")
        if path_text is not None and not isinstance(path_text, str):
            raise InvalidSyntax(f"Operations[{index}].path must be a string")
        if path_text is None or not path_text.strip():
            if op == "remove":
                raise NoTarget(f"Operations[{index}]: remove needs a path")
            expanded = expand_pathless(fields.get("value"), schema, op, index)
        else:
            expanded = _with_path(op, path_text.strip(), fields.get("value"), schema, index)
        for operation in expanded:
            if isinstance(operation.value, list):
                # Member adds never pass through normalize_value, so the cap is checked here for all.
                check_count(operation.value, f"Operations[{index}].value")
        operations.extend(expanded)
    return operations


def _with_path(op: str, text: str, value: Any, schema: ResourceSchema, index: int) -> list[PatchOperation]:
    """The operations of one PATCH operation that has a path. A path that names a schema URN alone
    (``urn:...:enterprise:2.0:User``) holds that schema's attributes in its object value, so it is
    split like a path-less value; removing it removes the extension's every attribute."""
    urn = schema.urn(text)
    if urn is None:
        return [PatchOperation(op, qualify(parse_path(text), schema), value)]
    if op == "remove":
        if urn == schema.core_urn:
            raise NoTarget(f"Operations[{index}]: the core schema {urn} cannot be removed")
        return _schema_removal(urn, schema)
    if not isinstance(value, Mapping):
        raise InvalidValue(
            f"Operations[{index}].value must be an object holding attributes of {urn}, as the path names "
            "the schema itself"
        )
    return _under_schema(urn, value, schema, op)


__all__ = [
    "MAX_OPERATIONS",
    "MAX_VALUES",
    "Normalized",
    "PatchOperation",
    "check_count",
    "check_text",
    "expand_pathless",
    "normalize_patch",
    "normalize_resource",
    "normalize_value",
    "qualify",
]
