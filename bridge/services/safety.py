"""Guardrails on writes: a read-only mode, protected entries, and a deprovisioning circuit breaker.

The bridge holds write access to the directory every login depends on. These keep a bug, a wrong scope
in the identity provider or a bad cycle upstream from disabling the whole company:

- **read-only mode** refuses every write with 503 and ``Retry-After``, which clients such as Entra retry
  later, so no change is lost;
- **protected entries** (DNs, or an LDAP filter) are never modified, disabled or deleted: 403;
- **the circuit breaker** counts disables and deletes in a sliding window. One more than the limit
  trips it: the bridge adds an entry to the directory that says so, so every instance stops
  deprovisioning (503, and an error log line on every refusal) until an operator runs
  ``scim-ldap-bridge breaker release``, which deletes that entry. The window is counted by each
  instance on its own (docs/architecture.md, Principles 6): with N instances behind the proxy, up to N
  times the limit can pass before one of them trips.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from bridge.config import SafetyConfig
from bridge.directory.base import MATCH_ALL, Directory, DirFilter, Entry
from bridge.directory.errors import EntryAlreadyExists, NoSuchEntry
from bridge.directory.filterparse import parse_ldap_filter
from bridge.scim.errors import Forbidden, Unavailable

logger = logging.getLogger(__name__)
BREAKER_RDN = ("cn", "scim-ldap-bridge-breaker")
_READ_ONLY_RETRY = 300
_TRIPPED_RETRY = 600
_CLEAR_FOR = 5.0  # seconds


class Safety:
    """The guardrails of one bridge instance over ``directory`` (see the module docstring)."""

    def __init__(
        self,
        directory: Directory,
        config: SafetyConfig,
        *,
        user_base: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._config = config
        self._protected_dns = {directory.normalize_dn(dn).lower() for dn in config.protected_dns}
        self._protected: DirFilter | None = (
            parse_ldap_filter(config.protected_filter) if config.protected_filter else None
        )
        self._breaker_base = directory.normalize_dn(config.breaker_base or user_base)
        self.breaker_dn = f"{BREAKER_RDN[0]}={BREAKER_RDN[1]},{self._breaker_base}"
        self._clock = clock
        self._recent: deque[float] = deque()  # when this instance's recent disables and deletes were done
        self.seen_tripped = False  # what this instance last found, for the metrics
        self._clear_until = 0.0  # until then, a breaker found not tripped is taken as still not tripped

    def check_write(self) -> None:
        """Refuse any write in read-only mode."""
        if self._config.read_only:
            raise Unavailable(
                "the bridge is in read-only mode (safety.read_only): retry later",
                retry_after=_READ_ONLY_RETRY,
            )

    def check_entry(self, kind: str, entry: Entry) -> None:
        """Refuse a write to a protected entry (and any write in read-only mode)."""
        self.check_write()
        protected = entry.dn.lower() in self._protected_dns or (
            self._protected is not None
            and bool(self._directory.search([entry.dn], self._protected, (), limit=1).entries)
        )
        if protected:
            logger.warning("refused a write to the protected %s %s", kind.lower(), entry.dn)
            raise Forbidden(f"{kind} {entry.id} is protected (safety.protected_dns or protected_filter)")

    def deprovision(self, kind: str, entry: Entry) -> None:
        """Count a disable or delete of ``entry``, or refuse it while the breaker is tripped."""
        limit = self._config.deprovision_limit
        if not limit:
            return
        # The breaker entry is read at most every few seconds while it is not tripped: a disable costs
        # one LDAP operation less, and another instance's trip is seen within that time.
        now = self._clock()
        if now >= self._clear_until:
            reason = self.tripped()
            self._clear_until = now + _CLEAR_FOR if reason is None else 0.0
        else:
            reason = None
        if reason is not None:
            self._recent.clear()  # released later, the count starts afresh
            logger.error(
                "deprovisioning is paused by the circuit breaker: refused to disable or delete %s %s; "
                "check what the identity provider is doing, then run `scim-ldap-bridge breaker release`",
                kind.lower(),
                entry.dn,
                extra={"breaker": reason},
            )
            raise Unavailable(
                "deprovisioning is paused: too many disables and deletes in a short time; an operator "
                "must release the bridge's circuit breaker",
                retry_after=_TRIPPED_RETRY,
            )
        window = self._config.deprovision_window
        while self._recent and self._recent[0] <= now - window:
            self._recent.popleft()
        if len(self._recent) >= limit:
            self._trip(f"more than {limit} disables and deletes within {window} s")
            self._recent.clear()
            raise Unavailable(
                f"deprovisioning is paused: more than {limit} disables and deletes within {window} s; "
                "an operator must release the bridge's circuit breaker",
                retry_after=_TRIPPED_RETRY,
            )
        self._recent.append(now)

    def uncount(self) -> None:
        """Take back the last count: its request is being done again (from a fresh read) and counts then."""
        if self._recent:
            self._recent.pop()

    def tripped(self) -> str | None:
        """Why the breaker is tripped (its entry's description), or None when it is not."""
        found = self._directory.search([self.breaker_dn], MATCH_ALL, ("description",), limit=1).entries
        self.seen_tripped = bool(found)
        if not found:
            return None
        return found[0].first("description") or "tripped"

    def _trip(self, why: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        description = f"tripped at {stamp} on {socket.gethostname()}: {why}"
        rdn = BREAKER_RDN
        attributes = {
            "objectClass": ("organizationalRole",),
            rdn[0]: (rdn[1],),
            "description": (description,),
        }
        with contextlib.suppress(EntryAlreadyExists):  # another instance tripped it a moment ago
            self._directory.add(self._breaker_base, rdn, attributes, ())
        self.seen_tripped = True
        self._clear_until = 0.0
        logger.critical(
            "circuit breaker tripped: %s; every further disable and delete is refused until an operator "
            "runs `scim-ldap-bridge breaker release`",
            why,
            extra={"breaker_dn": self.breaker_dn},
        )

    def release(self) -> bool:
        """Release a tripped breaker; False when it was not tripped."""
        try:
            self._directory.delete(self.breaker_dn)
        except NoSuchEntry:
            return False
        logger.warning("circuit breaker released", extra={"breaker_dn": self.breaker_dn})
        return True


__all__ = ["BREAKER_RDN", "Safety"]
