"""The :class:`bridge.directory.base.Directory` port over ldap3: OpenLDAP today, AD next.

Searches use the simple paged-results control (RFC 2696) so that no server size limit cuts a result
short, and hold at most one page of it in memory. A page of a list longer than one LDAP page is cut by
the directory where it can (server-side sorting and a virtual list view, OpenLDAP's sssvlv overlay), so
page 1,000 of 100,000 users costs the bridge 100 entries, not 100,000. An add or a modify carries the
post-read control (RFC 4527) where the server offers it (OpenLDAP does), so its own response holds the
entry as written, operational attributes (entryUUID, entryCSN, modifyTimestamp) included; elsewhere it
is followed by one base-scope read. Either way the client's answer is what the directory holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ldap3 import BASE, SUBTREE, Connection

from bridge.directory.base import (
    AllOf,
    DirFilter,
    Entry,
    Expect,
    Modification,
    Present,
    SearchResult,
)
from bridge.directory.dn import dn_key, first_rdn, normalize_dn, parent_dn
from bridge.directory.errors import Changed, NoSuchEntry
from bridge.directory.ldap import wire
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.controls import (
    POST_READ,
    SORT_REQUEST,
    VLV_REQUEST,
    Control,
    assertion_equal,
    list_view,
    post_read,
    read_list_view,
    read_post_read,
    sort_by,
)
from bridge.directory.ldap.flavors import OPENLDAP, Flavor
from bridge.directory.ldap.modify import send_modify, values_for
from bridge.directory.ldap.render import make_dn, make_rdn, render_filter
from bridge.directory.ldap.results import raise_for_result
from bridge.directory.ldap.schema import read_controls, read_ordering

_PAGE_SIZE = 500
_ANY_ENTRY = Present("objectClass")  # "(objectClass=*)": a base-scope read of one entry

logger = logging.getLogger(__name__)


def _outermost(bases: Sequence[str]) -> list[str]:
    """``bases`` without those inside another one: a subtree search of the outer one finds their
    entries already, and each entry must be counted once."""
    keys = [dn_key(base) for base in bases]
    kept: list[str] = []
    for index, (base, key) in enumerate(zip(bases, keys, strict=True)):
        inside = any(key.endswith("," + other) for other in keys if other != key)
        if not inside and key not in keys[:index]:
            kept.append(base)
    return kept


class LdapDirectory:
    """A directory reached through a :class:`ConnectionPool`."""

    def __init__(self, pool: ConnectionPool, flavor: Flavor = OPENLDAP) -> None:
        self._pool = pool
        self._flavor = flavor
        self._ordering: dict[str, bool] | None = None  # attribute (lower case) -> has an ORDERING rule
        self._controls: set[str] | None = None  # the controls the server supports (read once)
        self._post_reads: dict[tuple[str, ...], Control] = {}  # encoded once per attribute list
        # Active Directory answers a long multi-valued attribute in ranges, which ldap3 reads and follows.
        self._ranged = flavor.name == "active_directory"

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    def normalize_dn(self, dn: str) -> str:
        return normalize_dn(dn)

    def can_order(self, attribute: str) -> bool:
        if self._flavor.name == "active_directory":
            return True  # AD orders by syntax; its published schema names no matching rules at all
        if self._ordering is None:
            self._ordering = self._pool.execute(read_ordering, idempotent=True)
        return self._ordering.get(attribute.lower(), True)  # unknown to the schema: let the server say

    def ping(self) -> None:
        self._pool.ready()  # the probe's own connection: answers within its timeout, whatever the pool does

    def _attributes(self, read: Sequence[str]) -> list[str]:
        return list(dict.fromkeys([*read, self._flavor.id_attribute, self._flavor.version_attribute]))

    def _entry(self, item: Mapping[str, Any]) -> Entry:
        return self._entry_from(item["dn"], item["raw_attributes"])

    def _entry_from(self, dn: str, raw: Mapping[str, Sequence[bytes | str]]) -> Entry:
        """An entry from its DN and its values (raw bytes from a search; str or bytes from a post-read)."""
        attributes: dict[str, tuple[str, ...]] = {}
        entry_id = ""
        for name, values in raw.items():
            key = name.lower()
            octets = [value if isinstance(value, bytes) else str(value).encode("utf-8") for value in values]
            if key == self._flavor.id_attribute.lower():
                entry_id = self._flavor.decode_id(octets[0]) if octets else ""
            attributes[key] = tuple(value.decode("utf-8", "replace") for value in octets)
        normal = normalize_dn(dn)
        version = attributes.get(self._flavor.version_attribute.lower(), ("",))[0]
        return Entry(dn=normal, parent=parent_dn(normal), id=entry_id, attributes=attributes, version=version)

    def _supported(self) -> set[str]:
        if self._controls is None:
            self._controls = self._pool.execute(read_controls, idempotent=True)
        return self._controls

    def _post_read(self, read: Sequence[str]) -> list[Control]:
        if POST_READ not in self._supported():
            return []
        key = tuple(read)
        control = self._post_reads.get(key)
        if control is None:  # a map reads the same few attribute lists: encode each once (pyasn1 is slow)
            control = self._post_reads.setdefault(key, post_read(self._attributes(read)))
        return [control]

    def _written(self, conn: Connection, dn: str, read: Sequence[str]) -> Entry:
        """The entry just written: from the write's post-read response, else read back."""
        found = read_post_read(conn.result.get("controls"))
        return self._entry_from(dn, found) if found is not None else self._read(conn, dn, read)

    def _guard(self, conn: Connection, dn: str, expect: Expect, *, asserted: bool = True) -> list[Control]:
        """The controls that make a write to ``dn`` happen only at version ``expect``: an assertion
        where the server honours one (and ``asserted``), else a check just before the write (a narrow
        race remains)."""
        if expect is None:
            return []
        if self._flavor.asserts and asserted:
            return [assertion_equal(self._flavor.version_attribute, expect)]
        if self._read(conn, dn, ()).version != expect:
            raise Changed(f"{dn} changed since it was read")
        return []

    def _pages(
        self, conn: Connection, base: str, *, scope: str, flt: DirFilter, read: Sequence[str]
    ) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """The entries of a paged search, one LDAP page at a time, each with whether more follow."""
        cookie: bytes | None = None
        while True:
            wire.search(
                conn,
                base,
                scope,
                flt,
                self._attributes(read),
                paged_size=_PAGE_SIZE,
                paged_cookie=cookie,
                ranged=self._ranged,
            )
            if conn.result.get("result") == 32:  # the base itself is missing: nothing matches
                return
            raise_for_result(conn.result, f"search under {base}")
            controls = conn.result.get("controls") or {}
            cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            # Continuation references are left out: referrals are never chased.
            yield [item for item in conn.response or () if item.get("type") == "searchResEntry"], bool(cookie)
            if not cookie:
                return

    def _can_list_view(self) -> bool:
        if self._flavor.sort_key is None:
            return False
        first = self._controls is None
        able = {SORT_REQUEST, VLV_REQUEST} <= self._supported()
        if first and not able:
            logger.info(
                "the directory offers no server-side sort and virtual list view (OpenLDAP: the "
                "sssvlv overlay): pages of long lists are cut by the bridge, reading the whole list"
            )
        return able

    def _list_view_page(
        self, conn: Connection, base: str, flt: str, read: Sequence[str], *, offset: int, limit: int
    ) -> SearchResult | None:
        """Entries ``offset`` to ``offset + limit`` of the list sorted by the server, and its length;
        None when the server declines (too many sorts at once, no ORDERING rule)."""
        self._pool.retire(conn)  # only closing the connection frees the sorted list on the server
        assert self._flavor.sort_key is not None
        conn.search(
            base,
            flt,
            SUBTREE,
            attributes=self._attributes(read),
            controls=[sort_by(self._flavor.sort_key), list_view(offset + 1, limit)],
        )
        view = read_list_view(conn.result.get("controls"))
        if view is not None and (offset >= view.total or limit == 0):
            return SearchResult((), view.total)  # past the end (sssvlv answers that as an error) or a count
        if conn.result.get("result") != 0 or view is None or view.result != 0:
            logger.info(
                "the directory declined a sorted list view (%s%s): reading the whole list instead",
                conn.result.get("description"),
                f", list view result {view.result}" if view is not None else "",
            )
            return None
        found = [item for item in conn.response or () if item.get("type") == "searchResEntry"]
        return SearchResult(tuple(self._entry(item) for item in found[:limit]), view.total)

    def search(
        self,
        bases: Sequence[str],
        flt: DirFilter,
        attributes: Sequence[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> SearchResult:
        outermost = _outermost(bases)
        stop = None if limit is None else offset + limit

        def work(conn: Connection, view: bool) -> SearchResult | None:
            entries: list[Entry] = []
            seen = 0
            for base in outermost:
                for items, more in self._pages(conn, base, scope=SUBTREE, flt=flt, read=attributes):
                    if more and view and limit is not None and seen == 0 and len(outermost) == 1:
                        # A list longer than one LDAP page: let the server sort it and cut the page.
                        text = render_filter(flt)
                        return self._list_view_page(conn, base, text, attributes, offset=offset, limit=limit)
                    for item in items:
                        if seen >= offset and (stop is None or seen < stop):
                            entries.append(self._entry(item))
                        seen += 1
            return SearchResult(tuple(entries), seen)

        view = limit is not None and len(outermost) == 1 and self._can_list_view()
        result = self._pool.execute(lambda conn: work(conn, view), idempotent=True)
        if result is None:
            result = self._pool.execute(lambda conn: work(conn, False), idempotent=True)
        assert result is not None
        return result

    def get_by_id(
        self, bases: Sequence[str], flt: DirFilter, entry_id: str, attributes: Sequence[str]
    ) -> Entry:
        if not self._flavor.valid_id(entry_id):
            raise NoSuchEntry(f"no entry with id {entry_id!r}")
        wanted = AllOf((flt, self._flavor.id_filter(entry_id)))

        def work(conn: Connection) -> Entry | None:
            for base in _outermost(bases):
                found = self._first(conn, base, SUBTREE, wanted, attributes)
                if found is not None:
                    return found
            return None

        entry = self._pool.execute(work, idempotent=True)
        if entry is None:
            raise NoSuchEntry(f"no entry with id {entry_id}")
        return entry

    def _first(
        self, conn: Connection, base: str, scope: str, flt: DirFilter, read: Sequence[str]
    ) -> Entry | None:
        """The entry of a search that wants one (an id, a DN): a size limit of one instead of the
        paged-results control, whose encoding and decoding cost about 70 µs on every such request."""
        wire.search(conn, base, scope, flt, self._attributes(read), size_limit=1, ranged=self._ranged)
        code = conn.result.get("result")
        if code == 32:  # the base itself is missing: nothing matches
            return None
        if code != 4:  # sizeLimitExceeded: more than one matched, and the first came
            raise_for_result(conn.result, f"search under {base}")
        item = next((i for i in conn.response or () if i.get("type") == "searchResEntry"), None)
        return self._entry(item) if item is not None else None

    def _read(self, conn: Connection, dn: str, read: Sequence[str]) -> Entry:
        found = self._first(conn, dn, BASE, _ANY_ENTRY, read)
        if found is None:
            raise NoSuchEntry(f"{dn} vanished right after it was written")
        return found

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        dn = make_dn(rdn, parent)
        payload = {name: values_for(name, values) for name, values in attributes.items() if values}

        controls = self._post_read(read)

        def work(conn: Connection) -> Entry:
            wire.add(conn, dn, payload, controls)
            raise_for_result(conn.result, f"add {dn}")
            return self._written(conn, dn, read)

        return self._pool.execute(work)

    def _modify(
        self,
        conn: Connection,
        dn: str,
        changes: Sequence[Modification],
        expect: Expect,
        more: Sequence[Control] = (),
    ) -> None:
        asserted = not any(c.attribute.lower() in self._flavor.unasserted for c in changes)
        send_modify(conn, dn, changes, [*self._guard(conn, dn, expect, asserted=asserted), *more])

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        controls = self._post_read(read) if changes else []

        def work(conn: Connection) -> Entry:
            if not changes:
                return self._read(conn, dn, read)
            self._modify(conn, dn, changes, expect, controls)
            return self._written(conn, dn, read)

        return self._pool.execute(work)

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        if changes:
            self._pool.execute(lambda conn: self._modify(conn, dn, changes, expect))

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        new_rdn = make_rdn(rdn) if rdn is not None else first_rdn(dn)
        same_parent = dn_key(parent_dn(dn)) == dn_key(parent)

        def work(conn: Connection) -> str:
            conn.modify_dn(
                dn,
                new_rdn,
                delete_old_dn=True,
                new_superior=None if same_parent else parent,
                controls=self._guard(conn, dn, expect, asserted=self._flavor.asserts_moves) or None,
            )
            raise_for_result(conn.result, f"rename {dn}")
            return normalize_dn(f"{new_rdn},{parent}")

        return self._pool.execute(work)

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        def work(conn: Connection) -> None:
            conn.delete(dn, controls=self._guard(conn, dn, expect) or None)
            raise_for_result(conn.result, f"delete {dn}")

        self._pool.execute(work)
