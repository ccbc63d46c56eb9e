"""ProvisioningService: one method per SCIM operation on Users, over the Directory port.

It orchestrates the pure pieces (``scim/`` parses and patches, ``mapping/`` converts) and the port;
it imports neither falcon nor ldap3. Updates are read, patch, diff, write: only attributes whose
values change are written, a rename is a modify-DN (the id stays), and the deprovisioning policy
decides what ``active=false`` and DELETE do.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bridge import events
from bridge.config import DeprovisioningConfig, SafetyConfig
from bridge.directory.base import (
    MATCH_NOTHING,
    Directory,
    DirFilter,
    Entry,
    Eq,
    Expect,
    Modification,
    Present,
    all_of,
)
from bridge.directory.errors import (
    Changed,
    ConstraintViolation,
    DirectoryError,
    EntryAlreadyExists,
    InsufficientAccess,
    NoSuchEntry,
    NotAllowed,
)
from bridge.mapping.engine import ResourceMapping, UserMapping
from bridge.mapping.filters import FilterTranslator
from bridge.mapping.model import NamingRule, Rule
from bridge.recent import EntryCache, Stale, local
from bridge.safety import Safety
from bridge.scim.compat import normalize_patch, normalize_resource
from bridge.scim.errors import (
    Forbidden,
    InvalidValue,
    NotFound,
    PreconditionFailed,
    ServerError,
    Unavailable,
    Uniqueness,
)
from bridge.scim.filter import And, AttrPath, Compare, Filter, Not, Or
from bridge.scim.patch import apply_patch, copy_document
from bridge.scim.schemas import USER
from bridge.unmapped import Settle, UnmappedPolicy

_T = TypeVar("_T")
logger = logging.getLogger(__name__)
_MAX_NAME_TRIES = 100


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


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: the resources on it and how many matched in all."""

    total: int
    resources: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Sweep:
    """What a sweep did: (DN, disabled since) of each user it deleted (or would, in a dry run), and why
    it stopped early, if it did (the circuit breaker)."""

    deleted: list[tuple[str, str]]
    stopped: str | None = None


class MembershipHooks(Protocol):
    """What the user service asks of the groups (``bridge.groups.Memberships``), when groups are mapped."""

    def groups_of(self, user: Entry) -> list[Entry]: ...

    def forget(self, user: Entry) -> None: ...

    def renamed(self, old: Entry, new_dn: str, new_uid: str | None) -> None: ...

    def group_name(self, group: Entry) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Scope:
    """Where users live: new ones go to ``user_base``; ``disabled_base`` holds moved disabled ones."""

    user_base: str
    disabled_base: str | None = None
    user_filter: DirFilter | None = None
    uniqueness: str = "bridge"  # "directory": the directory refuses duplicate names (ldap.uniqueness)


# slapd (back-mdb) keeps an entry's RDN twice in one index record, as written and normalized, and
# refuses an add or a rename whose two spellings take more than 491 bytes together ("other", with no
# reason on an add and "DN index add failed" on a rename), however short the rest of the DN. Measured:
# uid= with 241 ASCII letters fits, 242 do not; cn= 242; an escaped character (, + " \ < > ; =) counts
# three bytes in both spellings. Active Directory's RDN, a cn of at most 64 UTF-16 units, fits unless
# its characters grow when normalized (U+FDFA becomes 18 characters).
RDN_INDEX_BYTES = 491
_DN_SPECIALS = frozenset(',+"\\<>;=\x00')


def _rdn_bytes(attribute: str, value: str) -> int:
    """Bytes of ``attribute=value`` as slapd spells an RDN: UTF-8, with the characters RFC 4514 escapes
    (and a leading ``#`` or space, a trailing space) as ``\\hh``."""
    size = len(attribute) + 1
    for index, char in enumerate(value):
        edge = (index == 0 and char in "# ") or (index == len(value) - 1 and char == " ")
        size += 3 if char in _DN_SPECIALS or edge else len(char.encode("utf-8", "surrogatepass"))
    return size


