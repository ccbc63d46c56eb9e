"""What becomes of a user who leaves, as ``deprovisioning`` in the configuration says: how a user is
deleted (the groups let go of it), and the sweep that deletes users disabled too long ago
(``delete_after_days``). Where a disabled user lives is :meth:`bridge.services.scope.Places.parent_for`;
that its account stays locked, :func:`bridge.services.accounts.kept_locked`.

The user service decides when; this module does it, over the Directory port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.directory.base import Directory, Entry, Expect, Present, all_of
from bridge.mapping.engine import UserMapping
from bridge.scim.errors import Forbidden, NotFound, PreconditionFailed, ServerError, Unavailable
from bridge.services import events
from bridge.services.common import parse_generalized
from bridge.services.recent import EntryCache
from bridge.services.refusals import refusals
from bridge.services.safety import Safety
from bridge.services.scope import Places

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sweep:
    """What a sweep did: (DN, disabled since) of each user it deleted (or would, in a dry run), and why
    it stopped early, if it did (the circuit breaker)."""

    deleted: list[tuple[str, str]]
    stopped: str | None = None


class Deprovisioning:
    """Disabling, deleting and sweeping users: the steps, not the decision."""

    def __init__(
        self,
        directory: Directory,
        mapping: UserMapping,
        places: Places,
        *,
        safety: Safety,
        recent: EntryCache,
        forget: Callable[[Entry], None] | None,
        now: Callable[[], datetime],
    ) -> None:
        self._directory = directory
        self._mapping = mapping
        self._places = places
        self._safety = safety
        self._recent = recent
        self._forget = forget  # the groups let go of a deleted user
        self._now = now
        self._read = mapping.read_attributes

    def delete(self, entry: Entry, expect: Expect, *, by: str = "request") -> None:
        """Delete the user ``entry`` at version ``expect``; every group lets go of it."""
        with refusals("User", entry.id, self._mapping):
            self._directory.delete(entry.dn, expect=expect)
            self._recent.drop(entry.id)
            name = self._mapping.to_document(entry).get("userName")
            events.record("User", "delete", id=entry.id, name=name, dn=entry.dn, by=by)
            if self._forget is not None:
                self._forget(entry)  # a deleted user leaves every group

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
        condition = all_of(self._places.condition, Present(rule.since), self._mapping.active_filter(False))
        result = Sweep([])
        for entry in self._directory.search(self._places.bases, condition, (*self._read, rule.since)).entries:
            since = entry.first(rule.since) or ""
            moment = parse_generalized(since)
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
                    self.delete(entry, entry.version, by="sweep")
                except (NotFound, PreconditionFailed):
                    logger.info("not swept: %s was changed or deleted meanwhile", entry.dn)
                    continue
            result.deleted.append((entry.dn, since))
        return result


__all__ = ["Deprovisioning", "Sweep"]
