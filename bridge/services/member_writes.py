"""The member operations of a group PATCH: which members each names and the group they go to, found in
one search before anything is written, and what they come to, as one modify of the group or one modify
per member."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.directory.base import Entry, Modification
from bridge.scim.canonical import PatchOperation
from bridge.scim.errors import InvalidPath, InvalidValue, NotFound
from bridge.scim.filter import Compare, Filter, Or
from bridge.services.members import Member, Memberships

Write = tuple[str, list[Member]]  # ("add" | "remove" | "set", the members)


@dataclass(frozen=True, slots=True)
class Plan:
    """The member writes of a PATCH, and the group they go to, found in the same search."""

    writes: list[Write]
    group: Entry


def planned(
    memberships: Memberships, group_id: str, operations: Sequence[PatchOperation], read: Sequence[str]
) -> Plan:
    """Each member operation as ("add" | "remove" | "set", members), and the group (read with ``read``),
    all found before anything is written, in one search: an unknown group is a 404, then an unknown id in
    an add or a replacement a 400; removing a non-member succeeds. Entra removes in two forms: Remove + a
    value list (legacy), and members[value eq "id"] [D2]."""
    named = [_named(operation, f"Operations[{index}]") for index, operation in enumerate(operations)]
    found = memberships.find([i for _, ids, _ in named for i in ids], group_id, read)
    if found.group is None:
        raise NotFound(f"Group {group_id} not found")
    return Plan([(kind, found.pick(ids, strict=strict)) for kind, ids, strict in named], found.group)


def _named(operation: PatchOperation, where: str) -> tuple[str, list[str], bool]:
    """One member operation as its kind, the ids it names, and whether each must exist."""
    path = operation.path
    assert path is not None
    if operation.op == "add":
        return "add", member_ids(operation.value, where), True
    if operation.op == "remove" and (path.filter is not None or operation.value not in (None, [], "")):
        ids = (
            filter_ids(path.filter, where) if path.filter is not None else member_ids(operation.value, where)
        )
        return "remove", ids, False
    if operation.op == "remove":
        return "set", [], True
    if path.filter is not None:
        raise InvalidPath(f"{where}: replace the whole members list, not a filtered part")
    return "set", member_ids(operation.value or [], where), True


def write(memberships: Memberships, group_dn: str, writes: Sequence[Write]) -> None:
    """Where the members keep the membership: each write, one modify per member."""
    for kind, members in writes:
        if kind == "add":
            memberships.join(group_dn, members)
        elif kind == "remove":
            memberships.leave(group_dn, members)
        else:
            memberships.set_members(group_dn, members)


def changes(memberships: Memberships, writes: Sequence[Write]) -> list[Modification]:
    """Where the group holds its members: the writes' net effect as value adds, deletes or a replace,
    in one modify. The directory judges every value of one modify against the entry as it was, so
    "add bob, remove bob" must reach it as "remove bob", not as both."""
    attribute = memberships.rule.attribute
    changes: list[Modification] = []
    for kind, members in _net(writes):
        # An LDAP add of no values is a protocol error, and adding none changes nothing.
        if kind == "add" and members:
            changes.append(Modification("add", attribute, memberships.values(members)))
        elif kind == "remove":
            values = (
                tuple(m.dn for m in members)
                if memberships.rule.holds == "dn"
                else tuple(m.uid for m in members if m.uid)
            )
            if values:
                changes.append(Modification("delete", attribute, values))
        elif kind == "set":
            values = memberships.with_placeholder(memberships.values(members))
            changes.append(Modification("replace", attribute, values))
    return changes


def _net(writes: Sequence[Write]) -> list[Write]:
    """Member writes applied in order, folded into what they come to: a replacement of the whole list
    (when one of them set it), else the members added and the members removed, each at most once."""
    replaced: dict[str, Member] | None = None
    added: dict[str, Member] = {}
    removed: dict[str, Member] = {}
    for kind, members in writes:
        if kind == "set":
            replaced, added, removed = {m.dn.lower(): m for m in members}, {}, {}
            continue
        for member in members:
            key = member.dn.lower()
            if replaced is not None:
                if kind == "add":
                    replaced.setdefault(key, member)
                else:
                    replaced.pop(key, None)
            elif kind == "add":
                removed.pop(key, None)
                added[key] = member
            else:
                added.pop(key, None)
                removed[key] = member
    if replaced is not None:
        return [("set", list(replaced.values()))]
    return [("add", list(added.values())), ("remove", list(removed.values()))]


def member_ids(value: Any, where: str) -> list[str]:
    """The ids in a members value: ``[{"value": id, "$ref": null}, ...]``, one object, or bare ids."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            found = next((v for k, v in item.items() if str(k).lower() == "value"), None)
        else:
            found = item
        if not isinstance(found, str) or not found.strip():
            raise InvalidValue(f"{where}: each member needs a 'value' holding a user or group id")
        ids.append(found.strip())
    return ids


def filter_ids(flt: Filter, where: str) -> list[str]:
    """The ids named by ``members[value eq "id"]`` (Entra's flag dialect [D2]), or by an or of those."""
    match flt:
        case Compare(path, "eq", str(value)) if path.attr.lower() == "value" and path.sub is None:
            return [value]
        case Or(left, right):
            return filter_ids(left, where) + filter_ids(right, where)
    raise InvalidPath(f'{where}: members can be selected by value only, e.g. members[value eq "<id>"]')


__all__ = ["Plan", "Write", "changes", "filter_ids", "member_ids", "planned", "write"]