def rdn_index_bytes(rdn: tuple[str, str]) -> int:
    """What ``rdn`` takes of slapd's ``RDN_INDEX_BYTES``: its bytes as written, and as normalized. slapd
    normalizes with Unicode tables of its own (compatibility forms, lower case); the longest of Python's
    spellings stands in for that, which errs long for a few characters (U+0130 counts three bytes where
    slapd takes one) and, measured across scripts and planes, never short."""
    attribute, value = rdn
    forms = (
        value,
        unicodedata.normalize("NFKC", value).casefold(),
        unicodedata.normalize("NFKC", value.lower()),
    )
    return _rdn_bytes(attribute, value) + max(_rdn_bytes(attribute, form) for form in forms)


def check_rdn(rdn: tuple[str, str], mapping: ResourceMapping) -> None:
    """Refuse, before anything is written, a value too long to name an entry (``RDN_INDEX_BYTES``)."""
    size = rdn_index_bytes(rdn)
    if size > RDN_INDEX_BYTES:
        ascii_letters = RDN_INDEX_BYTES // 2 - len(rdn[0]) - 1
        raise InvalidValue(
            f"{_scim_name(rdn[0], mapping)} is too long to name a directory entry: {rdn[0]}=... would "
            f"take {size} bytes, written and normalized, and the bridge allows {RDN_INDEX_BYTES}, OpenLDAP's "
            f"limit (about {ascii_letters} ASCII letters; fewer in other scripts)"
        )


def add_named(
    directory: Directory,
    bases: Sequence[str],
    mapping: ResourceMapping,
    *,
    parent: str,
    document: Mapping[str, Any],
    attributes: Mapping[str, tuple[str, ...]],
    read: Sequence[str],
) -> Entry:
    """Add an entry, deriving its names first when the map says so.

    Derived values (a short uid, AD's sAMAccountName and CN) take the first of ``jdoe``, ``jdoe2``, ...
    that no entry in ``bases`` holds; that check races with other instances, so an add the directory
    refuses as a duplicate moves on to the next number.
    """
    naming, rules = mapping.naming, mapping.map.derived_names
    if not rules:
        rdn = mapping.rdn(attributes)
        check_rdn(rdn, mapping)
        return directory.add(parent, rdn, attributes, read)
    stems = {rule.attribute: rule.derive(document) for rule in rules}
    numbers = dict.fromkeys(stems, 1)

    def pick(rule: NamingRule) -> str:
        name, numbers[rule.attribute] = free_name(
            directory, bases, rule, stems[rule.attribute], start=numbers[rule.attribute]
        )
        return name

    for _ in range(_MAX_NAME_TRIES):
        values = dict(attributes)
        for rule in rules:
            values[rule.attribute] = (pick(rule),)
        rdn = (naming.attribute, values[naming.attribute][0]) if naming is not None else mapping.rdn(values)
        check_rdn(rdn, mapping)
        try:
            return directory.add(parent, rdn, values, read)
        except EntryAlreadyExists:
            # Another instance took one of the names a moment ago (the RDN, or AD's unique
            # sAMAccountName, which AD also reports as existing): try the next numbers.
            for rule in rules:
                numbers[rule.attribute] += 1
    raise ServerError(f"no free name after {_MAX_NAME_TRIES} tries")


def free_name(
    directory: Directory,
    bases: Sequence[str],
    rule: NamingRule,
    stem: str,
    *,
    start: int = 1,
    own_id: str | None = None,
) -> tuple[str, int]:
    """The first of ``stem``, ``stem2``, ... from ``start`` that no entry under ``bases`` but
    ``own_id`` holds, and its number."""
    for number in range(start, start + _MAX_NAME_TRIES):
        name = rule.numbered(stem, number)
        holders = directory.search(bases, Eq(rule.attribute, name), (), limit=2).entries
        if all(holder.id == own_id for holder in holders):
            return name, number
    raise ServerError(f"no free {rule.attribute} for {stem!r} after {_MAX_NAME_TRIES} tries")


