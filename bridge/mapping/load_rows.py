"""The rows of a map section's ``attributes``: a SCIM path resolved against the schema (its
:class:`Target`), and how its values go to one LDAP attribute (converter, suffix, defaults, or a
password's scheme). Also the small helpers every part of the loader uses to word its problems.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from bridge.mapping.model import Converter, Rule, Target, Template
from bridge.mapping.passwords import DEFAULT_SCHEME, SCHEMES, scheme_name
from bridge.scim.errors import InvalidPath
from bridge.scim.filter import Compare
from bridge.scim.path import parse_path
from bridge.scim.schemas import ResourceSchema

LDAP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_ROW_KEYS = ("ldap", "convert", "strip_suffix", "default", "scheme")
# The converters that keep a SCIM type's JSON values exact, the default first.
_CONVERTERS = {
    "boolean": ("boolean",),
    "integer": ("integer",),
    "string": ("string", "postal_address", "reference"),
}
# A write-only value (password, returned "never") is never read back, so it is stored the way the
# directory takes passwords, and the map says which: there is no default.
_PASSWORD_CONVERTERS = ("ldap_password", "ad_password")


def resolve_target(text: str, schema: ResourceSchema) -> Target:
    """The target a map path names, e.g. ``emails[type eq "work"].value``; ValueError says what is wrong."""
    try:
        path = parse_path(text)
    except InvalidPath as exc:
        raise ValueError(exc.detail) from exc
    if path.uri is not None and schema.urn(path.uri) is None:
        raise ValueError(f"unknown schema URN {path.uri!r}")
    attribute = schema.attribute(path.uri, path.attr)
    if attribute is None:
        canonical = schema.urn(path.uri) if path.uri else schema.core_urn
        pool = (
            schema.attributes if canonical == schema.core_urn else schema.extensions.get(canonical or "", ())
        )
        raise ValueError(
            f"{path.attr!r} is not an attribute of {path.uri or schema.core_urn}"
            + did_you_mean(path.attr, [a.name for a in pool])
        )
    urn = schema.urn(path.uri) if path.uri else None
    urn = None if urn == schema.core_urn else urn
    sub = None
    if path.sub is not None:
        sub = attribute.sub(path.sub)
        if sub is None:
            names = [a.name for a in attribute.sub_attributes]
            raise ValueError(
                f"{attribute.name} has no sub-attribute {path.sub!r}" + did_you_mean(path.sub, names)
            )
    if attribute.multi_valued:
        match path.filter:
            case Compare(p, "eq", str(element_type)) if p.attr.lower() == "type" and p.sub is None:
                pass
            case _:
                example = f'{attribute.name}[type eq "work"].value'
                raise ValueError(f"{attribute.name} is multi-valued: name the element, e.g. {example}")
        if sub is None:
            raise ValueError(f"name the sub-attribute of {attribute.name}, e.g. .value")
        return Target(urn, attribute, element_type, sub)
    if path.filter is not None:
        raise ValueError(f"{attribute.name} is single-valued: it takes no [filter]")
    if attribute.type == "complex" and sub is None:
        example = f"{attribute.name}.{attribute.sub_attributes[0].name}"
        raise ValueError(f"{attribute.name} is complex: name a sub-attribute, e.g. {example}")
    return Target(urn, attribute, None, sub)


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean 'title'?)`` for a name close to one of ``known``, else nothing."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def template(text: str, schema: ResourceSchema) -> Template:
    parts: list[str | Target] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position : match.start()])
        parts.append(resolve_target(match.group(1).strip(), schema))
        position = match.end()
    parts.append(text[position:])
    return Template(text, tuple(part for part in parts if part != ""))


def either(names: tuple[str, ...]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def unknown_keys(data: Mapping[str, Any], known: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
            problems.append(f"{where}.{key}: unknown key ({hint})")


def rule(key: str, row: Any, where: str, schema: ResourceSchema, problems: list[str]) -> Rule | None:
    try:
        target = resolve_target(key, schema)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if isinstance(row, str):
        row = {"ldap": row}
    if not isinstance(row, Mapping):
        problems.append(f"{where}: must be an LDAP attribute name or a mapping with 'ldap'")
        return None
    unknown_keys(row, _ROW_KEYS, where, problems)
    ldap = row.get("ldap")
    if not isinstance(ldap, str) or not LDAP_NAME.match(ldap):
        problems.append(f"{where}.ldap: must be an LDAP attribute name, not {ldap!r}")
        return None
    if (target.sub or target.attribute).returned == "never":
        converter = _password(row, target, where, problems)
        return None if converter is None else Rule(target, ldap, converter)
    if "scheme" in row:
        problems.append(f"{where}.scheme: only a password row (convert: ldap_password) has a scheme")
        return None
    scim_type = (target.sub or target.attribute).type
    fitting = _CONVERTERS.get(scim_type, ("string", "postal_address"))
    kind = row.get("convert", fitting[0])
    if kind not in fitting:
        problems.append(
            f"{where}.convert: {target.text} is a SCIM {scim_type}, so convert must be "
            f"{either(fitting)}, not {kind!r}"
        )
        return None
    suffix = row.get("strip_suffix")
    if suffix is not None and (not isinstance(suffix, str) or not suffix.startswith("@")):
        problems.append(
            f"{where}.strip_suffix: must be a domain suffix starting with '@', like '@contoso.com'"
        )
        return None
    defaults = row.get("default", ())
    if isinstance(defaults, str):
        defaults = [defaults]
    templates: list[Template] = []
    for i, text in enumerate(defaults):
        try:
            templates.append(template(str(text), schema))
        except ValueError as exc:
            problems.append(f"{where}.default[{i}]: {exc}")
    return Rule(target, ldap, Converter(kind, suffix), tuple(templates))


def _password(row: Mapping[str, Any], target: Target, where: str, problems: list[str]) -> Converter | None:
    """``password: {ldap: userPassword, convert: ldap_password, scheme: SSHA}``, or AD's
    ``{ldap: unicodePwd, convert: ad_password}``: how a password the directory never gives back is sent."""
    kind = row.get("convert")
    if kind not in _PASSWORD_CONVERTERS:
        problems.append(
            f"{where}.convert: {target.text} is write-only, so say how the directory takes it: "
            f"ldap_password (OpenLDAP userPassword) or ad_password (AD unicodePwd), not {kind!r}"
        )
        return None
    extra = [key for key in ("strip_suffix", "default") if key in row]
    if kind == "ad_password" and "scheme" in row:
        extra.append("scheme")
    if extra:
        problems.append(f"{where}: a password row takes no {either(tuple(extra))}")
        return None
    if kind == "ad_password":
        return Converter("ad_password")
    text = row.get("scheme", DEFAULT_SCHEME)
    if isinstance(text, Mapping) and len(text) == 1:
        text = "{" + str(next(iter(text))) + "}"  # YAML reads an unquoted {SSHA} as a mapping
    scheme = scheme_name(text) if isinstance(text, str) else None
    if scheme is None:
        problems.append(f"{where}.scheme: {either(SCHEMES)}, not {text!r}")
        return None
    return Converter("ldap_password", scheme=scheme)
