"""Reads of a directory that say what it is and holds, for ``scim-ldap-bridge init``
(:mod:`bridge.ops.init.discover` decides what they mean): the root DSE, the names in the subschema, OpenLDAP's
overlays in ``cn=config``, the password policies, and where the entries of a kind are. Each function takes
a bound connection (``ConnectionPool.execute`` lends one) and only reads; every filter is rendered by
:func:`bridge.directory.ldap.render.render_filter`, every parent DN spelled by its helpers.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ldap3 import BASE, LEVEL, SUBTREE, Connection

from bridge.directory.base import DirFilter, Eq, Present
from bridge.directory.dn import dn_key, normalize_dn, parent_dn
from bridge.directory.errors import NoSuchEntry
from bridge.directory.ldap.render import render_filter

SCAN_LIMIT = 100_000  # entries counted per search at most: a guess needs no more
_PAGE = 500
_PAGED_RESULTS = "1.2.840.113556.1.4.319"
_ROOT_ATTRIBUTES = [
    "objectClass",
    "vendorName",
    "vendorVersion",
    "namingContexts",
    "defaultNamingContext",
    "supportedControl",
    "supportedCapabilities",
    "subschemaSubentry",
]
_NAME = re.compile(r"\bNAME\s+(?:'([^']+)'|\(([^)]*)\))")
_ANY = render_filter(Present("objectClass"))


def _values(raw: Iterable[Any]) -> list[str]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in raw]


def _entries(conn: Connection) -> list[tuple[str, dict[str, list[str]]]]:
    """The entries of the last search (continuation references left out), attribute names lower-cased."""
    return [
        (str(item["dn"]), {k.lower(): _values(v) for k, v in item.get("raw_attributes", {}).items()})
        for item in conn.response or ()
        if item.get("type") == "searchResEntry"
    ]


def read_root(conn: Connection) -> dict[str, list[str]]:
    """The root DSE's attributes that tell what the directory is (lower-case names)."""
    conn.search("", _ANY, BASE, attributes=_ROOT_ATTRIBUTES)
    found = _entries(conn)
    return found[0][1] if found else {}


def _names(definitions: Iterable[str]) -> frozenset[str]:
    """The lower-cased NAMEs of RFC 4512 schema definitions."""
    found: set[str] = set()
    for definition in definitions:
        match = _NAME.search(definition)
        if match:
            found.update(name.lower() for name in re.findall(r"'([^']+)'", match.group(0)))
    return frozenset(found)


def read_schema(conn: Connection, subentry: str) -> tuple[frozenset[str], frozenset[str]]:
    """The object classes and attribute types the directory knows (lower-cased names)."""
    conn.search(subentry, _ANY, BASE, attributes=["objectClasses", "attributeTypes"])
    found = _entries(conn)
    attributes = found[0][1] if found else {}
    return _names(attributes.get("objectclasses", [])), _names(attributes.get("attributetypes", []))


def read_overlays(conn: Connection, contexts: Sequence[str]) -> frozenset[str] | None:
    """OpenLDAP's overlays on the databases holding ``contexts``, from cn=config; None when the bind DN
    may not read it."""
    conn.search("cn=config", render_filter(Present("olcSuffix")), SUBTREE, attributes=["olcSuffix"])
    if conn.result.get("result") != 0:
        return None
    wanted = {dn_key(context) for context in contexts}
    databases = [
        dn for dn, attrs in _entries(conn) if wanted & {dn_key(s) for s in attrs.get("olcsuffix", [])}
    ]
    overlays: set[str] = set()
    for database in databases:
        conn.search(database, render_filter(Present("olcOverlay")), LEVEL, attributes=["olcOverlay"])
        for _, attrs in _entries(conn):
            overlays.update(re.sub(r"^\{\d+\}", "", name).lower() for name in attrs.get("olcoverlay", []))
    return frozenset(overlays)


def read_lockout(conn: Connection, contexts: Sequence[str]) -> bool | None:
    """Whether a password policy the bind DN can see has ``pwdLockout: TRUE``; None when it sees none."""
    seen = False
    for context in contexts:
        conn.search(
            context, render_filter(Eq("objectClass", "pwdPolicy")), SUBTREE, attributes=["pwdLockout"]
        )
        for _, attrs in _entries(conn):
            seen = True
            if [value.upper() for value in attrs.get("pwdlockout", [])] == ["TRUE"]:
                return True
    return False if seen else None


def count_by_parent(conn: Connection, base: str, flt: DirFilter) -> tuple[Counter[str], bool]:
    """How many entries matching ``flt`` each entry under ``base`` holds directly (paged, names only), and
    whether all were counted (at most SCAN_LIMIT are)."""
    counts: Counter[str] = Counter()
    cookie: bytes | None = None
    seen = 0
    text = render_filter(flt)
    while True:
        conn.search(base, text, SUBTREE, attributes=["1.1"], paged_size=_PAGE, paged_cookie=cookie)
        if conn.result.get("result") not in (0, 4):  # 4: sizeLimitExceeded, what was sent still counts
            return counts, True
        for dn, _ in _entries(conn):
            seen += 1
            with contextlib.suppress(NoSuchEntry):  # a DN the parser cannot read holds no candidate
                counts[parent_dn(dn)] += 1
        controls = conn.result.get("controls") or {}
        cookie = controls.get(_PAGED_RESULTS, {}).get("value", {}).get("cookie")
        if not cookie:
            return counts, True
        if seen >= SCAN_LIMIT:
            return counts, False


def dns_matching(conn: Connection, base: str, flt: DirFilter) -> list[str]:
    """The DNs (normalised) of the entries under ``base`` that match ``flt``."""
    conn.search(base, render_filter(flt), SUBTREE, attributes=["1.1"])
    return [normalize_dn(dn) for dn, _ in _entries(conn)]


def exists(conn: Connection, dn: str) -> bool:
    """Whether the bound DN sees an entry ``dn``."""
    conn.search(dn, _ANY, BASE, attributes=["1.1"])
    return bool(conn.result.get("result") == 0)
