"""``check-config --probe``: what the configuration needs from the live directory, checked as the bridge's
own bind DN. Each check gives one line: ``ok``, ``warning`` (works, but not as well as it could) or
``problem`` (the bridge will fail). Nothing is left behind: the write check removes its probe entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from ldap3 import BASE, Connection
from ldap3.core.exceptions import LDAPException

from bridge.config import Settings
from bridge.directory.base import Eq
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.controls import ASSERTION, SORT_REQUEST, VLV_REQUEST
from bridge.directory.ldap.flavors import Flavor
from bridge.directory.ldap.render import make_dn, search_url
from bridge.directory.ldap.schema import read_attribute_types
from bridge.directory.ldap.servers import context_csn, naming_context
from bridge.mapping.model import MapSet

PPOLICY_CONTROL = "1.3.6.1.4.1.42.2.27.8.5.1"  # the password policy request control


@dataclass(frozen=True, slots=True)
class Finding:
    level: Literal["ok", "warning", "problem"]
    text: str


def _exists(conn: Connection, dn: str) -> bool:
    conn.search(dn, "(objectClass=*)", BASE, attributes=["1.1"])
    return bool(conn.result.get("result") == 0)


def _root(conn: Connection) -> dict[str, list[str]]:
    conn.search("", "(objectClass=*)", BASE, attributes=["supportedControl"])
    entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    attributes = entries[0]["attributes"] if entries else {}
    return {
        name: [str(v) for v in (value if isinstance(value, list) else [value])]
        for name, value in attributes.items()
    }


def _indexes(conn: Connection, suffix_hint: str) -> dict[str, set[str]] | None:
    """OpenLDAP's olcDbIndex of the database holding ``suffix_hint``, when the bind DN may read cn=config."""
    conn.search("cn=config", "(olcSuffix=*)", attributes=["olcSuffix", "olcDbIndex"])
    if conn.result.get("result") != 0:
        return None
    for item in conn.response or []:
        if item.get("type") != "searchResEntry":
            continue
        suffixes = [str(s).lower() for s in item["attributes"].get("olcSuffix", [])]
        if any(suffix_hint.lower().endswith(suffix) for suffix in suffixes):
            found: dict[str, set[str]] = {}
            for line in item["attributes"].get("olcDbIndex", []):
                names, _, kinds = str(line).partition(" ")
                for name in names.split(","):
                    found.setdefault(name.strip().lower(), set()).update(k.strip() for k in kinds.split(","))
            return found
    return None


def probe(settings: Settings, maps: MapSet, pool: ConnectionPool, flavor: Flavor) -> Iterator[Finding]:
    """Every check, in order; a failed bind ends it."""

    def run(work: Callable[[Connection], object]) -> object:
        return pool.execute(work)

    ldap = settings.ldap
    yield Finding("ok", f"bound to {', '.join(ldap.urls)} as {ldap.bind_dn}")
    root = run(_root)
    assert isinstance(root, dict)
    controls = set(root.get("supportedControl", []))
    bases = {"ldap.user_base": ldap.user_base}
    if ldap.group_base:
        bases["ldap.group_base"] = ldap.group_base
    if settings.deprovisioning.disabled_base:
        bases["deprovisioning.disabled_base"] = settings.deprovisioning.disabled_base
    if settings.safety.breaker_base:
        bases["safety.breaker_base"] = settings.safety.breaker_base
    missing = False
    for key, base in bases.items():
        if run(lambda conn, b=base: _exists(conn, b)):  # type: ignore[misc]
            yield Finding("ok", f"{key} {base} exists")
        else:
            missing = True
            yield Finding("problem", f"{key} {base} does not exist, or the bind DN cannot see it")
    if not missing:
        yield from write_check(run, ldap.user_base, flavor)
        if ldap.uniqueness == "directory" and flavor.name == "openldap":
            yield from _uniqueness_check(run, ldap.user_base, maps.user.rdn.ldap)
    if flavor.name == "openldap":
        yield from _openldap_checks(run, settings, maps, controls)
    if flavor.name == "openldap" and len(ldap.urls) > 1:
        yield from _replication_check(pool, ldap.user_base)
    if {SORT_REQUEST, VLV_REQUEST} <= controls:
        yield Finding("ok", "server-side sorting and virtual list view: long lists are cut by the directory")
    else:
        yield Finding(
            "warning",
            "no server-side sorting and virtual list view (OpenLDAP: the sssvlv overlay): a page of a list "
            "longer than 500 entries costs the bridge the whole list",
        )