def rederived(
    directory: Directory,
    bases: Sequence[str],
    rules: Sequence[NamingRule],
    entry: Entry,
    *,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> dict[str, str]:
    """New values for the ``keep: false`` rules whose source changed (a renamed user's short name)."""
    values: dict[str, str] = {}
    for rule in rules:
        stem = rule.derive(new)
        if rule.keep or stem == rule.derive(old):
            continue
        values[rule.attribute] = free_name(directory, bases, rule, stem, own_id=entry.id)[0]
    return values


def expected_version(kind: str, entry: Entry, if_match: Sequence[str] | None) -> str | None:
    """The version a write to ``entry`` must find, from the request's ``If-Match`` entity tags (their
    opaque values; RFC 7644 3.14): None when there is no condition (no header, or ``*``, which any
    existing resource meets). A tag that is not the entry's version is a 412 before anything is written;
    the write itself then asserts the version, so a change in between is a 412 too."""
    if if_match is None or "*" in if_match:
        return None
    if entry.version not in if_match:
        raise PreconditionFailed(f'{kind} {entry.id} has changed: its version is now W/"{entry.version}"')
    return entry.version


def generate_password(length: int) -> str:
    """A random password of ``length`` characters with upper and lower case letters, digits and symbols,
    so that it meets AD's complexity rule; it is written to the directory and never shown or logged."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%*+-=?@^_")
    alphabet = "".join(classes)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in group for c in password) for group in classes):
            return password


def _generalized(text: str) -> datetime | None:
    """RFC 4517 GeneralizedTime in UTC (``20261122083000Z``, fractions ignored) as a datetime."""
    try:
        moment = datetime.strptime(text.split(".", maxsplit=1)[0].rstrip("Z")[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC)


def iso_time(generalized: str | None) -> str | None:
    """RFC 4517 GeneralizedTime (``20261122083000Z``) as ISO 8601 (``2026-11-22T08:30:00Z``)."""
    moment = _generalized(generalized) if generalized else None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


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
        self._user_base = directory.normalize_dn(scope.user_base)
        self._disabled_base = directory.normalize_dn(scope.disabled_base) if scope.disabled_base else None
        self._bases, self._scope_filter = self.search_scope(directory, mapping, scope)
        self._translator = FilterTranslator(mapping, USER, id_filter, directory.can_order)
        self._read = mapping.read_attributes
        self._references = tuple(rule for rule in mapping.rules if rule.converter.kind == "reference")
        self._dn_attribute = dn_attribute
        self._unique_by_directory = scope.uniqueness == "directory"
        self._recent = remember("users " + " ".join(self._read))

    @staticmethod
    def search_scope(
        directory: Directory, mapping: UserMapping, scope: Scope
    ) -> tuple[tuple[str, ...], DirFilter]:
        """Where users are searched (the user base, and the disabled base when it lies elsewhere) and
        the filter every user matches (the map's structural class and ``ldap.user_filter``)."""
        user_base = directory.normalize_dn(scope.user_base)
        bases = [user_base]
        if scope.disabled_base:
            disabled = directory.normalize_dn(scope.disabled_base)
            if not disabled.lower().endswith(user_base.lower()):
                bases.append(disabled)
        condition = all_of(mapping.structural_filter, *([scope.user_filter] if scope.user_filter else []))
        return tuple(bases), condition

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
            document=self._client_form(self._mapping.to_document(entry)),
            created=iso_time(entry.first("createTimestamp")),
            last_modified=iso_time(entry.first("modifyTimestamp")),
            groups=groups,
            version=entry.version,
        )

    # --- references (manager): ids for the client, DNs in the directory ---------------------------

    def _client_form(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` with each reference as the client knows it: the DN the directory holds becomes
        that user's id. A DN that leads to no user in scope (a deleted manager) reads as no value."""
        if not any(rule.target.get(document) for rule in self._references):
            return document
        result: dict[str, Any] = copy_document(document)
        for rule in self._references:
            dn = rule.target.get(result)
            if not dn:
                continue
            condition = all_of(self._scope_filter, Eq(self._dn_attribute, str(dn)))
            found = self._directory.search(self._bases, condition, (), limit=1).entries
            if found:
                rule.target.put(result, found[0].id)
            else:
                rule.target.clear(result)
        return result

    def _directory_form(self, document: dict[str, Any]) -> dict[str, Any]:
        """``document`` with each reference as the directory holds it: the user's DN for its id. An
        id of no user in scope is a 400, never a DN that leads nowhere."""
        if not any(rule.target.get(document) for rule in self._references):
            return document
        result: dict[str, Any] = copy_document(document)
        for rule in self._references:
            reference = rule.target.get(result)
            if not reference:
                continue
            try:
                entry = self._directory.get_by_id(self._bases, self._scope_filter, str(reference), ())
            except NoSuchEntry as exc:
                raise InvalidValue(f"{rule.target.text}: no user has the id {reference}") from exc
            rule.target.put(result, entry.dn)
        return result

    def _references_in_filter(self, flt: Filter) -> Filter:
        """``flt`` with each manager id replaced by the manager's DN, which the directory compares.

        Entra's older reference check is ``id eq "<user>" and manager eq "<manager>"`` [D18] (2.9). An
        id of no user becomes an impossible DN, so the comparison matches nothing.
        """
        match flt:
            case And(left, right):
                return And(self._references_in_filter(left), self._references_in_filter(right))
            case Or(left, right):
                return Or(self._references_in_filter(left), self._references_in_filter(right))
            case Not(inner):
                return Not(self._references_in_filter(inner))
            case Compare(path, op, str(value)) if op in ("eq", "ne") and (rule := self._reference(path)):
                try:
                    dn = self._directory.get_by_id(self._bases, self._scope_filter, value, ()).dn
                except NoSuchEntry:
                    dn = "cn=no such user"  # a DN no entry has: the comparison is false
                target = rule.target
                sub = target.sub.name if target.sub else None
                return Compare(AttrPath(target.urn, target.attribute.name, sub), op, dn)
        return flt

    def _reference(self, path: AttrPath) -> Rule | None:
        """The reference rule ``path`` names (``manager``, ``manager.value``, with or without its URN)."""
        for rule in self._references:
            target = rule.target
            same_sub = (path.sub or "value").lower() == (target.sub.name.lower() if target.sub else "value")
            same_urn = path.uri is None or (target.urn or "").lower() == path.uri.lower()
            if path.attr.lower() == target.attribute.name.lower() and same_sub and same_urn:
                return rule
        return None

    def get_user(self, user_id: str, *, with_groups: bool = False) -> UserView:
        """GET /Users/{id}: disabled users are found too (Entra needs them [D1]). The read-only
        ``groups`` costs a reverse search, so it is computed only when asked for."""
        return self._view(self._entry(user_id), with_groups)

    def list_users(
        self, flt: Filter | None, start_index: int, count: int, *, with_groups: bool = False
    ) -> Page:
        """GET /Users: a page of the users matching ``flt``, in a stable order (RFC 7644 3.4.2)."""
        flt = self._references_in_filter(flt) if flt is not None and self._references else flt
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
        active = bool(document.get("active", True))
        rule = self._mapping.map.active
        if rule is not None and rule.method == "uac" and not document.get("password"):
            # AD enables an account only when it has a password, and Entra never sends one.
            if rule.password_length:
                document = {**document, "password": generate_password(rule.password_length)}
            elif active:
                logger.info(
                    "creating %s disabled: no password was sent and password generation is off",
                    document["userName"],
                )
                active = False
        attributes = dict(self._mapping.new_entry(self._directory_form(document), active, now=self._stamp()))
        if self._taken(document, None):
            raise Uniqueness(f"userName {document['userName']} is already taken")
        parent = self._disabled_base if not active and self._disabled_base else self._user_base
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
            document = self._directory_form(new)
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
            result = apply_patch(self._client_form(old), operations, USER)
            # Removing or nulling active is refused here: only an explicit false disables an account.
            self._settle(result.document, result.ignored, entry.id, reported, before=old)
            document = self._directory_form(result.document)
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
        self._delete(entry, expect)

    def sweep(self, older_than: timedelta, *, dry_run: bool = False) -> Sweep:
        """Delete the users disabled longer than ``older_than`` ago (``deprovisioning.delete_after_days``),
        as the map's ``active.since`` attribute on each entry records.

        Each delete asserts the version just read, so a user re-enabled meanwhile stays; protected
        users are skipped; the circuit breaker counts every delete and, tripped, stops the sweep.
        """
        rule = self._mapping.map.active
        if rule is None or not rule.since:
            raise ServerError("the user map records no disable time: set active.since to sweep")
        cutoff = self._now() - older_than
        condition = all_of(self._scope_filter, Present(rule.since), self._mapping.active_filter(False))
        result = Sweep([])
        for entry in self._directory.search(self._bases, condition, (*self._read, rule.since)).entries:
            since = entry.first(rule.since) or ""
            moment = _generalized(since)
            if moment is None or moment > cutoff:
                continue
            try:
                self._safety.check_entry("User", entry)
            except Forbidden:
                continue  # logged by the safety check; a protected user is never swept
            if not dry_run:
                try:
                    self._safety.deprovision("User", entry)
                except Unavailable as exc:
                    return Sweep(result.deleted, stopped=exc.detail)
                try:
                    self._delete(entry, entry.version, by="sweep")
                except (NotFound, PreconditionFailed):
                    logger.info("not swept: %s was changed or deleted meanwhile", entry.dn)
                    continue
            result.deleted.append((entry.dn, since))
        return result

    def _delete(self, entry: Entry, expect: Expect, *, by: str = "request") -> None:
        with refusals("User", entry.id, self._mapping):
            self._directory.delete(entry.dn, expect=expect)
            self._recent.drop(entry.id)
            name = self._mapping.to_document(entry).get("userName")
            events.record("User", "delete", id=entry.id, name=name, dn=entry.dn, by=by)
            if self._memberships is not None:
                self._memberships.forget(entry)  # a deleted user leaves every group

    def _follow(self, entry: Entry, new_dn: str, new_uid: str | None) -> None:
        """Groups follow a renamed or moved user."""
        if self._memberships is not None:
            self._memberships.renamed(entry, new_dn, new_uid)

    def _parent_for(self, entry: Entry, active: bool) -> str:
        if self._disabled_base is None:
            return entry.parent
        if not active:
            return self._disabled_base
        if entry.parent.lower() == self._disabled_base.lower():
            return self._user_base
        return entry.parent

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
            self._delete(entry, expect)
            return None
        parent = self._parent_for(entry, active)
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
        changes = self._mapping.changes(entry, old, new, now=self._stamp(), after=after)
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
        rule = self._mapping.map.active
        if not active and updated is not entry and rule is not None and self._mapping.is_active(updated):
            # slapd's ppolicy deletes pwdAccountLockedTime whenever the password changes, even in the
            # modify that sets it: lock the account again, as the request asked.
            with refusals("User", entry.id, self._mapping):
                relock = [Modification("replace", rule.attribute, (rule.disabled_value,))]
                updated = self._directory.modify(updated.dn, relock, self._read)
        if updated is not entry:
            action = "disable" if disabling else "enable" if active and not was_active else None
            action = action or ("rename" if renamed else "update")
            events.record("User", action, id=entry.id, name=str(new["userName"]), dn=updated.dn)
        return self._view(updated)


@contextmanager
def refusals(kind: str, resource_id: str, mapping: ResourceMapping | None = None) -> Iterator[None]:
    """Directory refusals of a write to one resource, as SCIM errors: an entry gone meanwhile is a 404,
    one changed since the version the request expected a 412, a refusal the client can act on a 400
    or 403 (``client_error``, which names the attribute by ``mapping``); any other passes through."""
    try:
        yield
    except NoSuchEntry as exc:
        raise NotFound(f"{kind} {resource_id} not found") from exc
    except Changed as exc:
        raise PreconditionFailed(
            f"{kind} {resource_id} has changed since the version If-Match named"
        ) from exc
    except DirectoryError as exc:
        error = client_error(exc, mapping)
        if error is exc:
            raise
        raise error from exc


_NOT_UNIQUE = re.compile(r"non-unique|not unique", re.IGNORECASE)
# The adapter words a refusal "<operation> <DN>: <result> (<the directory's message>)", with ldap3's name
# of the result. These results refuse the values sent, never the server's state: the adapter makes most
# of them a ConstraintViolation; invalidDNSyntax (a value that cannot name an entry) and
# adminLimitExceeded (AD: an entry or a value list over its limits) it leaves unclassified.
_VALUE_RESULTS = (
    "noSuchAttribute",
    "undefinedAttributeType",
    "inappropriateMatching",
    "constraintViolation",
    "attributeOrValueExists",
    "invalidAttributeSyntax",
    "namingViolation",
    "objectClassViolation",
    "notAllowedOnRDN",
    "objectClassModsProhibited",
    "invalidDNSyntax",
    "adminLimitExceeded",
)
_UNCLASSIFIED = ("invalidDNSyntax", "adminLimitExceeded")
_RESULT = re.compile(rf": ({'|'.join(_VALUE_RESULTS)})(?= \(|$)")
# Where a directory's message names the attribute: slapd "title: value #0 invalid per syntax" and
# "attribute 'x' not allowed", Samba "attribute 'title' on entry ...", AD "Att 20026 (title)".
_NAMED = re.compile(r"^([A-Za-z][\w-]*): value #|attribute '([A-Za-z][\w-]*)'|\bAtt \w+ \(([A-Za-z][\w-]*)\)")
_QUOTED_DN = re.compile(r"'[^']*=[^']*'")  # a DN quoted in a message holds the values: left out
_ELIDED = "'…'"
_LONGEST_DETAIL = 300


def client_error(exc: DirectoryError, mapping: ResourceMapping | None = None) -> Exception:
    """The SCIM error for a directory refusal the client can act on; others pass through. A refusal of
    the values sent is a 400 naming the attribute (its SCIM path, from ``mapping``, when the directory's
    message names the LDAP attribute or the value was the entry's name)."""
    if isinstance(exc, ConstraintViolation) and _NOT_UNIQUE.search(exc.reason):
        # slapd's unique overlay ("non-unique attributes found with ..."), with ldap.uniqueness: directory
        return Uniqueness(f"the directory refused a duplicate: {exc.reason}")
    if isinstance(exc, InsufficientAccess | NotAllowed):
        return Forbidden(f"the directory refused the operation: {exc.reason}")
    refusal = _refusal(exc.reason)
    unclassified = type(exc) is DirectoryError and refusal is not None and refusal[0] in _UNCLASSIFIED
    if isinstance(exc, ConstraintViolation) or unclassified:
        return InvalidValue(_refused(exc.reason, refusal, mapping))
    return exc


def _refusal(reason: str) -> tuple[str, str] | None:
    """(result, the directory's message) of a refusal of values, as the adapter words it, or None."""
    found = list(_RESULT.finditer(reason))  # the last: a DN before it may hold anything
    if not found:
        return None
    rest = reason[found[-1].end() :].strip()
    return found[-1].group(1), rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest


def _refused(reason: str, refusal: tuple[str, str] | None, mapping: ResourceMapping | None) -> str:
    """The detail of a 400 for a refused value: which attribute, and the directory's words for why,
    without the DN (which repeats the value, up to thousands of characters)."""
    if refusal is None:
        return _clipped(f"the directory refused the change: {reason}")
    result, message = refusal
    named = _NAMED.search(message)
    attribute = next((group for group in named.groups() if group), None) if named else None
    if attribute is None and mapping is not None:
        attribute = _unnamed(result, message, mapping)
    where = f" to {_scim_name(attribute, mapping)}" if attribute else ""
    why = f"{result} ({_QUOTED_DN.sub(_ELIDED, message)})" if message else result
    return _clipped(f"the directory refused the change{where}: {why}")


def _unnamed(result: str, message: str, mapping: ResourceMapping) -> str | None:
    """The LDAP attribute a refusal whose message names none is about: the entry's name, when the DN
    was refused; the password, when the message is about one (AD's password policy)."""
    if result in ("invalidDNSyntax", "namingViolation", "notAllowedOnRDN"):
        return mapping.rdn_attribute
    if "password" in message.lower():
        kinds = ("ldap_password", "ad_password")
        return next((rule.ldap for rule in mapping.rules if rule.converter.kind in kinds), None)
    return None


def _scim_name(attribute: str, mapping: ResourceMapping | None) -> str:
    """``title`` as ``title (title)``: the SCIM path the map stores in the LDAP ``attribute``, and it."""
    if mapping is not None:
        naming = mapping.naming
        if naming is not None and naming.attribute.lower() == attribute.lower():
            parts = [part for template in naming.templates for part in template.parts]
            sources = dict.fromkeys(part.text for part in parts if not isinstance(part, str))
            return f"{attribute} (derived from {' or '.join(sources)})"
        for rule in mapping.rules:
            if rule.ldap.lower() == attribute.lower():
                return f"{rule.target.text} ({rule.ldap})"
    return attribute


def _clipped(text: str) -> str:
    return text if len(text) <= _LONGEST_DETAIL else text[: _LONGEST_DETAIL - 1] + "…"


__all__ = [
    "MembershipHooks",
    "Page",
    "ProvisioningService",
    "Scope",
    "Sweep",
    "UserView",
    "add_named",
    "check_rdn",
    "client_error",
    "expected_version",
    "free_name",
    "iso_time",
    "rederived",
    "refusals",
]
