"""Compile parsed attribute-map data into a :class:`ResourceMap`, reporting every problem by its path.

Pure: reading the YAML file is ``bridge.config.load_user_map``'s job.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from typing import Any, Literal

from bridge.directory.base import DirFilter
from bridge.directory.filterparse import LdapFilterSyntaxError, parse_ldap_filter
from bridge.mapping.model import (
    PPOLICY_LOCK,
    UAC_DISABLED,
    ActiveRule,
    Converter,
    MapSet,
    MemberRule,
    NamingRule,
    PosixRule,
    ResourceMap,
    Rule,
    Target,
    Template,
)
from bridge.mapping.passwords import DEFAULT_SCHEME, SCHEMES, scheme_name
from bridge.scim.errors import InvalidPath
from bridge.scim.filter import Compare
from bridge.scim.path import parse_path
from bridge.scim.schemas import GROUP, USER, ResourceSchema

_LDAP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_ROW_KEYS = ("ldap", "convert", "strip_suffix", "default", "scheme")
_USER_KEYS = (
    "object_classes",
    "auxiliary_classes",
    "filter",
    "rdn",
    "derived",
    "active",
    "constants",
    "attributes",
)
_ACTIVE_KEYS = ("method", "attribute", "disabled_value", "enabled_value", "password_length", "since")
_GROUP_KEYS = (
    "object_classes",
    "auxiliary_classes",
    "filter",
    "rdn",
    "derived",
    "members",
    "posix",
    "integrity",
    "constants",
    "attributes",
)
_MEMBER_KEYS = ("attribute", "placeholder", "kept_on", "url_attribute", "member_class")
_MEMBER_HOLDS: dict[str, Literal["dn", "uid"]] = {"member": "dn", "uniqueMember": "dn", "memberUid": "uid"}
# The converters that keep a SCIM type's JSON values exact, the default first.
_CONVERTERS = {
    "boolean": ("boolean",),
    "integer": ("integer",),
    "string": ("string", "postal_address", "reference"),
}
# A write-only value (password, returned "never") is never read back, so it is stored the way the
# directory takes passwords, and the map says which: there is no default.
_PASSWORD_CONVERTERS = ("ldap_password", "ad_password")


class MapError(Exception):
    """The map file has problems; ``problems`` lists each as ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


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
            + _did_you_mean(path.attr, [a.name for a in pool])
        )
    urn = schema.urn(path.uri) if path.uri else None
    urn = None if urn == schema.core_urn else urn
    sub = None
    if path.sub is not None:
        sub = attribute.sub(path.sub)
        if sub is None:
            names = [a.name for a in attribute.sub_attributes]
            raise ValueError(
                f"{attribute.name} has no sub-attribute {path.sub!r}" + _did_you_mean(path.sub, names)
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


def _did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean 'title'?)`` for a name close to one of ``known``, else nothing."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""


def _template(text: str, schema: ResourceSchema) -> Template:
    parts: list[str | Target] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(text[position : match.start()])
        parts.append(resolve_target(match.group(1).strip(), schema))
        position = match.end()
    parts.append(text[position:])
    return Template(text, tuple(part for part in parts if part != ""))