def _has_context_csn(base: str) -> Callable[[Connection], bool]:
    """Whether a server keeps a contextCSN on the naming context holding ``base``: syncprov's, so it takes
    part in replication."""

    def read(conn: Connection) -> bool:
        suffix = naming_context(conn, base)
        return bool(suffix and context_csn(conn, suffix))

    return read


def _replication_check(pool: ConnectionPool, base: str) -> Iterator[Finding]:
    """Servers of ``ldap.urls`` that replicate: every instance must list them in the same order. Each
    instance writes to and reads from the first that answers; two that list them in different orders would
    each miss, as long as replication lags, what the other has just written (a 404 for a user just
    created). Only this instance's configuration is seen here, so it is a reminder, not a comparison."""
    replicating = [url for url, has in pool.on_each_server(_has_context_csn(base)) if has]
    if len(replicating) > 1:
        yield Finding(
            "warning",
            f"{', '.join(replicating)} replicate (a contextCSN on each): list ldap.urls in the same order "
            "on every instance of the bridge, so that all write to and read from the same server and each "
            "sees the others' writes at once",
        )


def write_check(
    run: Callable[[Callable[[Connection], object]], object], base: str, flavor: Flavor
) -> Iterator[Finding]:
    """Whether the bind DN may add and delete entries under ``base``: a probe entry is added and deleted
    (``check-config --probe``, and ``init`` before it writes a configuration)."""
    name = f"scim-ldap-bridge-probe-{secrets.token_hex(4)}"
    dn = make_dn(("cn", name), base)
    object_class = "container" if flavor.name == "active_directory" else "organizationalRole"

    def add(conn: Connection) -> tuple[bool, str]:
        conn.add(dn, [object_class], {"cn": name})
        ok = conn.result.get("result") == 0
        reason = str(conn.result.get("description"))
        if ok:
            conn.delete(dn)
            if conn.result.get("result") != 0:
                return (
                    False,
                    f"added {dn} but could not delete it ({conn.result.get('description')}): remove it",
                )
        return ok, reason

    added = run(add)
    assert isinstance(added, tuple)
    if added[0]:
        yield Finding("ok", f"the bind DN may add and delete entries under {base} (a probe entry, removed)")
    else:
        yield Finding("problem", f"the bind DN cannot write under {base}: {added[1]}")


def _uniqueness_check(
    run: Callable[[Callable[[Connection], object]], object], base: str, attribute: str
) -> Iterator[Finding]:
    """``ldap.uniqueness: directory`` trusts the directory to refuse a second entry with the same naming
    value: two probe entries (organizationalRole + extensibleObject, any attribute allowed) with the same
    ``attribute`` value and different DNs are added; the second must be refused. Both are removed."""
    value = f"scim-ldap-bridge-probe-{secrets.token_hex(4)}"
    names = [f"{value}-{n}" for n in (1, 2)]

    def check(conn: Connection) -> tuple[str, str]:
        added: list[str] = []
        try:
            for name in names:
                dn = make_dn(("cn", name), base)
                conn.add(dn, ["organizationalRole", "extensibleObject"], {"cn": name, attribute: value})
                code, why = conn.result.get("result"), str(conn.result.get("message") or "")
                if code == 19 and added:  # constraintViolation, from the unique overlay
                    return "refused", why
                if code != 0:
                    return "error", why or str(conn.result.get("description"))
                added.append(dn)
            return "accepted", ""
        finally:
            for dn in reversed(added):
                conn.delete(dn)

    outcome = run(check)
    assert isinstance(outcome, tuple)
    if outcome[0] == "refused":
        yield Finding("ok", f"ldap.uniqueness: directory: the directory refuses a second {attribute} value")
    elif outcome[0] == "accepted":
        yield Finding(
            "problem",
            f"ldap.uniqueness is directory, but the directory accepted two entries with the same "
            f"{attribute}: load slapd's unique overlay on it, or set ldap.uniqueness: bridge",
        )
    else:
        yield Finding("problem", f"cannot probe ldap.uniqueness: directory: {outcome[1]}")


