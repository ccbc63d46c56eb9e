"""Groups: the SCIM operations on /Groups, and the memberships that users and groups share.

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

import itertools
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge import events
from bridge.config import SafetyConfig
from bridge.directory.base import (
    Directory,
    DirFilter,
    Entry,
    Eq,
    Expect,
    GreaterOrEqual,
    LessOrEqual,
    Modification,
    SameEntry,
    all_of,
    any_of,
)
from bridge.directory.errors import DirectoryError, EntryAlreadyExists, NoSuchEntry
from bridge.directory.ldap.render import make_dn, search_url
from bridge.mapping.engine import ResourceMapping
from bridge.mapping.filters import FilterTranslator
from bridge.recent import EntryCache, Stale, local
from bridge.safety import Safety
from bridge.scim.compat import PatchOperation, normalize_patch, normalize_resource
from bridge.scim.errors import (
    InvalidPath,
    InvalidValue,
    NotFound,
    PreconditionFailed,
    ServerError,
    Uniqueness,
)
from bridge.scim.filter import Compare, Filter, Or
from bridge.scim.patch import apply_patch
from bridge.scim.schemas import GROUP
from bridge.service import (
    Page,
    add_named,
    check_rdn,
    client_error,
    expected_version,
    iso_time,
    rederived,
    refusals,
)
from bridge.unmapped import Settle, UnmappedPolicy

logger = logging.getLogger(__name__)
_CHUNK = 100  # ids or DNs per search when resolving members
_GID_TRIES, _GID_SPREAD = 5, 8  # gidNumber clashes between instances: tries, and free numbers to pick from


@dataclass(frozen=True, slots=True)
class Member:
    """A resolved member: its SCIM id, its DN, its uid (users) and whether it is a User or a Group."""

    id: str
    dn: str
    uid: str | None
    kind: str


class Memberships:
    """How groups hold members, for the group service (writes) and the user service (clean-up, groups).

    ``dn_attribute`` is the directory's attribute holding an entry's own DN (OpenLDAP ``entryDN``, AD
    ``distinguishedName``), which lets many member DNs be resolved in one search.
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
        dn_attribute: str = "entryDN",
    ) -> None:
        assert groups.map.members is not None
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

    def _found(self, entries: Iterable[Entry]) -> list[Member]:
        return [Member(e.id, e.dn, e.first(self._uid_attribute), self._kinds(e)) for e in entries]

    def resolve(self, ids: Sequence[str], *, strict: bool) -> list[Member]:
        """The members with these SCIM ids (users or groups); with ``strict``, an unknown id is a 400."""
        found: dict[str, Member] = {}
        wanted = list(dict.fromkeys(ids))
        read = ("objectClass", self._uid_attribute)
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            condition = all_of(
                any_of(self._user_scope, self._group_scope), any_of(*(self._id_filter(i) for i in chunk))
            )
            found.update((m.id, m) for m in self._found(self._under_bases(condition, read)))
        known = {k.lower() for k in found}  # once, not per id: a member add may hold 10,000 ids
        missing = [i for i in wanted if i.lower() not in known]
        if missing and strict:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise InvalidValue(f"members: no user or group has the id {shown}")
        lowered = {k.lower(): v for k, v in found.items()}
        return [lowered[i.lower()] for i in wanted if i.lower() in lowered]

    @property
    def on_members(self) -> bool:
        return self.rule.on_members

    def urls(self, group_dn: str) -> tuple[str, ...]:
        """The memberURL values of a group whose members keep the membership: one search per base."""
        return tuple(search_url(base, Eq(self.rule.attribute, group_dn)) for base in self.bases)

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


def _net(writes: Sequence[tuple[str, list[Member]]]) -> list[tuple[str, list[Member]]]:
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


def _member_ids(value: Any, where: str) -> list[str]:
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