def _either(names: tuple[str, ...]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _unknown(data: Mapping[str, Any], known: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
            problems.append(f"{where}.{key}: unknown key ({hint})")


def _rule(key: str, row: Any, where: str, schema: ResourceSchema, problems: list[str]) -> Rule | None:
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
    _unknown(row, _ROW_KEYS, where, problems)
    ldap = row.get("ldap")
    if not isinstance(ldap, str) or not _LDAP_NAME.match(ldap):
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
            f"{_either(fitting)}, not {kind!r}"
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
            templates.append(_template(str(text), schema))
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
        problems.append(f"{where}: a password row takes no {_either(tuple(extra))}")
        return None
    if kind == "ad_password":
        return Converter("ad_password")
    text = row.get("scheme", DEFAULT_SCHEME)
    if isinstance(text, Mapping) and len(text) == 1:
        text = "{" + str(next(iter(text))) + "}"  # YAML reads an unquoted {SSHA} as a mapping
    scheme = scheme_name(text) if isinstance(text, str) else None
    if scheme is None:
        problems.append(f"{where}.scheme: {_either(SCHEMES)}, not {text!r}")
        return None
    return Converter("ldap_password", scheme=scheme)


def _active(data: Any, where: str, problems: list[str]) -> ActiveRule | None:
    if not isinstance(data, Mapping):
        problems.append(f"{where}: must be a mapping with 'method' (ppolicy or attribute)")
        return None
    _unknown(data, _ACTIVE_KEYS, where, problems)
    since = data.get("since")
    if since is not None and (not isinstance(since, str) or not _LDAP_NAME.match(since)):
        problems.append(f"{where}.since: the LDAP attribute that records when an account was disabled")
        return None
    rule = _active_method({k: v for k, v in data.items() if k != "since"}, where, problems)
    return dataclasses.replace(rule, since=since) if rule is not None and since else rule


def _active_method(data: Mapping[str, Any], where: str, problems: list[str]) -> ActiveRule | None:
    method = data.get("method")
    if method == "ppolicy":
        extra = [key for key in data if key != "method"]
        if extra:
            problems.append(f"{where}: {', '.join(extra)} only apply to method: attribute")
            return None
        return ActiveRule("ppolicy", "pwdAccountLockedTime", PPOLICY_LOCK)
    if method == "uac":
        extra = [key for key in data if key not in ("method", "password_length")]
        length = data.get("password_length", 24)
        if extra:
            problems.append(f"{where}: {', '.join(extra)} do not apply to method: uac")
            return None
        if not isinstance(length, int) or not (length == 0 or 14 <= length <= 128):
            problems.append(f"{where}.password_length: 0 (set none) or 14 to 128 characters")
            return None
        return ActiveRule("uac", "userAccountControl", str(UAC_DISABLED), password_length=length)
    if method == "attribute":
        before = len(problems)
        attribute, disabled = data.get("attribute"), data.get("disabled_value")
        enabled = data.get("enabled_value")
        if not isinstance(attribute, str) or not _LDAP_NAME.match(attribute):
            problems.append(f"{where}.attribute: the LDAP attribute that marks a disabled account")
        if not isinstance(disabled, str | int | bool) or disabled == "":
            problems.append(f'{where}.disabled_value: the value it holds while disabled (e.g. "TRUE")')
        if enabled is not None and not isinstance(enabled, str | int):
            problems.append(f"{where}.enabled_value: a value, or leave it out to remove the attribute")
        if len(problems) > before:
            return None
        return ActiveRule(
            "attribute", str(attribute), _yaml_scalar(disabled), None if enabled is None else str(enabled)
        )
    problems.append(f"{where}.method: must be ppolicy, attribute or uac, not {method!r}")
    return None


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"  # YAML reads TRUE as a boolean; LDAP spells it upper-case
    return str(value)


def _common(
    section: Mapping[str, Any], name: str, naming: str, schema: ResourceSchema, problems: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...], Rule | None, tuple[Rule, ...]]:
    """Object classes, auxiliary classes, RDN rule and rows: what users and groups share."""
    rows = section.get("attributes")
    rules: list[Rule] = []
    if not isinstance(rows, Mapping) or not rows:
        problems.append(f"{name}.attributes: a mapping of SCIM paths to LDAP attributes is required")
        rows = {}
    for key, row in rows.items():
        rule = _rule(str(key), row, f"{name}.attributes.{key}", schema, problems)
        if rule is not None:
            rules.append(rule)
    seen: dict[str, str] = {}
    for rule in rules:
        if rule.ldap.lower() in seen:
            problems.append(
                f"{name}.attributes.{rule.target.text}: LDAP attribute {rule.ldap} is already "
                f"mapped from {seen[rule.ldap.lower()]}"
            )
        seen[rule.ldap.lower()] = rule.target.text
    classes = section.get("object_classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        example = "inetOrgPerson" if name == "user" else "groupOfNames"
        problems.append(f"{name}.object_classes: a list of object classes for new entries, e.g. [{example}]")
        classes = []
    auxiliary = section.get("auxiliary_classes", [])
    if not isinstance(auxiliary, list) or not all(isinstance(c, str) for c in auxiliary):
        problems.append(f"{name}.auxiliary_classes: a list of auxiliary classes added to adopted entries")
        auxiliary = []
    rdn_name = section.get("rdn", naming)
    rdn = next((r for r in rules if r.target.text.lower() == str(rdn_name).lower()), None)
    if rdn is None:
        problems.append(
            f"{name}.rdn: {rdn_name!r} must be one of the mapped SCIM attributes (usually {naming})"
        )
    elif rdn.target.attribute.multi_valued or rdn.target.sub is not None:
        problems.append(f"{name}.rdn: must be a simple single-valued attribute such as {naming}")
    if not any(r.target.text == naming for r in rules):
        problems.append(f"{name}.attributes.{naming}: {naming} must be mapped (it is required and unique)")
    object_classes = tuple(dict.fromkeys([*classes, *auxiliary]))
    return object_classes, tuple(auxiliary), rdn, tuple(rules)


def _constants(data: Any, where: str, problems: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``constants: {pwdLastSet: "0", groupType: "-2147483646"}``: values every new entry gets."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        problems.append(f"{where}: a mapping of LDAP attributes to values written on create")
        return ()
    out = []
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not _LDAP_NAME.match(str(name)) or not values or not all(isinstance(v, str | int) for v in values):
            problems.append(f"{where}.{name}: an LDAP attribute and a value (or a list of values)")
            continue
        out.append((str(name), tuple(_yaml_scalar(v) for v in values)))
    return tuple(out)


def _filter(text: Any, where: str, problems: list[str]) -> DirFilter | None:
    """``filter: (objectCategory=person)``: what every entry of the resource also matches."""
    if text is None:
        return None
    try:
        return parse_ldap_filter(str(text))
    except LdapFilterSyntaxError as exc:
        problems.append(f"{where}: {exc} (an RFC 4515 filter in parentheses)")
        return None


def _user(section: Mapping[str, Any], problems: list[str]) -> ResourceMap | None:
    before = len(problems)
    _unknown(section, _USER_KEYS, "user", problems)
    spec = section.get("rdn")
    if isinstance(spec, Mapping):  # a derived short name; userName still identifies the user
        section = {**section, "rdn": "userName"}
    classes, auxiliary, rdn, rules = _common(section, "user", "userName", USER, problems)
    naming = _naming(spec, rules, "user.rdn", USER, problems) if isinstance(spec, Mapping) else None
    derived = _derived(section, rules, "user", USER, problems)
    active = _active(section.get("active"), "user.active", problems)
    if len(problems) > before or rdn is None or active is None:
        return None
    constants = _constants(section.get("constants"), "user.constants", problems)
    search = _filter(section.get("filter"), "user.filter", problems)
    if len(problems) > before:
        return None
    return ResourceMap(
        classes,
        auxiliary,
        rdn,
        rules,
        active=active,
        naming=naming,
        derived=derived,
        constants=constants,
        filter=search,
    )


def _derived(
    section: Mapping[str, Any],
    rules: tuple[Rule, ...],
    name: str,
    schema: ResourceSchema,
    problems: list[str],
) -> tuple[NamingRule, ...]:
    """``derived: [{attribute: sAMAccountName, from: userName, style: sam}, ...]``."""
    specs = section.get("derived", [])
    if not isinstance(specs, list):
        problems.append(f"{name}.derived: a list of {{attribute, from, style, max_length, keep}}")
        return ()
    found = (_naming(spec, rules, f"{name}.derived[{i}]", schema, problems) for i, spec in enumerate(specs))
    return tuple(rule for rule in found if rule is not None)


def _naming(
    spec: Any, rules: tuple[Rule, ...], where: str, schema: ResourceSchema, problems: list[str]
) -> NamingRule | None:
    """``{attribute: uid, from: userName}``, ``{attribute: cn, from: ["{displayName}", "{userName}"],
    style: display}``: a value derived on create, unique, and kept afterwards unless ``keep: false``."""
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: a mapping with attribute and from")
        return None
    _unknown(spec, ("attribute", "from", "style", "max_length", "keep"), where, problems)
    attribute, sources = spec.get("attribute"), spec.get("from", "userName")
    style, length = spec.get("style", "login"), spec.get("max_length", 32)
    if not isinstance(attribute, str) or not _LDAP_NAME.match(attribute):
        problems.append(f"{where}.attribute: the LDAP attribute to derive, e.g. uid")
        return None
    if any(rule.ldap.lower() == attribute.lower() for rule in rules):
        problems.append(f"{where}.attribute: {attribute} is derived here, so no row may map to it too")
        return None
    if style not in ("login", "sam", "display"):
        problems.append(f"{where}.style: login, sam or display, not {style!r}")
        return None
    if not isinstance(length, int) or not 1 <= length <= 256:
        problems.append(f"{where}.max_length: a whole number from 1 to 256")
        return None
    keep = spec.get("keep", True)
    if not isinstance(keep, bool):
        problems.append(f"{where}.keep: true (derived once, the default) or false (derived again on change)")
        return None
    templates: list[Template] = []
    for source in sources if isinstance(sources, list) else [sources]:
        text = str(source) if "{" in str(source) else "{" + str(source) + "}"  # from: userName = {userName}
        try:
            templates.append(_template(text, schema))
        except ValueError as exc:
            problems.append(f"{where}.from: {exc}")
            return None
    return NamingRule(attribute, tuple(templates), style, length, keep)


def _members(data: Any, classes: tuple[str, ...], problems: list[str]) -> MemberRule | None:
    where = "group.members"
    if not isinstance(data, Mapping):
        problems.append(f"{where}: a mapping with 'attribute' (member, uniqueMember or memberUid)")
        return None
    _unknown(data, _MEMBER_KEYS, where, problems)
    attribute = data.get("attribute")
    kept_on = data.get("kept_on", "group")
    if kept_on == "members":
        return _members_on_members(data, attribute, problems)
    if kept_on != "group":
        problems.append(f"{where}.kept_on: must be group or members, not {kept_on!r}")
        return None
    if "url_attribute" in data or "member_class" in data:
        problems.append(f"{where}: url_attribute and member_class go with kept_on: members only")
        return None
    if attribute not in _MEMBER_HOLDS:
        problems.append(f"{where}.attribute: must be member, uniqueMember or memberUid, not {attribute!r}")
        return None
    placeholder = data.get("placeholder")
    needs_member = {c.lower() for c in classes} & {"groupofnames", "groupofuniquenames"}
    if placeholder is None and needs_member and attribute != "memberUid":
        problems.append(
            f"{where}.placeholder: {', '.join(sorted(needs_member))} requires a member, so empty groups need "
            "a placeholder DN kept in every group (e.g. cn=empty-membership-placeholder)"
        )
        return None
    if placeholder is not None and (not isinstance(placeholder, str) or "=" not in placeholder):
        problems.append(f"{where}.placeholder: a DN, e.g. cn=empty-membership-placeholder,dc=example,dc=org")
        return None
    return MemberRule(str(attribute), _MEMBER_HOLDS[str(attribute)], placeholder)


def _members_on_members(data: Mapping[str, Any], attribute: Any, problems: list[str]) -> MemberRule | None:
    """``kept_on: members``: each member holds its groups' DNs; the group holds search URLs (dynlist)."""
    where, before = "group.members", len(problems)
    names = {"attribute": attribute, "url_attribute": data.get("url_attribute", "memberURL")}
    names["member_class"] = data.get("member_class", "scimBridgeObject")
    for key, name in names.items():
        if not (isinstance(name, str) and _LDAP_NAME.match(name)):
            problems.append(
                f"{where}.{key}: an LDAP attribute or class name, e.g. scimMemberOf, not {name!r}"
            )
    if attribute in _MEMBER_HOLDS:
        problems.append(
            f"{where}.attribute: with kept_on: members this is the attribute on the members that holds "
            f"their groups' DNs (e.g. scimMemberOf), not the group's {attribute}"
        )
    if data.get("placeholder") is not None:
        problems.append(
            f"{where}.placeholder: a group whose members keep the membership is never short of one"
        )
    if len(problems) > before:
        return None
    return MemberRule(
        str(attribute), "dn", None, "members", str(names["url_attribute"]), str(names["member_class"])
    )


def _posix(data: Any, problems: list[str]) -> PosixRule | None:
    where = "group.posix"
    if not isinstance(data, Mapping):
        problems.append(f"{where}: a mapping with gid_min and gid_max")
        return None
    _unknown(data, ("gid_min", "gid_max"), where, problems)
    low, high = data.get("gid_min"), data.get("gid_max")
    if not (isinstance(low, int) and isinstance(high, int) and 0 < low <= high):
        problems.append(f"{where}: gid_min and gid_max must be whole numbers with 0 < gid_min <= gid_max")
        return None
    return PosixRule(low, high)


def _group(section: Mapping[str, Any], problems: list[str]) -> ResourceMap | None:
    before = len(problems)
    _unknown(section, _GROUP_KEYS, "group", problems)
    classes, auxiliary, rdn, rules = _common(section, "group", "displayName", GROUP, problems)
    members = _members(section.get("members"), classes, problems)
    derived = _derived(section, rules, "group", GROUP, problems)
    posix = _posix(section["posix"], problems) if section.get("posix") is not None else None
    if posix is None and "posixgroup" in {c.lower() for c in classes} and "posix" not in section:
        problems.append("group.posix: posixGroup needs gidNumber: give gid_min and gid_max to allocate from")
    integrity = section.get("integrity", "bridge")
    if integrity not in ("bridge", "overlay"):
        problems.append(f"group.integrity: must be bridge or overlay, not {integrity!r}")
    if len(problems) > before or rdn is None or members is None:
        return None
    constants = _constants(section.get("constants"), "group.constants", problems)
    search = _filter(section.get("filter"), "group.filter", problems)
    if len(problems) > before:
        return None
    return ResourceMap(
        classes,
        auxiliary,
        rdn,
        rules,
        members=members,
        derived=derived,
        posix=posix,
        integrity=integrity,
        constants=constants,
        filter=search,
    )


def parse_maps(data: Any, source: str) -> MapSet:
    """Every resource map of a map file's parsed YAML; raises MapError listing every problem."""
    problems: list[str] = []
    user = data.get("user") if isinstance(data, Mapping) else None
    if not isinstance(user, Mapping):
        raise MapError(source, ["user: missing; the map starts with a 'user:' section"])
    _unknown(data, ("user", "group"), "map", problems)
    user_map = _user(user, problems)
    group = data.get("group")
    group_map = None
    if group is not None:
        if isinstance(group, Mapping):
            group_map = _group(group, problems)
        else:
            problems.append("group: a mapping like the user section, with 'members'")
    if problems or user_map is None:
        raise MapError(source, problems)
    return MapSet(user_map, group_map)


def parse_user_map(data: Any, source: str) -> ResourceMap:
    """The user map of a map file's parsed YAML; raises MapError listing every problem."""
    return parse_maps(data, source).user
