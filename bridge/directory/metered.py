"""Time and count every call to a Directory adapter, for the metrics (``bridge.http.observe``).

The observer gets the operation's name, whether it succeeded, and its duration in seconds; this module
knows nothing of how they are exported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from bridge.directory.base import Directory, DirFilter, Entry, Expect, Modification, SearchResult
from bridge.directory.delegate import DelegatingDirectory

Observer = Callable[[str, bool, float], None]


class _Timed:
    """Times the block it guards and reports it, a failure too (a class: a third of the cost of a
    generator made into a context manager, on every directory operation)."""

    __slots__ = ("_observe", "_operation", "_started")

    def __init__(self, observe: Observer, operation: str) -> None:
        self._observe = observe
        self._operation = operation

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._observe(self._operation, kind is None, time.perf_counter() - self._started)


class MeteredDirectory(DelegatingDirectory):
    """Delegates to ``inner``, reporting each operation to ``observe``."""

    def __init__(self, inner: Directory, observe: Observer) -> None:
        super().__init__(inner)
        self._observe = observe

    def _timed(self, operation: str) -> _Timed:
        return _Timed(self._observe, operation)

    def ping(self) -> None:
        with self._timed("ping"):
            self.inner.ping()

    def search(
        self,
        bases: Sequence[str],
        flt: DirFilter,
        attributes: Sequence[str],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> SearchResult:
        with self._timed("search"):
            return self.inner.search(bases, flt, attributes, offset=offset, limit=limit)

    def get_by_id(
        self, bases: Sequence[str], flt: DirFilter, entry_id: str, attributes: Sequence[str]
    ) -> Entry:
        with self._timed("get_by_id"):
            return self.inner.get_by_id(bases, flt, entry_id, attributes)

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        with self._timed("add"):
            return self.inner.add(parent, rdn, attributes, read)

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        with self._timed("modify"):
            return self.inner.modify(dn, changes, read, expect=expect)

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        with self._timed("update"):
            self.inner.update(dn, changes, expect=expect)

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        with self._timed("move"):
            return self.inner.move(dn, rdn, parent, expect=expect)

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        with self._timed("delete"):
            self.inner.delete(dn, expect=expect)


__all__ = ["MeteredDirectory", "Observer"]
