"""What ``init`` learns from the directory, bound as the bridge's bind DN, before it writes anything.

- **The kind of directory**, from the root DSE: Active Directory (and Samba) lists the capability
  ``1.2.840.113556.1.4.800`` (LDAP_CAP_ACTIVE_DIRECTORY_OID) in ``supportedCapabilities``; OpenLDAP names
  itself with the object class ``OpenLDAProotDSE`` (and, when configured, ``vendorName``).
- **Naming contexts**: OpenLDAP's ``namingContexts``; AD's ``defaultNamingContext`` (its other contexts hold
  the configuration, the schema and DNS).
- **Where users and groups live**: every entry of the map's classes (``inetOrgPerson`` and ``groupOfNames``;
  AD: ``user`` entries that are people, and ``group``) is counted by the entry that holds it, and the OUs
  with the usual names (``ou=people``, ``ou=users``, ``ou=groups``; AD's ``CN=Users`` container) are
  candidates even while empty, as on a fresh directory. The best candidate holds the most entries; among
  equals, a usual name, then an OU. On AD the domain's critical system objects (``isCriticalSystemObject``:
  Administrator, krbtgt, Guest, the built-in groups) are not counted.
- **Controls and overlays**: ppolicy, server-side sorting with the virtual list view (OpenLDAP's sssvlv)
  and the assertion control from ``supportedControl``; when the bind DN may read ``cn=config``, the
  overlays of the database holding the naming context (``olcOverlay``: memberof, refint, dynlist, unique,
  ...), which no control shows. Unreadable, those stay unknown.
- **The bridge's schema** (``scim-bridge.schema``): ``scimBridgeObject`` and the attributes the shipped map
  uses, in the subschema entry.
- **A password policy that locks** (``pwdLockout: TRUE``), without which ppolicy's lock refuses no bind.

The reads themselves are :mod:`bridge.directory.ldap.survey`'s (every filter rendered by
:func:`bridge.directory.ldap.render.render_filter`); nothing here writes but :func:`can_write`, through
check-config's own probe entry, added and deleted.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from bridge.directory.base import DirFilter, Eq, Negation, all_of, any_of
from bridge.directory.dn import dn_key
from bridge.directory.ldap import survey
from bridge.directory.ldap.controls import ASSERTION, SORT_REQUEST, VLV_REQUEST
from bridge.directory.ldap.flavors import FLAVORS
from bridge.directory.ldap.probe import PPOLICY_CONTROL, write_check

Run = Callable[[Callable[[Any], Any]], Any]  # ConnectionPool.execute: runs a read on a bound connection
Kind = Literal["openldap", "active_directory"]

AD_CAPABILITY = "1.2.840.113556.1.4.800"
# The schema the shipped OpenLDAP map needs beyond inetOrgPerson: scim-bridge.schema's class and the
# attributes its rows use (scimUserName and scimMemberOf serve other map shapes).
BRIDGE_CLASS = "scimBridgeObject"
BRIDGE_ATTRIBUTES = ("scimExternalId", "scimCostCenter", "scimDivision", "scimDisabledAt")
USER_NAMES = ("people", "users", "accounts", "staff", "employees", "persons")
GROUP_NAMES = ("groups", "group")


@dataclass(frozen=True, slots=True)
class Base:
    """A candidate base: its DN, how many entries of the kind it holds directly, whether its name is a
    usual one (``ou=people``), and whether it is an OU."""

    dn: str
    count: int
    named: bool = False
    ou: bool = False


@dataclass(frozen=True, slots=True)
class Discovery:
    """What the directory is and offers, as the bind DN sees it."""

    kind: Kind
    vendor: str
    naming_contexts: tuple[str, ...]
    user_bases: tuple[Base, ...]  # best first
    group_bases: tuple[Base, ...]
    counted_all: bool  # False when a kind had more than survey.SCAN_LIMIT entries: counts of the first
    controls: frozenset[str]
    overlays: frozenset[str] | None  # None: the bind DN cannot read cn=config
    object_classes: frozenset[str]  # lower case
    attribute_types: frozenset[str]  # lower case
    lockout_policy: bool | None  # a visible password policy with pwdLockout: TRUE; None: none visible

    @property
    def bridge_schema(self) -> bool:
        """Whether scim-bridge.schema is loaded (its class and every attribute the shipped map uses)."""
        return BRIDGE_CLASS.lower() in self.object_classes and all(
            name.lower() in self.attribute_types for name in BRIDGE_ATTRIBUTES
        )

    def feature(self, name: str) -> bool | None:
        """Whether the directory offers ``name`` (an overlay or control); None when that cannot be seen."""
        if name == "ppolicy" and PPOLICY_CONTROL in self.controls:
            return True
        if name == "sssvlv" and {SORT_REQUEST, VLV_REQUEST} <= self.controls:
            return True
        if name == "assertion":
            return ASSERTION in self.controls
        if self.overlays is None:
            return False if name in ("ppolicy", "sssvlv") else None
        return name in self.overlays

    def has_class(self, name: str) -> bool:
        return name.lower() in self.object_classes

    def has_attribute(self, name: str) -> bool:
        return name.lower() in self.attribute_types


def kind_of(root: dict[str, list[str]]) -> Kind | None:
    """``active_directory``, ``openldap``, or None for another directory."""
    if AD_CAPABILITY in root.get("supportedcapabilities", []):
        return "active_directory"
    classes = {value.lower() for value in root.get("objectclass", [])}
    vendor = " ".join(root.get("vendorname", [])).lower()
    if "openldaprootdse" in classes or "openldap" in vendor:
        return "openldap"
    return None


def _vendor(kind: Kind, root: dict[str, list[str]]) -> str:
    """``OpenLDAP`` or ``Active Directory``, with the vendor's own name and version when it gives them."""
    label = "OpenLDAP" if kind == "openldap" else "Active Directory"
    own = " ".join(root.get("vendorname", []) + root.get("vendorversion", []))
    return f"{label} ({own})" if own else label


