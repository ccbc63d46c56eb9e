"""ProvisioningService: one method per SCIM operation on Users, over the Directory port.

It orchestrates the pure pieces (``scim/`` parses and patches, ``mapping/`` converts) and the port;
it imports neither falcon nor ldap3. Updates are read, patch, diff, write: only attributes whose
values change are written, a rename is a modify-DN (the id stays), and the deprovisioning policy
decides what ``active=false`` and DELETE do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bridge.config import DeprovisioningConfig, SafetyConfig
from bridge.directory.base import (
    MATCH_NOTHING,
    Directory,
    Entry,
    Expect,
    Modification,
    all_of,
)
from bridge.directory.errors import (
    DirectoryError,
    EntryAlreadyExists,
    NoSuchEntry,
)
from bridge.mapping.engine import UserMapping
from bridge.mapping.filters import FilterTranslator
from bridge.scim.canonical import normalize_patch, normalize_resource
from bridge.scim.errors import (
    InvalidValue,
    NotFound,
    PreconditionFailed,
    ServerError,
    Uniqueness,
)
from bridge.scim.filter import Filter
from bridge.scim.patch import apply_patch, copy_document
from bridge.scim.schemas import USER
from bridge.services import events
from bridge.services.accounts import enableable, kept_locked
from bridge.services.common import Page, expected_version, iso_time
from bridge.services.deprovision import Deprovisioning, Sweep
from bridge.services.naming import add_named, check_rdn, rederived
from bridge.services.recent import EntryCache, Stale, local
from bridge.services.references import References
from bridge.services.refusals import client_error, refusals
from bridge.services.safety import Safety
from bridge.services.scope import Places, Scope
from bridge.services.unmapped import Settle, UnmappedPolicy

_T = TypeVar("_T")
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the client sees it: id, canonical document, timestamps (ISO 8601), version (the
    directory's change marker) and, when asked for, the groups that hold it directly as (id, display
    name) pairs."""

    id: str
    document: dict[str, Any]
    created: str | None
    last_modified: str | None
    groups: tuple[tuple[str, str | None], ...] | None = None
    version: str = ""


class MembershipHooks(Protocol):
    """What the user service asks of the groups (``bridge.services.members.Memberships``), when groups
    are mapped."""

    def groups_of(self, user: Entry) -> list[Entry]: ...

    def forget(self, user: Entry) -> None: ...

    def renamed(self, old: Entry, new_dn: str, new_uid: str | None) -> None: ...

    def group_name(self, group: Entry) -> str | None: ...


