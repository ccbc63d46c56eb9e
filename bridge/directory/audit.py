"""An audit trail of every directory write, around any Directory adapter.

One JSON line per write on the ``bridge.audit`` logger: the operation, the DN, the names of the
attributes written and the outcome. Values are never logged, so passwords cannot leak through here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from bridge.directory.base import Entry, Expect, Modification
from bridge.directory.delegate import DelegatingDirectory

audit = logging.getLogger("bridge.audit")


class AuditedDirectory(DelegatingDirectory):
    """Delegates to ``inner`` and logs each add, modify, move and delete."""

    @contextmanager
    def _audit(self, operation: str, dn: str, attributes: Sequence[str], **more: str) -> Iterator[None]:
        started = time.monotonic()
        fields = {"op": operation, "dn": dn, "attributes": sorted(set(attributes), key=str.lower), **more}
        try:
            yield
        except Exception as exc:
            fields.update(outcome="failed", error=type(exc).__name__)
            audit.warning("directory %s failed", operation, extra={**fields, "ms": _ms(started)})
            raise
        audit.info("directory %s", operation, extra={**fields, "outcome": "ok", "ms": _ms(started)})

    def add(
        self, parent: str, rdn: tuple[str, str], attributes: Mapping[str, Sequence[str]], read: Sequence[str]
    ) -> Entry:
        with self._audit("add", f"{rdn[0]}={rdn[1]},{parent}", list(attributes)):
            return self.inner.add(parent, rdn, attributes, read)

    def modify(
        self, dn: str, changes: Sequence[Modification], read: Sequence[str], *, expect: Expect = None
    ) -> Entry:
        if not changes:
            return self.inner.modify(dn, changes, read, expect=expect)  # a read, not a write
        with self._audit("modify", dn, [change.attribute for change in changes]):
            return self.inner.modify(dn, changes, read, expect=expect)

    def update(self, dn: str, changes: Sequence[Modification], *, expect: Expect = None) -> None:
        if changes:
            with self._audit("modify", dn, [change.attribute for change in changes]):
                self.inner.update(dn, changes, expect=expect)

    def move(self, dn: str, rdn: tuple[str, str] | None, parent: str, *, expect: Expect = None) -> str:
        new_rdn = f"{rdn[0]}={rdn[1]}" if rdn is not None else "(kept)"
        with self._audit("move", dn, [rdn[0]] if rdn else [], new_rdn=new_rdn, new_parent=parent):
            return self.inner.move(dn, rdn, parent, expect=expect)

    def delete(self, dn: str, *, expect: Expect = None) -> None:
        with self._audit("delete", dn, []):
            self.inner.delete(dn, expect=expect)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