def _filter_ids(flt: Filter, where: str) -> list[str]:
    """The ids named by ``members[value eq "id"]`` (Entra's flag dialect [D2]), or by an or of those."""
    match flt:
        case Compare(path, "eq", str(value)) if path.attr.lower() == "value" and path.sub is None:
            return [value]
        case Or(left, right):
            return _filter_ids(left, where) + _filter_ids(right, where)
    raise InvalidPath(f'{where}: members can be selected by value only, e.g. members[value eq "<id>"]')


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group as the client sees it; ``members`` is None when it was not read."""

    id: str
    document: dict[str, Any]
    members: tuple[Member, ...] | None
    created: str | None
    last_modified: str | None
    version: str = ""


class GroupService:
    """The SCIM operations on Groups."""

    def __init__(
        self,
        directory: Directory,
        mapping: ResourceMapping,
        memberships: Memberships,
        id_filter: Any,
        safety: Safety | None = None,
        *,
        unique_by_directory: bool = False,
        remember: Callable[[str], EntryCache] = local,
        unmapped: UnmappedPolicy | None = None,
    ):
        self._unique_by_directory = unique_by_directory
        # Members are stored by Memberships (or refused there), not by the map's rows.
        self._settle = Settle(unmapped or UnmappedPolicy(), "Group", mapping, ("members",))
        self._directory = directory
        self._safety = safety or Safety(directory, SafetyConfig(), user_base=memberships.group_base)
        self._mapping = mapping
        self._members = memberships
        self._base = memberships.group_base
        self._scope = mapping.structural_filter
        self._translator = FilterTranslator(mapping, GROUP, id_filter, directory.can_order)
        self._read = mapping.read_attributes
        self._posix = mapping.map.posix
        self._recent = remember("groups " + " ".join(self._read))

    def _attributes(self, with_members: bool) -> tuple[str, ...]:
        on_group = with_members and not self._members.on_members
        return (*self._read, self._members.rule.attribute) if on_group else self._read

    def _entry(self, group_id: str, with_members: bool = False) -> Entry:
        try:
            return self._directory.get_by_id(
                [self._base], self._scope, group_id, self._attributes(with_members)
            )
        except NoSuchEntry as exc:
            raise NotFound(f"Group {group_id} not found") from exc

    def _view(self, entry: Entry, members: Sequence[Member] | None) -> GroupView:
        self._recent.put(entry)
        return GroupView(
            id=entry.id,
            document=self._mapping.to_document(entry),
            members=None if members is None else tuple(members),
            created=iso_time(entry.first("createTimestamp")),
            last_modified=iso_time(entry.first("modifyTimestamp")),
            version=entry.version,
        )

    def get_group(self, group_id: str, *, with_members: bool) -> GroupView:
        """GET /Groups/{id}; ``excludedAttributes=members`` reads no member value at all [D1][D13]."""
        entry = self._entry(group_id, with_members)
        return self._view(entry, self._stored_members(entry) if with_members else None)

    def _stored_members(self, entry: Entry) -> list[Member]:
        return self._members.members_of(entry)

    def list_groups(self, flt: Filter | None, start_index: int, count: int, *, with_members: bool) -> Page:
        """GET /Groups (``displayName eq`` is how Entra matches groups [D1])."""
        condition = self._scope if flt is None else all_of(self._scope, self._translator.translate(flt))
        result = self._directory.search(
            [self._base], condition, self._attributes(with_members), offset=start_index - 1, limit=count
        )
        views = tuple(
            self._view(entry, self._stored_members(entry) if with_members else None)
            for entry in result.entries
        )
        return Page(result.total, views)

    def _taken(self, document: Mapping[str, Any], own_id: str | None) -> bool:
        """Whether another group holds this name (left to the directory: ``ldap.uniqueness: directory``)."""
        if self._unique_by_directory:
            return False
        found = self._directory.search([self._base], self._mapping.rdn_filter(document), (), limit=2)
        return any(entry.id != own_id for entry in found.entries)

    def _free_gid(self, spread: int = 1) -> int:
        """The lowest gidNumber in the range that no group under the base holds, or with ``spread`` > 1
        one of the ``spread`` lowest, at random (a retry after a clash, so that two retries part)."""
        assert self._posix is not None
        low, high = self._posix.gid_min, self._posix.gid_max
        condition = all_of(GreaterOrEqual("gidNumber", str(low)), LessOrEqual("gidNumber", str(high)))
        used = {
            int(value)
            for entry in self._directory.search([self._base], condition, ("gidNumber",)).entries
            for value in entry.get("gidNumber")
            if value.isdigit()
        }
        free = list(itertools.islice((n for n in range(low, high + 1) if n not in used), spread))
        if not free:
            raise ServerError(
                f"no free gidNumber left between {low} and {high}; widen group.posix in the map"
            )
        return secrets.choice(free)

    def _settle_gid(self, entry: Entry, gid: str) -> None:
        """Make a new group's gidNumber its own. Two instances creating groups at the same moment can
        pick the same free number; after the add, the group gives way when another group holding the
        number was created earlier (createTimestamp, which every instance reads alike) or in the same
        second, and takes another free number, picked at random among the lowest, until it holds one
        alone."""
        for _ in range(_GID_TRIES):
            found = self._directory.search([self._base], Eq("gidNumber", gid), ("createTimestamp",)).entries
            ours = next((e.first("createTimestamp") or "" for e in found if e.id == entry.id), "")
            if all(e.id == entry.id or (e.first("createTimestamp") or "") > ours for e in found):
                return
            gid = str(self._free_gid(spread=_GID_SPREAD))
            logger.warning("gidNumber clash for %s: another group holds it, moving to %s", entry.dn, gid)
            self._directory.update(entry.dn, [Modification("replace", "gidNumber", (gid,))])
        raise ServerError(f"no gidNumber of its own for {entry.dn} after {_GID_TRIES} tries")

    def create_group(self, body: Any) -> GroupView:
        """POST /Groups: Entra creates groups empty and adds members later [D1]; members given here are
        resolved (an unknown id is a 400, never a dangling DN)."""
        self._safety.check_write()
        normalized = normalize_resource(body, GROUP)
        document = normalized.document
        if not str(document.get("displayName", "")).strip():
            raise InvalidValue("displayName is required")
        self._settle(document, normalized.ignored, None)
        ids = _member_ids(document.pop("members", []), "members")
        members = self._members.resolve(ids, strict=True)
        attributes = dict(self._mapping.new_entry(document, True))
        planned = self._directory.normalize_dn(make_dn(self._mapping.rdn(attributes), self._base))
        if self._members.on_members:
            attributes[self._members.rule.url_attribute] = self._members.urls(planned)
        else:
            attributes[self._members.rule.attribute] = self._members.with_placeholder(
                self._members.values(members)
            )
        if self._posix is not None:
            attributes["gidNumber"] = (str(self._free_gid()),)
        if self._taken(document, None):
            raise Uniqueness(f"a group named {document['displayName']} exists already")
        try:
            entry = add_named(
                self._directory,
                [self._base],
                self._mapping,
                parent=self._base,
                document=document,
                attributes=attributes,
                read=self._read,
            )
        except EntryAlreadyExists as exc:
            raise Uniqueness(f"a group named {document['displayName']} exists already") from exc
        except NoSuchEntry as exc:
            raise ServerError(f"the group base {self._base} does not exist; check ldap.group_base") from exc
        except DirectoryError as exc:
            raise client_error(exc, self._mapping) from exc
        if self._posix is not None:
            self._settle_gid(entry, attributes["gidNumber"][0])
        if self._members.on_members:
            self._fill(entry, planned, members)
        events.record(
            "Group", "create", id=entry.id, name=document["displayName"], dn=entry.dn, members=len(members)
        )
        return self._view(entry, members)

    def _fill(self, entry: Entry, planned: str, members: Sequence[Member]) -> None:
        """The members of a new group whose members keep the membership. A failure takes the group and
        the values already written away again, so a retried POST finds nothing half made."""
        done: list[Member] = []
        try:
            if entry.dn.lower() != planned.lower():  # a derived name took another DN
                urls = self._members.urls(entry.dn)
                self._directory.update(
                    entry.dn, [Modification("replace", self._members.rule.url_attribute, urls)]
                )
            for member in members:
                self._members.join(entry.dn, [member])
                done.append(member)
        except DirectoryError as exc:
            try:
                self._members.leave(entry.dn, done)
                self._directory.delete(entry.dn)
            except DirectoryError as undo:
                logger.error("a group left half made after a failed create: %s (%s)", entry.dn, undo)
            raise client_error(exc, self._mapping) from exc

    def _member_writes(self, operations: Sequence[PatchOperation]) -> list[tuple[str, list[Member]]]:
        """Each member operation as ("add" | "remove" | "set", members), every id resolved before anything
        is written: an unknown id in an add or a replacement is a 400, removing a non-member succeeds.
        Entra removes in two forms: Remove + a value list (legacy), and members[value eq "id"] [D2]."""
        writes: list[tuple[str, list[Member]]] = []
        for index, operation in enumerate(operations):
            where = f"Operations[{index}]"
            path = operation.path
            assert path is not None
            if operation.op == "add":
                writes.append(
                    ("add", self._members.resolve(_member_ids(operation.value, where), strict=True))
                )
            elif operation.op == "remove" and (
                path.filter is not None or operation.value not in (None, [], "")
            ):
                ids = (
                    _filter_ids(path.filter, where)
                    if path.filter is not None
                    else _member_ids(operation.value, where)
                )
                writes.append(("remove", self._members.resolve(ids, strict=False)))
            elif operation.op == "remove":
                writes.append(("set", []))
            else:
                if path.filter is not None:
                    raise InvalidPath(f"{where}: replace the whole members list, not a filtered part")
                writes.append(
                    ("set", self._members.resolve(_member_ids(operation.value or [], where), strict=True))
                )
        return writes

    def _write_members(self, group_dn: str, writes: Sequence[tuple[str, list[Member]]]) -> None:
        for kind, members in writes:
            if kind == "add":
                self._members.join(group_dn, members)
            elif kind == "remove":
                self._members.leave(group_dn, members)
            else:
                self._members.set_members(group_dn, members)

    def _member_changes(self, writes: Sequence[tuple[str, list[Member]]]) -> list[Modification]:
        """Where the group holds its members: the writes' net effect as value adds, deletes or a replace,
        in one modify. The directory judges every value of one modify against the entry as it was, so
        "add bob, remove bob" must reach it as "remove bob", not as both."""
        attribute = self._members.rule.attribute
        changes: list[Modification] = []
        for kind, members in _net(writes):
            # An LDAP add of no values is a protocol error, and adding none changes nothing.
            if kind == "add" and members:
                changes.append(Modification("add", attribute, self._members.values(members)))
            elif kind == "remove":
                values = (
                    tuple(m.dn for m in members)
                    if self._members.rule.holds == "dn"
                    else tuple(m.uid for m in members if m.uid)
                )
                if values:
                    changes.append(Modification("delete", attribute, values))
            elif kind == "set":
                values = self._members.with_placeholder(self._members.values(members))
                changes.append(Modification("replace", attribute, values))
        return changes

    def patch_group(self, group_id: str, body: Any, *, if_match: Sequence[str] | None = None) -> None:
        """PATCH /Groups/{id}: member operations become value adds and deletes on one modify; other
        attributes (a rename) go through read, patch, diff. Answers 204, as Entra prefers [D1]."""
        operations = normalize_patch(body, GROUP)
        is_member = [op.path is not None and op.path.attr.lower() == "members" for op in operations]
        member_ops = [op for op, m in zip(operations, is_member, strict=True) if m]
        other_ops = [op for op, m in zip(operations, is_member, strict=True) if not m]
        on_members = self._members.on_members
        writes = self._member_writes(member_ops)
        member_changes = [] if on_members else self._member_changes(writes)
        writes = writes if on_members else []
        # Where members keep the membership, the group's own entry is not written: nothing would assert it.
        seen = None if if_match or on_members else self._recent.get(group_id)
        reported: set[str] = set()
        if seen is not None:
            # A member change depends on nothing but which group it is; other changes on its attributes.
            expect: Expect = seen.version if other_ops else SameEntry(seen.id)
            try:
                self._patch(seen, member_changes, other_ops, writes, expect, fresh=False, reported=reported)
                return
            except (NotFound, PreconditionFailed, Stale):
                self._recent.drop(group_id)
        entry = self._entry(group_id)
        expect = expected_version("Group", entry, if_match)
        self._patch(entry, member_changes, other_ops, writes, expect, fresh=True, reported=reported)

    def _patch(
        self,
        entry: Entry,
        member_changes: list[Modification],
        other_ops: list[PatchOperation],
        writes: Sequence[tuple[str, list[Member]]],
        expect: Expect,
        *,
        fresh: bool,
        reported: set[str],
    ) -> None:
        """The PATCH on ``entry``; one that is not ``fresh`` (remembered) must write the group itself,
        whose first write asserts ``expect``, or it is ``Stale``."""
        group_id = entry.id
        self._safety.check_entry("Group", entry)
        dn, changes = entry.dn, list(member_changes)
        old = self._mapping.to_document(entry)
        new = old
        if other_ops:
            patched = apply_patch(old, other_ops, GROUP)
            new = patched.document
            self._settle(new, patched.ignored, group_id, reported, before=old)
            dn, expect = self._rename(entry, old, new, expect)
            changes = self._changes(entry, old, new, dn) + changes
        if not fresh and not changes and dn == entry.dn:
            raise Stale  # nothing written, so nothing proved the remembered group current
        if changes:
            with refusals("Group", group_id, self._mapping):
                self._directory.update(dn, changes, expect=expect)
        if writes:
            with refusals("Group", group_id, self._mapping):
                self._write_members(dn, writes)
        name = new.get("displayName")
        if dn != entry.dn or len(changes) > len(member_changes):
            # The remembered entry has the old DN or version: the next PATCH reads the group afresh.
            self._recent.drop(group_id)
            events.record("Group", "update", id=entry.id, name=name, dn=dn)
        if member_changes or writes:
            counts = {"added": 0, "removed": 0}
            for change in member_changes:
                counts["added" if change.op == "add" else "removed"] += len(change.values)
            for kind, members in writes:
                counts["removed" if kind == "remove" else "added"] += len(members)
            events.record("Group", "members", id=entry.id, name=name, dn=dn, **counts)

    def _changes(self, entry: Entry, old: dict[str, Any], new: dict[str, Any], dn: str) -> list[Modification]:
        """The mapped changes, new values for ``keep: false`` derived names whose source changed, and
        new memberURLs for a renamed group whose members keep the membership (at ``dn`` now)."""
        fresh = rederived(self._directory, [self._base], self._mapping.map.derived, entry, old=old, new=new)
        changes = self._mapping.changes(entry, old, new)
        changes += [Modification("replace", name, (value,)) for name, value in fresh.items()]
        if self._members.on_members and dn != entry.dn:
            changes.append(Modification("replace", self._members.rule.url_attribute, self._members.urls(dn)))
        return changes

    def _rename(
        self, entry: Entry, old: dict[str, Any], new: dict[str, Any], expect: Expect
    ) -> tuple[str, Expect]:
        """Rename the group when its RDN value changes; returns its DN and the version the next write
        must still expect (None once the rename, which asserted it, is done)."""
        if not str(new.get("displayName", "")).strip():
            raise InvalidValue("displayName is required and cannot be removed")
        rdn = self._mapping.rdn(self._mapping.to_ldap(new))
        if rdn[1] == entry.first(rdn[0]):
            return entry.dn, expect
        check_rdn(rdn, self._mapping)
        if str(new["displayName"]).lower() != str(old.get("displayName", "")).lower() and self._taken(
            new, entry.id
        ):
            raise Uniqueness(f"a group named {new['displayName']} exists already")
        try:
            with refusals("Group", entry.id, self._mapping):
                # the id (entryUUID) stays
                moved = self._directory.move(entry.dn, rdn, entry.parent, expect=expect)
        except EntryAlreadyExists as exc:
            raise Uniqueness(f"a group named {new['displayName']} exists already") from exc
        if self._members.on_members:
            self._members.repoint(entry.dn, moved)
        else:
            self._members.renamed(entry, moved, None)  # groups that hold this one as a member follow it
        return moved, None

    def replace_group(self, group_id: str, body: Any, *, if_match: Sequence[str] | None = None) -> GroupView:
        """PUT /Groups/{id}: the attributes and the whole member list are replaced (RFC 7644 3.5.1)."""
        entry = self._entry(group_id)
        self._safety.check_entry("Group", entry)
        expect: Expect = expected_version("Group", entry, if_match)
        old = self._mapping.to_document(entry)
        normalized = normalize_resource(body, GROUP)
        new = normalized.document
        self._settle(new, normalized.ignored, group_id)
        members = self._members.resolve(_member_ids(new.pop("members", []), "members"), strict=True)
        dn, expect = self._rename(entry, old, new, expect)
        changes = self._changes(entry, old, new, dn)
        if not self._members.on_members:
            values = self._members.with_placeholder(self._members.values(members))
            changes.append(Modification("replace", self._members.rule.attribute, values))
        with refusals("Group", group_id, self._mapping):
            updated = self._directory.modify(dn, changes, self._read, expect=expect) if changes else None
            if self._members.on_members:
                self._members.set_members(dn, members)
        if updated is None:
            updated = self._entry(group_id)
        events.record(
            "Group", "update", id=entry.id, name=new.get("displayName"), dn=dn, members=len(members)
        )
        return self._view(updated, members)

    def delete_group(self, group_id: str, *, if_match: Sequence[str] | None = None) -> None:
        """DELETE /Groups/{id}: the group goes; its members stay as they are."""
        entry = self._entry(group_id)
        self._safety.check_entry("Group", entry)
        expect = expected_version("Group", entry, if_match)
        self._safety.deprovision("Group", entry)
        with refusals("Group", group_id, self._mapping):
            if self._members.on_members:  # first, so a group made again under this name starts empty
                self._members.repoint(entry.dn, None)
            self._directory.delete(entry.dn, expect=expect)
            self._recent.drop(entry.id)
        if not self._members.on_members:
            self._members.forget(entry)  # nor does a group that held this one as a member keep its DN
        name = self._mapping.to_document(entry).get("displayName")
        events.record("Group", "delete", id=entry.id, name=name, dn=entry.dn)


__all__ = ["GroupService", "GroupView", "Member", "Memberships"]
