"""The entries one instance read or wrote last, so that a write need not read its entry first.

Entra writes to a user right after creating or reading it (POST then PATCH; GET then PATCH active=false)
and renames a group it has just looked up. Each of those writes would otherwise begin with a search by
id, because a SCIM id (entryUUID) does not give the DN. Instead, a write starts from the entry this
instance saw last and asserts, in the write itself, that the entry is still that one: its version
(entryCSN, the RFC 4528 assertion control). (A member change needs no remembered group: it finds the
group by id in the search that resolves the member ids.) Anything changed meanwhile, by another
instance, an administrator or slapd itself, fails the assertion, and the request reads the entry afresh
and does what it would have done without this cache. The directory stays the only state; any number of
instances can run side by side.

The cache holds at most ``size`` entries (least recently used go first), so memory does not grow with
the number of users.

With ``server.processes`` > 1 the worker processes share one table (:class:`SharedEntries`, made by the
parent before it forks them), so a PATCH that lands on another worker than the POST before it still
starts from the entry the POST answered: the kernel hands each new connection to whichever worker
accepts it first, and Entra keeps no user on one connection. Entries are copied in and out of the table
(``marshal``, whose format only this interpreter, in these processes, ever reads), so a worker never
holds a reference into memory another one writes.
"""

from __future__ import annotations

import hashlib
import marshal
import mmap
import multiprocessing
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from bridge.directory.base import Entry

DEFAULT_SIZE = 1024


class EntryCache(Protocol):
    """What a service needs of the entries it remembers: :class:`Recent` or a :class:`SharedEntries` view."""

    def get(self, entry_id: str) -> Entry | None: ...

    def put(self, entry: Entry) -> None: ...

    def drop(self, entry_id: str) -> None: ...


def local(scope: str) -> EntryCache:
    """The entries one process remembers (the default: one process, or tests)."""
    return Recent()


def _keep(entry: Entry) -> bool:
    """An entry can be remembered once it has an id and a version to assert."""
    return bool(entry.id and entry.version)


class Recent:
    """Entries by SCIM id, bounded, shared by the threads serving requests."""

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
        if not _keep(entry) or self._size <= 0:
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