def _dynlist_check(
    run: Callable[[Callable[[Connection], object]], object], base: str, object_class: str, url_attribute: str
) -> Iterator[Finding]:
    """Whether slapd expands a group's search URLs into ``member`` (the dynlist overlay): a probe group
    whose URL finds the probe itself is added, read and deleted."""
    name = f"scim-ldap-bridge-probe-{secrets.token_hex(4)}"
    dn = make_dn(("cn", name), base)

    def check(conn: Connection) -> tuple[str, str]:
        try:
            conn.add(dn, [object_class], {"cn": name, url_attribute: search_url(base, Eq("cn", name))})
        except LDAPException as exc:
            return "add", str(exc)
        if conn.result.get("result") != 0:
            return "add", str(conn.result.get("description"))
        conn.search(dn, "(objectClass=*)", BASE, attributes=["member"])
        shown = bool(conn.response and conn.response[0].get("attributes", {}).get("member"))
        conn.delete(dn)
        return ("shown" if shown else "hidden"), ""

    outcome = run(check)
    assert isinstance(outcome, tuple)
    if outcome[0] == "add":
        yield Finding(
            "problem",
            f"cannot add a {object_class} group with {url_attribute} under {base}: {outcome[1]} "
            "(load dyngroup.schema)",
        )
    elif outcome[0] == "shown":
        yield Finding("ok", f"the dynlist overlay shows a group's member from its {url_attribute}")
    else:
        yield Finding(
            "warning",
            f"no dynlist overlay expands {url_attribute}: the bridge works, but LDAP readers see no member "
            "on its groups (docs/groups.md: Membership on the members)",
        )


def _openldap_checks(
    run: Callable[[Callable[[Connection], object]], object],
    settings: Settings,
    maps: MapSet,
    controls: set[str],
) -> Iterator[Finding]:
    active = maps.user.active
    if active is not None and active.method == "ppolicy":
        if PPOLICY_CONTROL in controls:
            yield Finding("ok", "ppolicy overlay present (the map disables with pwdAccountLockedTime)")
        else:
            yield Finding(
                "problem",
                "the map disables with ppolicy, but the directory offers no password policy: load the "
                "ppolicy overlay with a policy that has pwdLockout: TRUE, or choose another disable method",
            )
    found = run(read_attribute_types)
    types = set(found) if isinstance(found, dict) else set()
    if active is not None and active.since and active.since.lower() not in types:
        yield Finding(
            "problem",
            f"the map records disable times in {active.since}, which the schema lacks: "
            "load scim-bridge.schema",
        )
    if "scimexternalid" not in types and any(r.ldap.lower() == "scimexternalid" for r in maps.user.rules):
        yield Finding("problem", "the map uses scimExternalId: load config/schema/scim-bridge.schema")
    group = maps.group
    if group is not None and group.integrity == "overlay":
        yield Finding(
            "warning",
            "the group map relies on the refint overlay (integrity: overlay), which cannot be seen from "
            "outside: make sure it is loaded with the member attribute, or use integrity: bridge",
        )
    rule = group.members if group is not None else None
    if group is not None and rule is not None and rule.on_members and settings.ldap.group_base:
        if rule.attribute.lower() not in types:
            yield Finding(
                "problem",
                f"the group map keeps membership in {rule.attribute}, which the schema lacks: "
                "load scim-bridge.schema",
            )
        yield from _dynlist_check(run, settings.ldap.group_base, group.object_classes[0], rule.url_attribute)
    if ASSERTION in controls:
        yield Finding("ok", "assertion control: If-Match is checked in the same operation as the write")
    indexes = run(lambda conn: _indexes(conn, settings.ldap.user_base))
    if indexes is None:
        yield Finding("warning", "cannot read cn=config as the bind DN: index check skipped")
        return
    assert isinstance(indexes, dict)
    wanted = {maps.user.rdn.ldap.lower(), "entryuuid"}
    wanted |= {
        r.ldap.lower() for r in maps.user.rules if r.target.attribute.name in ("userName", "externalId")
    }
    if group is not None and group.members is not None:
        wanted.add(group.members.attribute.lower())
    for name in sorted(wanted):
        if "eq" in indexes.get(name, set()):
            yield Finding("ok", f"{name} has an equality index")
        else:
            yield Finding("warning", f"{name} has no equality index: lookups by it read every entry")


__all__ = ["Finding", "probe", "write_check"]