def named_filter(names: Iterable[str], kind: Kind) -> DirFilter:
    """OUs with one of ``names`` (on AD also containers: ``CN=Users``)."""
    named: list[DirFilter] = [Eq("ou", name) for name in names]
    classes: list[DirFilter] = [Eq("objectClass", "organizationalUnit")]
    if kind == "active_directory":
        named += [Eq("cn", name) for name in names]
        classes.append(Eq("objectClass", "container"))
    return all_of(any_of(*classes), any_of(*named))


def user_filter(kind: Kind) -> DirFilter:
    """The entries the shipped map serves as users (AD's critical system accounts left out)."""
    if kind == "active_directory":
        return all_of(Eq("objectCategory", "person"), Eq("objectClass", "user"), _not_critical())
    return Eq("objectClass", "inetOrgPerson")


def group_filter(kind: Kind) -> DirFilter:
    """The entries the shipped map serves as groups (AD's built-in groups left out)."""
    if kind == "active_directory":
        return all_of(Eq("objectClass", "group"), _not_critical())
    return Eq("objectClass", "groupOfNames")


def _not_critical() -> DirFilter:
    return Negation(Eq("isCriticalSystemObject", "TRUE"))


def rank(counts: Counter[str], named: Iterable[str]) -> tuple[Base, ...]:
    """Candidate bases, best first: the most entries, then a usual name, then an OU."""
    candidates: dict[str, Base] = {}
    named_keys = {dn_key(dn): dn for dn in named}
    for dn, count in counts.items():
        candidates[dn_key(dn)] = Base(dn, count)
    for key, dn in named_keys.items():
        found = candidates.get(key)
        candidates[key] = Base(found.dn if found else dn, found.count if found else 0)
    ranked = [
        Base(c.dn, c.count, dn_key(c.dn) in named_keys, dn_key(c.dn).startswith("ou="))
        for c in candidates.values()
    ]
    ranked.sort(key=lambda c: (-c.count, not c.named, not c.ou, dn_key(c.dn)))
    return tuple(ranked)


def discover(run: Run, kind: Kind | None = None) -> Discovery:
    """Everything :class:`Discovery` holds; ``kind`` overrides what the root DSE says. Raises ValueError
    when the directory is neither OpenLDAP nor Active Directory and no ``kind`` is given."""
    root: dict[str, list[str]] = run(survey.read_root)
    kind = kind or kind_of(root)
    if kind is None:
        raise ValueError("the root DSE names neither OpenLDAP nor Active Directory")
    if kind == "active_directory":
        contexts = tuple(root.get("defaultnamingcontext", [])[:1])
    else:
        contexts = tuple(root.get("namingcontexts", []))
    subentry = next(iter(root.get("subschemasubentry", [])), "")
    classes, attributes = (
        run(functools.partial(survey.read_schema, subentry=subentry))
        if subentry
        else (frozenset(), frozenset())
    )
    complete = True
    found: dict[str, tuple[Base, ...]] = {}
    for what, flt, names in (
        ("users", user_filter(kind), USER_NAMES),
        ("groups", group_filter(kind), GROUP_NAMES),
    ):
        counts: Counter[str] = Counter()
        named: list[str] = []
        for context in contexts:
            counted, whole = run(functools.partial(survey.count_by_parent, base=context, flt=flt))
            counts.update(counted)
            complete = complete and whole
            named += run(functools.partial(survey.dns_matching, base=context, flt=named_filter(names, kind)))
        found[what] = rank(counts, named)
    overlays = run(functools.partial(survey.read_overlays, contexts=contexts)) if kind == "openldap" else None
    lockout = run(functools.partial(survey.read_lockout, contexts=contexts)) if kind == "openldap" else None
    return Discovery(
        kind=kind,
        vendor=_vendor(kind, root),
        naming_contexts=contexts,
        user_bases=found["users"],
        group_bases=found["groups"],
        counted_all=complete,
        controls=frozenset(root.get("supportedcontrol", [])),
        overlays=overlays,
        object_classes=classes,
        attribute_types=attributes,
        lockout_policy=lockout,
    )


def exists(run: Run, dn: str) -> bool:
    """Whether the bind DN sees an entry ``dn``."""
    return bool(run(functools.partial(survey.exists, dn=dn)))


def can_write(run: Run, base: str, kind: Kind) -> str | None:
    """None when the bind DN may add and delete entries under ``base`` (check-config's probe entry, added
    and deleted), else the directory's reason."""
    (finding,) = write_check(run, base, FLAVORS[kind])
    return None if finding.level == "ok" else finding.text