class SharedEntries:
    """Entries remembered in memory shared by the worker processes of one server.

    Made by the parent before it forks the workers, which inherit the mapping (anonymous, shared) and
    its lock (a semaphore in shared memory). The table is ``slots`` slots of ``slot_size`` bytes, in sets
    of ``ways``: an entry's set comes from a hash of its key, and a new entry takes the slot of its set
    used least recently, so the table keeps about the last ``slots`` entries without any list to
    maintain. An entry larger than a slot is not kept (the write then reads it first, as without a cache).

    Each user of the table takes a :meth:`view` with a scope, the attributes its reads return: a worker
    that reloaded a map which reads more attributes does not start a write from an entry read without
    them, since its scope, and so its keys, differ.
    """

    _HEADER = struct.Struct("<QQI")  # the key's hash (0: empty), when last used, the payload's length
    _CLOCK = struct.Struct("<Q")
    _PATIENCE = 1.0

    def __init__(self, slots: int = 2048, slot_size: int = 4096, ways: int = 4) -> None:
        if slots % ways or slot_size <= self._HEADER.size:
            raise ValueError("slots must be a multiple of ways, and a slot larger than its header")
        self._slot_size, self._ways, self._sets = slot_size, ways, slots // ways
        self._memory = mmap.mmap(-1, mmap.PAGESIZE + slots * slot_size)  # MAP_SHARED | MAP_ANONYMOUS
        self._lock = multiprocessing.get_context("fork").Lock()

    def view(self, scope: str) -> SharedRecent:
        return SharedRecent(self, scope)

    def _slot(self, offset: int) -> tuple[int, int, int]:
        key, used, length = self._HEADER.unpack_from(self._memory, offset)
        return key, used, length

    def _offsets(self, key: int) -> range:
        start = mmap.PAGESIZE + (key % self._sets) * self._ways * self._slot_size
        return range(start, start + self._ways * self._slot_size, self._slot_size)

    def _tick(self) -> int:
        now = int(self._CLOCK.unpack_from(self._memory, 0)[0]) + 1
        self._CLOCK.pack_into(self._memory, 0, now)
        return now

    @contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """Whether this process holds the table's lock. It is held for a copy of a few KiB; a worker
        killed while holding it (SIGKILL) would leave it held for good, so past a second each use gives
        up and acts as a miss, and the others keep serving (their supervisor stops them all anyway)."""
        held = self._lock.acquire(timeout=self._PATIENCE)
        try:
            yield held
        finally:
            if held:
                self._lock.release()

    def read(self, key: int) -> bytes | None:
        with self._exclusive() as held:
            for offset in self._offsets(key) if held else ():
                found, _, length = self._slot(offset)
                if found == key:
                    self._HEADER.pack_into(self._memory, offset, key, self._tick(), length)
                    start = offset + self._HEADER.size
                    return self._memory[start : start + length]
        return None

    def write(self, key: int, payload: bytes) -> None:
        """Keep ``payload`` under ``key``, or, when it does not fit a slot, forget ``key``."""
        fits = len(payload) <= self._slot_size - self._HEADER.size
        with self._exclusive() as held:
            if not held:
                return
            offsets = self._offsets(key)
            slot = next((o for o in offsets if self._slot(o)[0] == key), None)
            if not fits:
                if slot is not None:
                    self._HEADER.pack_into(self._memory, slot, 0, 0, 0)
                return
            if slot is None:
                slot = min(offsets, key=lambda o: self._slot(o)[1])  # an empty slot's use is 0
            self._HEADER.pack_into(self._memory, slot, key, self._tick(), len(payload))
            start = slot + self._HEADER.size
            self._memory[start : start + len(payload)] = payload

    def forget(self, key: int) -> None:
        """Forget ``key`` (a deleted entry). Without the lock nothing is read from the table either, and a
        write from a forgotten entry would fail its assertion anyway."""
        with self._exclusive() as held:
            for offset in self._offsets(key) if held else ():
                if self._slot(offset)[0] == key:
                    self._HEADER.pack_into(self._memory, offset, 0, 0, 0)


class SharedRecent:
    """The :class:`EntryCache` of one scope over a :class:`SharedEntries` table."""

    def __init__(self, table: SharedEntries, scope: str) -> None:
        self._table = table
        self._scope = hashlib.blake2b(scope.encode(), digest_size=16).digest()

    def _key(self, entry_id: str) -> tuple[int, str]:
        name = entry_id.lower()
        digest = hashlib.blake2b(name.encode(), digest_size=8, key=self._scope).digest()
        return int.from_bytes(digest, "little") or 1, name

    def get(self, entry_id: str) -> Entry | None:
        key, name = self._key(entry_id)
        payload = self._table.read(key)
        if payload is None:
            return None
        # Only these processes write this memory (anonymous, not a file): it holds our own dumps.
        scope, dn, parent, found, attributes, version = marshal.loads(payload)  # noqa: S302
        if scope != self._scope or found.lower() != name:  # two keys with one hash: no entry for either
            return None
        return Entry(dn=dn, parent=parent, id=found, attributes=attributes, version=version)

    def put(self, entry: Entry) -> None:
        if not _keep(entry):
            return
        key = self._key(entry.id)[0]
        record = (self._scope, entry.dn, entry.parent, entry.id, dict(entry.attributes), entry.version)
        try:
            payload = marshal.dumps(record)
        except ValueError:  # a value that is not str or bytes: not kept, and no older version either
            self._table.forget(key)
            return
        self._table.write(key, payload)

    def drop(self, entry_id: str) -> None:
        self._table.forget(self._key(entry_id)[0])


class Stale(Exception):
    """A request that started from a remembered entry wrote nothing, so nothing asserted that the entry
    was current: it must be done again from a fresh read."""


__all__ = ["DEFAULT_SIZE", "EntryCache", "Recent", "SharedEntries", "SharedRecent", "Stale", "local"]
