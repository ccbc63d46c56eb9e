"""The base of the Directory wrappers (audit trail, metrics, dry run): every call goes to ``inner``, and
each wrapper overrides only the calls it changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bridge.directory.base import Directory, DirFilter, Entry, Expect, Modification, SearchResult


class DelegatingDirectory:
    """A :class:`Directory` that hands every call to ``inner`` unchanged."""

    def __init__(self, inner: Directory) -> None:
        self.inner = inner

    def normalize_dn(self, dn: str) -> str:
        return self.inner.normalize_dn(dn)

    def can_order(self, attribute: str) -> bool:
        return self.inner.can_order(attribute)

    def ping(self) -> None:
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
        return self.inner.search(bases, flt, attributes, offset=offset, limit=limit)

    def get_by_id(
        self, bases: Sequence[str], flt: DirFilter, entry_id: str, attributes: Sequence[str]
    ) -> Entry:
        return self.inner.get_by_id(bases, flt, entry_id, attributes)

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        return self.inner.add(parent, rdn, attributes, read)

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        return self.inner.modify(dn, changes, read, expect=expect)

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        self.inner.update(dn, changes, expect=expect)

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        return self.inner.move(dn, rdn, parent, expect=expect)

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        self.inner.delete(dn, expect=expect)


__all__ = ["DelegatingDirectory"]
