"""How groups hold their members, for the group service (writes) and the user service (a user's groups,
clean-up on delete and rename).

Member changes never read a member list. An added member is one LDAP modify that adds values, a
removed member one that deletes values, both with the permissive-modify control, so adding a member
twice or removing a non-member succeeds (clients retry) without a read. A group whose class requires
a member (groupOfNames, groupOfUniqueNames) always holds the map's placeholder DN, so it can be empty
for SCIM and a removal never needs to know whether it removes the last real member.

Where the map keeps membership on the members (``members.kept_on: members``), a member added or removed
is one modify of the member's own entry, which costs the same whatever the group's size; the group holds
search URLs that slapd's dynlist overlay expands into ``member`` values for LDAP readers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.directory.base import Directory, DirFilter, Entry, Eq, Modification, all_of, any_of
from bridge.directory.errors import DirectoryError
from bridge.mapping.engine import ResourceMapping
from bridge.scim.errors import InvalidValue

logger = logging.getLogger(__name__)
_CHUNK = 100  # ids or DNs per search when resolving members


@dataclass(frozen=True, slots=True)
class Member:
    """A resolved member: its SCIM id, its DN, its uid (users) and whether it is a User or a Group."""

    id: str
    dn: str
    uid: str | None
    kind: str


@dataclass(frozen=True, slots=True)
class Found:
    """What one search found: members by lower-case SCIM id, and the group looked for beside them."""

    members: dict[str, Member]
    group: Entry | None = None

    def pick(self, ids: Sequence[str], *, strict: bool) -> list[Member]:
        """The members with these ids, in their order, each once; with ``strict`` an unknown id is a 400."""
        wanted = list(dict.fromkeys(i.lower() for i in ids))
        missing = [i for i in dict.fromkeys(ids) if i.lower() not in self.members]
        if missing and strict:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise InvalidValue(f"members: no user or group has the id {shown}")
        return [self.members[i] for i in wanted if i in self.members]


class Spelling(Protocol):
    """How the directory spells a new entry's DN and a dynamic group's search URL: the LDAP syntax, which
    the services leave to ``bridge.directory.ldap.render`` (the one place that escapes values)."""

    def make_dn(self, rdn: tuple[str, str], parent: str) -> str: ...

    def search_url(self, base: str, flt: DirFilter) -> str: ...


class Memberships:
    """How groups hold members, for the group service (writes) and the user service (clean-up, groups).

    ``dn_attribute`` is the directory's attribute holding an entry's own DN (OpenLDAP ``entryDN``, AD
    ``distinguishedName``), which lets many member DNs be resolved in one search. ``spelling`` writes DNs
    and search URLs.
    """

    def __init__(
        self,
        directory: Directory,
        groups: ResourceMapping,
        users: ResourceMapping,
        *,
        group_base: str,
        user_bases: Sequence[str],
        user_scope: DirFilter,
        id_filter: Any,
        spelling: Spelling,
        dn_attribute: str = "entryDN",
    ) -> None:
        assert groups.map.members is not None
        self.spelling = spelling
        self.rule = groups.map.members
        self._directory = directory
        self._groups = groups
        self._users = users
        self.group_base = directory.normalize_dn(group_base)
        self._user_bases = tuple(user_bases)
        self._user_scope = user_scope
        self._group_scope = groups.structural_filter
        self._id_filter = id_filter
        self._dn_attribute = dn_attribute
        self._uid_attribute = users.rdn_attribute
        self._root = _common_parent(self.bases)

    def _under_bases(self, condition: DirFilter, read: Sequence[str]) -> tuple[Entry, ...]:
        """Users and groups matching ``condition``: one search from the bases' common parent, keeping
        what lies under a base, instead of one search per base. Only for selective conditions (ids, DNs,
        uids: indexed equalities), for which a wider base costs the directory nothing more."""
        if self._root is None:
            return self._directory.search(self.bases, condition, read).entries
        keys = [base.lower() for base in self.bases]
        found = self._directory.search([self._root], condition, read).entries
        return tuple(
            e for e in found if any(e.dn.lower() == k or e.dn.lower().endswith("," + k) for k in keys)
        )

    @property
    def bases(self) -> tuple[str, ...]:
        return (*self._user_bases, self.group_base)

    def _kinds(self, entry: Entry) -> str:
        classes = {value.lower() for value in entry.get("objectClass")}
        return "Group" if self._groups.map.object_classes[0].lower() in classes else "User"

    def _member(self, entry: Entry) -> Member:
        return Member(entry.id, entry.dn, entry.first(self._uid_attribute), self._kinds(entry))

    def _found(self, entries: Iterable[Entry]) -> list[Member]:
        return [self._member(e) for e in entries]

    def resolve(self, ids: Sequence[str], *, strict: bool) -> list[Member]:
        """The members with these SCIM ids (users or groups); with ``strict``, an unknown id is a 400."""
        return self.find(ids).pick(ids, strict=strict)

    def find(self, ids: Sequence[str], group_id: str | None = None, read: Sequence[str] = ()) -> Found:
        """The users and groups with these SCIM ids, and with ``group_id`` the group of that id (read
        with ``read``) found in the same search: a member PATCH then costs one search and its write,
        where finding the group apart, or checking a remembered one by a read, cost one more."""
        wanted: dict[str, str] = {}  # each id once, as first spelt
        for i in ids:
            wanted.setdefault(i.lower(), i)
        group_key = group_id.lower() if group_id is not None else None
        # The group is looked for as a group, under the group base; as a member of itself it is the same.
        others = [i for key, i in wanted.items() if key != group_key]
        chunks = [others[start : start + _CHUNK] for start in range(0, len(others), _CHUNK)]
        if group_id is not None and not chunks:
            chunks = [[]]
        members: dict[str, Member] = {}
        group: Entry | None = None
        for index, chunk in enumerate(chunks):
            terms = [self._with_ids(chunk)] if chunk else []
            attributes: Sequence[str] = ("objectClass", self._uid_attribute)
            if group_id is not None and index == 0:
                terms.append(all_of(self._group_scope, self._id_filter(group_id)))
                attributes = tuple(dict.fromkeys((*attributes, *read)))
            for entry in self._under_bases(any_of(*terms), attributes):
                key = entry.id.lower()
                if key == group_key:
                    if self._in_group_base(entry.dn):
                        group = entry
                else:
                    members[key] = self._member(entry)
        if group is not None and group.id.lower() in wanted:
            members[group.id.lower()] = self._member(group)
        return Found(members, group)

    def _with_ids(self, ids: Sequence[str]) -> DirFilter:
        return all_of(any_of(self._user_scope, self._group_scope), any_of(*(self._id_filter(i) for i in ids)))

    def _in_group_base(self, dn: str) -> bool:
        key, base = dn.lower(), self.group_base.lower()
        return key == base or key.endswith("," + base)

    @property
    def on_members(self) -> bool:
        return self.rule.on_members

    def urls(self, group_dn: str) -> tuple[str, ...]:
        """The memberURL values of a group whose members keep the membership: one search per base."""
        return tuple(self.spelling.search_url(base, Eq(self.rule.attribute, group_dn)) for base in self.bases)

    def members_of(self, group: Entry) -> list[Member]:
        """A group's direct members: its member values, or (kept on the members) those holding its DN."""
        if not self.on_members:
            return self.read(group.get(self.rule.attribute))
        return self._holders(group.dn)

    def _holders(self, group_dn: str) -> list[Member]:
        condition = all_of(any_of(self._user_scope, self._group_scope), Eq(self.rule.attribute, group_dn))
        return self._found(self._under_bases(condition, ("objectClass", self._uid_attribute)))

    def join(self, group_dn: str, members: Sequence[Member]) -> None:
        """Add ``members`` to a group whose members keep the membership: one modify per member, which
        adds the member class (a no-op where present: permissive modify) and the group's DN."""
        for member in members:
            self._directory.update(
                member.dn,
                [
                    Modification("add", "objectClass", (self.rule.member_class,)),
                    Modification("add", self.rule.attribute, (group_dn,)),
                ],
            )

    def leave(self, group_dn: str, members: Sequence[Member]) -> None:
        """Remove ``members`` from a group whose members keep the membership (non-members succeed)."""
        for member in members:
            self._directory.update(member.dn, [Modification("delete", self.rule.attribute, (group_dn,))])

    def set_members(self, group_dn: str, members: Sequence[Member]) -> None:
        """Make ``members`` the whole membership of a group whose members keep it: reads who holds the
        group now, then adds and removes only the difference."""
        current = {m.dn.lower(): m for m in self._holders(group_dn)}
        wanted = {m.dn.lower(): m for m in members}
        self.leave(group_dn, [m for key, m in current.items() if key not in wanted])
        self.join(group_dn, [m for key, m in wanted.items() if key not in current])

    def repoint(self, group_dn: str, new_dn: str | None) -> None:
        """After a group whose members keep the membership was renamed (``new_dn``) or is about to be
        deleted (None): each member's value follows, unless slapd's refint overlay does that. A member
        that refuses is named in one error line, as with users' groups. Before a delete, a failure to
        find the members fails the request (nothing is deleted yet); after a rename, it is logged."""
        if self._groups.map.integrity == "overlay":
            return
        changes = [Modification("delete", self.rule.attribute, (group_dn,))]
        changes += [Modification("add", self.rule.attribute, (new_dn,))] if new_dn else []
        try:
            holders = self._holders(group_dn)
        except DirectoryError as exc:
            if not new_dn:
                raise
            logger.error(
                "the members of %s, renamed to %s, may still name it: finding them failed (%s)",
                group_dn,
                new_dn,
                exc,
            )
            return
        left = self._update_each([m.dn for m in holders], changes)
        if left:
            logger.error(
                "%d member(s) still name the group %s, which was %s: %s",
                len(left),
                group_dn,
                f"renamed to {new_dn}" if new_dn else "deleted",
                "; ".join(left),
            )

    def values(self, members: Sequence[Member]) -> tuple[str, ...]:
        """What the member attribute stores for ``members``: their DNs, or their uids."""
        if self.rule.holds == "dn":
            return tuple(m.dn for m in members)
        groups = [m.id for m in members if m.kind == "Group" or not m.uid]
        if groups:
            raise InvalidValue(
                f"members: {self.rule.attribute} holds user names, so a group cannot be a member "
                f"({', '.join(groups[:5])})"
            )
        return tuple(m.uid for m in members if m.uid)

    def with_placeholder(self, values: Sequence[str]) -> tuple[str, ...]:
        return (*values, self.rule.placeholder) if self.rule.placeholder else tuple(values)

    def read(self, stored: Sequence[str]) -> list[Member]:
        """The members behind stored member values (DNs or uids); dangling values are left out."""
        placeholder = (self.rule.placeholder or "").lower()
        values = [v for v in stored if v.lower() != placeholder]
        attribute = self._dn_attribute if self.rule.holds == "dn" else self._uid_attribute
        members: list[Member] = []
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            condition = all_of(
                any_of(self._user_scope, self._group_scope), any_of(*(Eq(attribute, v) for v in chunk))
            )
            members.extend(self._found(self._under_bases(condition, ("objectClass", self._uid_attribute))))
        return members

    def _holding(self, value: str, read: Sequence[str] = ()) -> list[Entry]:
        """Groups whose member attribute holds ``value``; never reads the member lists themselves."""
        condition = all_of(self._group_scope, Eq(self.rule.attribute, value))
        return list(self._directory.search([self.group_base], condition, read).entries)

    def groups_of(self, user: Entry) -> list[Entry]:
        """The groups that hold ``user`` directly: a reverse search on the member attribute, which
        works with or without the memberOf overlay (it needs an equality index on that attribute).
        Where members keep the membership, the groups named by the user's own values."""
        if self.on_members:
            return self._named_groups(user)
        value = user.dn if self.rule.holds == "dn" else user.first(self._uid_attribute)
        return self._holding(value, self._groups.read_attributes) if value else []

    def _named_groups(self, user: Entry) -> list[Entry]:
        held = user.get(self.rule.attribute)
        if not held:  # the user's read did not include it: read it
            found = self._directory.search([user.dn], Eq(self._dn_attribute, user.dn), (self.rule.attribute,))
            held = found.entries[0].get(self.rule.attribute) if found.entries else ()
        groups: list[Entry] = []
        for start in range(0, len(held), _CHUNK):
            chunk = held[start : start + _CHUNK]
            condition = all_of(self._group_scope, any_of(*(Eq(self._dn_attribute, v) for v in chunk)))
            groups.extend(
                self._directory.search([self.group_base], condition, self._groups.read_attributes).entries
            )
        return groups

    def group_name(self, group: Entry) -> str | None:
        """A group's displayName, for the ``display`` of a user's groups."""
        name = self._groups.to_document(group).get("displayName")
        return str(name) if name is not None else None

    def forget(self, user: Entry) -> None:
        """Remove a deleted user (or nested group) from every group: done by the bridge unless refint does
        it (DNs), and nothing to do where members keep the membership (it goes with the entry)."""
        if self.on_members or (self.rule.holds == "dn" and self._groups.map.integrity == "overlay"):
            return
        value = user.dn if self.rule.holds == "dn" else user.first(self._uid_attribute)
        if not value:
            return
        self._each_group(value, [Modification("delete", self.rule.attribute, (value,))], "deleted", user)

    def renamed(self, old: Entry, new_dn: str, new_uid: str | None) -> None:
        """Point every group at a renamed or moved user or nested group (refint does it for DNs where
        configured; where members keep the membership, it moves with the entry)."""
        if self.on_members:
            return
        if self.rule.holds == "dn":
            if self._groups.map.integrity == "overlay" or old.dn.lower() == new_dn.lower():
                return
            before, after = old.dn, new_dn
        else:
            before, after = old.first(self._uid_attribute) or "", new_uid or ""
            if not before or before == after:
                return
        changes = [
            Modification("delete", self.rule.attribute, (before,)),
            Modification("add", self.rule.attribute, (after,)),
        ]
        self._each_group(before, changes, "renamed or moved", old)

    def _each_group(self, value: str, changes: list[Modification], what: str, user: Entry) -> None:
        """Apply ``changes`` to every group that holds ``value``, after the user's own write succeeded.

        A group that refuses (or a directory that fails in between) does not undo the user's write,
        and a retry of the request would not reach this step again (the user is gone, or already
        renamed): so each group is tried, and those left behind are named in one error line for an
        operator, who fixes them by hand or lets slapd's refint overlay keep DNs right
        (``integrity: overlay``)."""
        try:
            groups = self._holding(value)
        except DirectoryError as exc:
            logger.error(
                "the %s member %s may still be listed in groups: finding them failed (%s)", what, user.dn, exc
            )
            return
        left = self._update_each([group.dn for group in groups], changes)
        if left:
            logger.error(
                "the %s member %s is still listed, under its old name, in %d group(s): %s",
                what,
                user.dn,
                len(left),
                "; ".join(left),
            )

    def _update_each(self, dns: Sequence[str], changes: list[Modification]) -> list[str]:
        """Apply ``changes`` to each of ``dns``; the ones that refused, with why."""
        left: list[str] = []
        for dn in dns:
            try:
                self._directory.update(dn, changes)
            except DirectoryError as exc:
                left.append(f"{dn} ({exc.reason})")
        return left


def _common_parent(bases: Sequence[str]) -> str | None:
    """The nearest DN above or at every one of ``bases`` (normalised DNs), when there are several and they
    share one; None otherwise. RDNs are split at commas that no backslash escapes."""
    if len(bases) < 2:
        return None
    split = [re.split(r"(?<!\\),", base) for base in bases]
    common: list[str] = []
    for parts in zip(*(reversed(rdns) for rdns in split), strict=False):
        if len({part.lower() for part in parts}) != 1:
            break
        common.insert(0, parts[0])
    return ",".join(common) or None


__all__ = ["Found", "Member", "Memberships", "Spelling"]