class ProvisioningService:
    """The SCIM operations on Users."""

    def __init__(
        self,
        directory: Directory,
        mapping: UserMapping,
        scope: Scope,
        policy: DeprovisioningConfig,
        *,
        id_filter: Any,
        memberships: MembershipHooks | None = None,
        dn_attribute: str = "entryDN",
        safety: Safety | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        remember: Callable[[str], EntryCache] = local,
        unmapped: UnmappedPolicy | None = None,
    ) -> None:
        self._now = now
        # A user's groups are read-only: computed from the groups, never written through the user.
        self._settle = Settle(unmapped or UnmappedPolicy(), "User", mapping, ("groups",))
        self._directory = directory
        self._safety = safety or Safety(directory, SafetyConfig(), user_base=scope.user_base)
        self._mapping = mapping
        self._policy = policy
        self._memberships = memberships
        self._places = Places.of(directory, mapping, scope)
        self._bases, self._scope_filter = self._places.bases, self._places.condition
        self._translator = FilterTranslator(mapping, USER, id_filter, directory.can_order)
        self._read = mapping.read_attributes
        self._references = References(directory, mapping, self._bases, self._scope_filter, dn_attribute)
        self._unique_by_directory = scope.uniqueness == "directory"
        self._recent = remember("users " + " ".join(self._read))
        self._deprovisioning = Deprovisioning(
            directory,
            mapping,
            self._places,
            safety=self._safety,
            recent=self._recent,
            forget=memberships.forget if memberships is not None else None,
            now=now,
        )

    def _stamp(self) -> str:
        """Now as GeneralizedTime, as disabled entries record it."""
        return self._now().astimezone(UTC).strftime("%Y%m%d%H%M%SZ")

    # --- reads ---------------------------------------------------------------------------------

    def _entry(self, user_id: str) -> Entry:
        try:
            return self._directory.get_by_id(self._bases, self._scope_filter, user_id, self._read)
        except NoSuchEntry as exc:
            raise NotFound(f"User {user_id} not found") from exc

    def _view(self, entry: Entry, with_groups: bool = False) -> UserView:
        self._recent.put(entry)
        groups = None
        if with_groups and self._memberships is not None:
            hooks = self._memberships
            groups = tuple((group.id, hooks.group_name(group)) for group in hooks.groups_of(entry))
        return UserView(
            id=entry.id,
            document=self._references.client_form(self._mapping.to_document(entry)),
            created=iso_time(entry.first("createTimestamp")),
            last_modified=iso_time(entry.first("modifyTimestamp")),
            groups=groups,
            version=entry.version,
        )

    def get_user(self, user_id: str, *, with_groups: bool = False) -> UserView:
        """GET /Users/{id}: disabled users are found too (Entra needs them [D1]). The read-only
        ``groups`` costs a reverse search, so it is computed only when asked for."""
        return self._view(self._entry(user_id), with_groups)

    def list_users(
        self, flt: Filter | None, start_index: int, count: int, *, with_groups: bool = False
    ) -> Page:
        """GET /Users: a page of the users matching ``flt``, in a stable order (RFC 7644 3.4.2)."""
        flt = self._references.in_filter(flt) if flt is not None and self._references.rules else flt
        condition = (
            self._scope_filter if flt is None else all_of(self._scope_filter, self._translator.translate(flt))
        )
        if condition == MATCH_NOTHING:
            return Page(0, ())  # Test Connection's random GUID on a converted attribute never reaches LDAP
        result = self._directory.search(
            self._bases, condition, self._read, offset=start_index - 1, limit=count
        )
        return Page(result.total, tuple(self._view(entry, with_groups) for entry in result.entries))

    # --- writes --------------------------------------------------------------------------------

    def _taken(self, document: dict[str, Any], own_id: str | None) -> bool:
        """True when another entry anywhere in the bases already holds this userName (any case). Not
        searched where the directory itself refuses a duplicate (``ldap.uniqueness: directory``)."""
        if self._unique_by_directory:
            return False
        found = self._directory.search(self._bases, self._mapping.rdn_filter(document), (), limit=2)
        return any(entry.id != own_id for entry in found.entries)

    def create_user(self, body: Any) -> UserView:
        """POST /Users (RFC 7644 3.3): one LDAP add with every mapped value and, when asked, the lock."""
        self._safety.check_write()
        normalized = normalize_resource(body, USER)
        document = normalized.document
        if not str(document.get("userName", "")).strip():
            raise InvalidValue("userName is required")
        self._settle(document, normalized.ignored, None)
        document, active = enableable(document, self._mapping)
        attributes = dict(
            self._mapping.new_entry(self._references.directory_form(document), active, now=self._stamp())
        )
        if self._taken(document, None):
            raise Uniqueness(f"userName {document['userName']} is already taken")
        parent = self._places.new_parent(active)
        try:
            entry = self._add(parent, document, attributes)
        except EntryAlreadyExists as exc:
            raise Uniqueness(f"userName {document['userName']} is already taken") from exc
        except NoSuchEntry as exc:
            raise ServerError(
                f"the base {parent} does not exist in the directory; check the configuration"
            ) from exc
        except DirectoryError as exc:
            raise client_error(exc, self._mapping) from exc
        events.record("User", "create", id=entry.id, name=document["userName"], dn=entry.dn, active=active)
        return self._view(entry)

    def _add(self, parent: str, document: dict[str, Any], attributes: dict[str, tuple[str, ...]]) -> Entry:
        return add_named(
            self._directory,
            self._bases,
            self._mapping,
            parent=parent,
            document=document,
            attributes=attributes,
            read=self._read,
        )

    def replace_user(
        self, user_id: str, body: Any, *, if_match: Sequence[str] | None = None
    ) -> UserView | None:
        """PUT /Users/{id} (RFC 7644 3.5.1): absent attributes are cleared; ``active`` absent is kept.

        Returns None when the policy turned the request into a delete.
        """
        normalized = normalize_resource(body, USER)
        reported: set[str] = set()

        def work(entry: Entry, expect: Expect, fresh: bool) -> UserView | None:
            self._safety.check_entry("User", entry)
            old = self._mapping.to_document(entry)
            new: dict[str, Any] = copy_document(normalized.document)
            new.setdefault("active", old["active"])
            self._settle(new, normalized.ignored, entry.id, reported)
            document = self._references.directory_form(new)
            return self._update(entry, old, document, may_delete=True, expect=expect, fresh=fresh)

        return self._seen_or_read(user_id, if_match, work)

    def patch_user(
        self, user_id: str, body: Any, *, if_match: Sequence[str] | None = None
    ) -> UserView | None:
        """PATCH /Users/{id} (RFC 7644 3.5.2). Returns None when the policy deleted the user."""
        operations = normalize_patch(body, USER)
        reported: set[str] = set()

        def work(entry: Entry, expect: Expect, fresh: bool) -> UserView | None:
            self._safety.check_entry("User", entry)
            old = self._mapping.to_document(entry)
            result = apply_patch(self._references.client_form(old), operations, USER)
            # Removing or nulling active is refused here: only an explicit false disables an account.
            written = result.written
            self._settle(result.document, result.ignored, entry.id, reported, before=old, written=written)
            document = self._references.directory_form(result.document)
            return self._update(entry, old, document, may_delete=True, expect=expect, fresh=fresh)

        return self._seen_or_read(user_id, if_match, work)

    def _seen_or_read(
        self, user_id: str, if_match: Sequence[str] | None, work: Callable[[Entry, Expect, bool], _T]
    ) -> _T:
        """``work(entry, expect, fresh)`` on the entry this instance saw last, its first write asserting
        that entry's version (see ``bridge.recent``); when that was stale, again on the entry read
        afresh. With If-Match the client names the version: only a fresh read serves."""
        seen = None if if_match else self._recent.get(user_id)
        if seen is not None:
            try:
                return work(seen, seen.version, False)
            except (NotFound, PreconditionFailed, Stale):
                self._recent.drop(user_id)
        entry = self._entry(user_id)
        return work(entry, expected_version("User", entry, if_match), True)

    def delete_user(self, user_id: str, *, if_match: Sequence[str] | None = None) -> None:
        """DELETE /Users/{id}: delete the entry, or disable it when ``on_delete`` is ``disable``."""
        entry = self._entry(user_id)
        self._safety.check_entry("User", entry)
        expect = expected_version("User", entry, if_match)
        if self._policy.on_delete == "disable":
            old = self._mapping.to_document(entry)
            self._update(entry, old, {**old, "active": False}, may_delete=False, expect=expect)
            return
        self._safety.deprovision("User", entry)
        self._deprovisioning.delete(entry, expect)

    def sweep(self, older_than: timedelta, *, dry_run: bool = False) -> Sweep:
        """Delete the users disabled longer than ``older_than`` ago (see ``Deprovisioning.sweep``)."""
        return self._deprovisioning.sweep(older_than, dry_run=dry_run)

    def _follow(self, entry: Entry, new_dn: str, new_uid: str | None) -> None:
        """Groups follow a renamed or moved user."""
        if self._memberships is not None:
            self._memberships.renamed(entry, new_dn, new_uid)

    def _update(
        self,
        entry: Entry,
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        may_delete: bool,
        expect: Expect = None,
        fresh: bool = True,
    ) -> UserView | None:
        """Write the difference between ``old`` and ``new``; the first write asserts ``expect``. An
        ``entry`` that is not ``fresh`` (remembered, not read for this request) must be proven current
        by a write: when nothing is to be written, ``Stale`` sends the request to a fresh read."""
        if not str(new.get("userName", "")).strip():
            raise InvalidValue("userName is required and cannot be removed")
        active = bool(new.get("active", True))
        was_active = self._mapping.is_active(entry)
        disabling = not active and was_active
        if disabling:
            self._safety.deprovision("User", entry)
        try:
            return self._write(
                entry, old, new, (active, was_active), may_delete=may_delete, expect=expect, fresh=fresh
            )
        except (NotFound, PreconditionFailed, Stale):
            if disabling and not fresh:
                self._safety.uncount()  # the request is done again from a fresh read, and counted there
            raise

    def _write(
        self,
        entry: Entry,
        old: dict[str, Any],
        new: dict[str, Any],
        activity: tuple[bool, bool],
        *,
        may_delete: bool,
        expect: Expect,
        fresh: bool,
    ) -> UserView | None:
        active, was_active = activity
        disabling = not active and was_active
        if disabling and may_delete and self._policy.on_deactivate == "delete":
            self._deprovisioning.delete(entry, expect)
            return None
        parent = self._places.parent_for(entry, active)
        naming = self._mapping.naming
        derived = rederived(
            self._directory, self._bases, self._mapping.map.derived_names, entry, old=old, new=new
        )
        rdn: tuple[str, str] | None = None  # None: a derived name is kept (unless ``keep: false``)
        after = self._mapping.to_ldap(new)
        if naming is None:
            rdn = self._mapping.rdn(after)
        elif naming.attribute in derived:
            rdn = (naming.attribute, derived.pop(naming.attribute))
        renames = rdn is not None and rdn[1] != entry.first(rdn[0])
        if rdn is not None and renames:
            check_rdn(rdn, self._mapping)
        moves = renames or parent.lower() != entry.parent.lower()
        renamed = str(new["userName"]).lower() != str(old.get("userName", "")).lower()
        if renamed and self._taken(new, entry.id):
            raise Uniqueness(f"userName {new['userName']} is already taken")
        # Only a disable records the time (the active rule's ``since``): other writes need not format it.
        now = self._stamp() if disabling else None
        changes = self._mapping.changes(entry, old, new, now=now, after=after)
        changes += [Modification("replace", name, (value,)) for name, value in derived.items()]
        try:
            with refusals("User", entry.id, self._mapping):
                if moves:
                    if not active:
                        # Lock first, then move: a failure in between leaves the account locked, never open.
                        self._directory.update(entry.dn, changes, expect=expect)
                        changes, expect = [], None
                    new_dn = self._directory.move(entry.dn, rdn, parent, expect=expect)
                    self._follow(entry, new_dn, rdn[1] if rdn else entry.first(self._mapping.rdn_attribute))
                    updated = self._directory.modify(new_dn, changes, self._read)
                elif changes:
                    updated = self._directory.modify(entry.dn, changes, self._read, expect=expect)
                elif not fresh:
                    raise Stale  # nothing to write proves the remembered entry current: read it
                else:
                    updated = entry  # nothing differs: an identical cycle writes nothing
        except EntryAlreadyExists as exc:
            raise Uniqueness(f"userName {new['userName']} is already taken") from exc
        if not active:
            updated = kept_locked(self._directory, self._mapping, entry, updated)
        if updated is not entry:
            action = "disable" if disabling else "enable" if active and not was_active else None
            action = action or ("rename" if renamed else "update")
            events.record("User", action, id=entry.id, name=str(new["userName"]), dn=updated.dn)
        return self._view(updated)


__all__ = ["MembershipHooks", "Page", "ProvisioningService", "UserView"]
