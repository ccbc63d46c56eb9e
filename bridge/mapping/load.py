"""Load an attribute-map file: read its YAML and compile it into a :class:`MapSet` (the user map, and the
group map when there is one), reporting every problem by its path, each with the line of its key.

The rows are :mod:`bridge.mapping.load_rows`'s to compile, the other keys of a section
:mod:`bridge.mapping.load_rules`'s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from bridge.mapping import load_rows, load_rules
from bridge.mapping.load_rows import unknown_keys
from bridge.mapping.model import MapSet, ResourceMap, Rule
from bridge.scim.schemas import GROUP, USER, ResourceSchema
from bridge.yamlfile import YamlError
from bridge.yamlfile import read as read_yaml

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


class MapError(Exception):
    """The map file has problems; ``problems`` lists each as ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


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
        rule = load_rows.rule(str(key), row, f"{name}.attributes.{key}", schema, problems)
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


def _user(section: Mapping[str, Any], problems: list[str]) -> ResourceMap | None:
    before = len(problems)
    unknown_keys(section, _USER_KEYS, "user", problems)
    spec = section.get("rdn")
    if isinstance(spec, Mapping):  # a derived short name; userName still identifies the user
        section = {**section, "rdn": "userName"}
    classes, auxiliary, rdn, rules = _common(section, "user", "userName", USER, problems)
    naming = load_rules.naming(spec, rules, "user.rdn", USER, problems) if isinstance(spec, Mapping) else None
    derived = load_rules.derived(section, rules, "user", USER, problems)
    active = load_rules.active(section.get("active"), "user.active", problems)
    if len(problems) > before or rdn is None or active is None:
        return None
    constants = load_rules.constants(section.get("constants"), "user.constants", problems)
    search = load_rules.entry_filter(section.get("filter"), "user.filter", problems)
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


def _group(section: Mapping[str, Any], problems: list[str]) -> ResourceMap | None:
    before = len(problems)
    unknown_keys(section, _GROUP_KEYS, "group", problems)
    classes, auxiliary, rdn, rules = _common(section, "group", "displayName", GROUP, problems)
    members = load_rules.members(section.get("members"), classes, problems)
    derived = load_rules.derived(section, rules, "group", GROUP, problems)
    posix = load_rules.posix(section["posix"], problems) if section.get("posix") is not None else None
    if posix is None and "posixgroup" in {c.lower() for c in classes} and "posix" not in section:
        problems.append("group.posix: posixGroup needs gidNumber: give gid_min and gid_max to allocate from")
    integrity = section.get("integrity", "bridge")
    if integrity not in ("bridge", "overlay"):
        problems.append(f"group.integrity: must be bridge or overlay, not {integrity!r}")
    if len(problems) > before or rdn is None or members is None:
        return None
    constants = load_rules.constants(section.get("constants"), "group.constants", problems)
    search = load_rules.entry_filter(section.get("filter"), "group.filter", problems)
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
    unknown_keys(data, ("user", "group"), "map", problems)
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


def load_maps(path: str | os.PathLike[str]) -> MapSet:
    """Read and compile the attribute-map file at ``path``; MapError lists its problems, each with the
    line of its key."""
    source = str(path)
    try:
        parsed = read_yaml(path)
    except YamlError as exc:
        raise MapError(source, [str(exc)]) from exc
    try:
        return parse_maps(parsed.data, source)
    except MapError as exc:
        raise MapError(source, [parsed.where(problem) for problem in exc.problems]) from None


def load_user_map(path: str | os.PathLike[str]) -> ResourceMap:
    """The user map of the map file at ``path``."""
    return load_maps(path).user
