"""The entries one instance read or wrote last, so that a write need not read its entry first.

Entra writes to a user right after creating or reading it (POST then PATCH; GET then PATCH active=false)
and adds members to a group it has just created or looked up. Each of those writes would otherwise begin
with a search by id, because a SCIM id (entryUUID) does not give the DN. Instead, a write starts from the
entry this instance saw last and asserts, in the write itself, that the entry is still that one: its
version (entryCSN, the RFC 4528 assertion control) for a write computed from the entry's attributes, or
its id for a member change, which depends on nothing else. Anything changed meanwhile, by another
instance, an administrator or slapd itself, fails the assertion, and the request reads the entry afresh
and does what it would have done without this cache. The directory stays the only state; any number of
instances can run side by side.

The cache holds at most ``size`` entries (least recently used go first), so memory does not grow with
the number of users.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from bridge.directory.base import Entry

DEFAULT_SIZE = 1024


class Recent:
    """Entries by SCIM id, bounded, shared by the worker threads."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, entry_id: str) -> Entry | None:
        key = entry_id.lower()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, entry: Entry) -> None:
        """Remember ``entry`` as read or written just now (one without an id or version is not kept)."""
        if not entry.id or not entry.version or self._size <= 0:
            return
        key = entry.id.lower()
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, entry_id: str) -> None:
        with self._lock:
            self._entries.pop(entry_id.lower(), None)

    def __len__(self) -> int:
        return len(self._entries)


class Stale(Exception):
    """A request that started from a remembered entry wrote nothing, so nothing asserted that the entry
    was current: it must be done again from a fresh read."""


__all__ = ["DEFAULT_SIZE", "Recent", "Stale"]
