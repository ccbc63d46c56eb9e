"""The keys of a map section besides its rows: how an account is disabled (``active``), the values
derived on create (``rdn`` as a mapping, ``derived``), how a group keeps its members (``members``), the
gidNumber range (``posix``), the values every new entry gets (``constants``) and the filter every entry
matches (``filter``). Each parser appends its problems and returns None for a key it cannot take.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from bridge.directory.base import DirFilter
from bridge.directory.filterparse import LdapFilterSyntaxError, parse_ldap_filter
from bridge.mapping.load_rows import LDAP_NAME, template, unknown_keys
from bridge.mapping.model import (
    PPOLICY_LOCK,
    UAC_DISABLED,
    ActiveRule,
    MemberRule,
    NamingRule,
    PosixRule,
    Rule,
    Template,
)
from bridge.scim.schemas import ResourceSchema

_ACTIVE_KEYS = ("method", "attribute", "disabled_value", "enabled_value", "password_length", "since")
_MEMBER_KEYS = ("attribute", "placeholder", "kept_on", "url_attribute", "member_class")
_MEMBER_HOLDS: dict[str, Literal["dn", "uid"]] = {"member": "dn", "uniqueMember": "dn", "memberUid": "uid"}


def active(data: Any, where: str, problems: list[str]) -> ActiveRule | None:
    """``active: {method: ppolicy}`` (or ``attribute`` or ``uac``, and ``since``): how an account is
    disabled and enabled, and where the time it was disabled is kept."""
    if not isinstance(data, Mapping):
        problems.append(f"{where}: must be a mapping with 'method' (ppolicy or attribute)")
        return None
    unknown_keys(data, _ACTIVE_KEYS, where, problems)
    since = data.get("since")
    if since is not None and (not isinstance(since, str) or not LDAP_NAME.match(since)):
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
        if not isinstance(attribute, str) or not LDAP_NAME.match(attribute):
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


def constants(data: Any, where: str, problems: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``constants: {pwdLastSet: "0", groupType: "-2147483646"}``: values every new entry gets."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        problems.append(f"{where}: a mapping of LDAP attributes to values written on create")
        return ()
    out = []
    for name, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not LDAP_NAME.match(str(name)) or not values or not all(isinstance(v, str | int) for v in values):
            problems.append(f"{where}.{name}: an LDAP attribute and a value (or a list of values)")
            continue
        out.append((str(name), tuple(_yaml_scalar(v) for v in values)))
    return tuple(out)


def entry_filter(text: Any, where: str, problems: list[str]) -> DirFilter | None:
    """``filter: (objectCategory=person)``: what every entry of the resource also matches."""
    if text is None:
        return None
    try:
        return parse_ldap_filter(str(text))
    except LdapFilterSyntaxError as exc:
        problems.append(f"{where}: {exc} (an RFC 4515 filter in parentheses)")
        return None


def derived(
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
    found = (naming(spec, rules, f"{name}.derived[{i}]", schema, problems) for i, spec in enumerate(specs))
    return tuple(rule for rule in found if rule is not None)


def naming(
    spec: Any, rules: tuple[Rule, ...], where: str, schema: ResourceSchema, problems: list[str]
) -> NamingRule | None:
    """``{attribute: uid, from: userName}``, ``{attribute: cn, from: ["{displayName}", "{userName}"],
    style: display}``: a value derived on create, unique, and kept afterwards unless ``keep: false``."""
    if not isinstance(spec, Mapping):
        problems.append(f"{where}: a mapping with attribute and from")
        return None
    unknown_keys(spec, ("attribute", "from", "style", "max_length", "keep"), where, problems)
    attribute, sources = spec.get("attribute"), spec.get("from", "userName")
    style, length = spec.get("style", "login"), spec.get("max_length", 32)
    if not isinstance(attribute, str) or not LDAP_NAME.match(attribute):
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
            templates.append(template(text, schema))
        except ValueError as exc:
            problems.append(f"{where}.from: {exc}")
            return None
    return NamingRule(attribute, tuple(templates), style, length, keep)


def members(data: Any, classes: tuple[str, ...], problems: list[str]) -> MemberRule | None:
    """``members: {attribute: member, placeholder: ...}``, or ``kept_on: members``: how a group keeps them."""
    where = "group.members"
    if not isinstance(data, Mapping):
        problems.append(f"{where}: a mapping with 'attribute' (member, uniqueMember or memberUid)")
        return None
    unknown_keys(data, _MEMBER_KEYS, where, problems)
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
        if not (isinstance(name, str) and LDAP_NAME.match(name)):
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


def posix(data: Any, problems: list[str]) -> PosixRule | None:
    """``posix: {gid_min: 10000, gid_max: 19999}``: the range new groups' gidNumber is allocated from."""
    where = "group.posix"
    if not isinstance(data, Mapping):
        problems.append(f"{where}: a mapping with gid_min and gid_max")
        return None
    unknown_keys(data, ("gid_min", "gid_max"), where, problems)
    low, high = data.get("gid_min"), data.get("gid_max")
    if not (isinstance(low, int) and isinstance(high, int) and 0 < low <= high):
        problems.append(f"{where}: gid_min and gid_max must be whole numbers with 0 < gid_min <= gid_max")
        return None
    return PosixRule(low, high)
