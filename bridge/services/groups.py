"""Groups: the SCIM operations on /Groups. How the members are held is ``bridge.services.members``; what
the member operations of a PATCH come to, ``bridge.services.member_writes``.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.config import SafetyConfig
from bridge.directory.base import (
    Directory,
    Entry,
    Eq,
    Expect,
    GreaterOrEqual,
    LessOrEqual,
    Modification,
    all_of,
)
from bridge.directory.errors import DirectoryError, EntryAlreadyExists, NoSuchEntry
from bridge.mapping.engine import ResourceMapping
from bridge.mapping.filters import FilterTranslator
from bridge.scim.canonical import PatchOperation, normalize_patch, normalize_resource
from bridge.scim.errors import (
    InvalidValue,
    NotFound,
    PreconditionFailed,
    ServerError,
    Uniqueness,
)
from bridge.scim.filter import Filter
from bridge.scim.patch import apply_patch
from bridge.scim.schemas import GROUP
from bridge.services import events, member_writes
from bridge.services.common import Page, expected_version, iso_time
from bridge.services.members import Member, Memberships
from bridge.services.naming import add_named, check_rdn, rederived
from bridge.services.recent import EntryCache, Stale, local
from bridge.services.refusals import client_error, refusals
from bridge.services.safety import Safety
from bridge.services.unmapped import Settle, UnmappedPolicy

logger = logging.getLogger(__name__)
_GID_TRIES, _GID_SPREAD = 5, 8  # gidNumber clashes between instances: tries, and free numbers to pick from


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
        ids = member_writes.member_ids(document.pop("members", []), "members")
        members = self._members.resolve(ids, strict=True)
        attributes = dict(self._mapping.new_entry(document, True))
        planned = self._directory.normalize_dn(
            self._members.spelling.make_dn(self._mapping.rdn(attributes), self._base)
        )
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

    def patch_group(self, group_id: str, body: Any, *, if_match: Sequence[str] | None = None) -> None:
        """PATCH /Groups/{id}: member operations become value adds and deletes on one modify; other
        attributes (a rename) go through read, patch, diff. Answers 204, as Entra prefers [D1]."""
        operations = normalize_patch(body, GROUP)
        is_member = [op.path is not None and op.path.attr.lower() == "members" for op in operations]
        member_ops = [op for op, m in zip(operations, is_member, strict=True) if m]
        other_ops = [op for op, m in zip(operations, is_member, strict=True) if not m]
        reported: set[str] = set()
        if member_ops:
            # The group is read afresh in the search that resolves the member ids, never taken from the
            # remembered entries: on OpenLDAP a member write cannot carry an assertion (slapd's memberof
            # overlay would skip memberOf), so a remembered DN would cost a read of its own to check.
            plan = member_writes.planned(self._members, group_id, member_ops, self._read)
            on_members = self._members.on_members
            member_changes = [] if on_members else member_writes.changes(self._members, plan.writes)
            writes = plan.writes if on_members else []
            expect = expected_version("Group", plan.group, if_match)
            self._patch(plan.group, member_changes, other_ops, writes, expect, fresh=True, reported=reported)
            return
        # Where members keep the membership, the group's own entry is rarely written: nothing would assert it.
        seen = None if if_match or self._members.on_members else self._recent.get(group_id)
        if seen is not None:
            try:
                self._patch(seen, [], other_ops, [], seen.version, fresh=False, reported=reported)
                return
            except (NotFound, PreconditionFailed, Stale):
                self._recent.drop(group_id)
        entry = self._entry(group_id)
        expect = expected_version("Group", entry, if_match)
        self._patch(entry, [], other_ops, [], expect, fresh=True, reported=reported)

    def _patch(
        self,
        entry: Entry,
        member_changes: list[Modification],
        other_ops: list[PatchOperation],
        writes: Sequence[member_writes.Write],
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
            self._settle(new, patched.ignored, group_id, reported, before=old, written=patched.written)
            dn, expect = self._rename(entry, old, new, expect)
            changes = self._changes(entry, old, new, dn) + changes
        if not fresh and not changes and dn == entry.dn:
            raise Stale  # nothing written, so nothing proved the remembered group current
        if changes:
            with refusals("Group", group_id, self._mapping):
                self._directory.update(dn, changes, expect=expect)
        if writes:
            with refusals("Group", group_id, self._mapping):
                member_writes.write(self._members, dn, writes)
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
        members = self._members.resolve(
            member_writes.member_ids(new.pop("members", []), "members"), strict=True
        )
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


__all__ = ["GroupService", "GroupView"]
