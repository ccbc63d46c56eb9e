"""The ``jti`` values of client assertions seen before, kept until their assertion expires (RFC 7523
section 3, item 7), so one assertion authenticates once.

Per instance, in memory, since the last start or reload: with several instances (or
``server.processes`` above 1) an assertion replayed to another instance is not recognised there. At most
:data:`MAX_ENTRIES` are kept; past that the oldest are forgotten first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from bridge.oauth.errors import Refused

MAX_ENTRIES = 100_000


class ReplayCache:
    def __init__(self, now: Callable[[], float] = time.time, max_entries: int = MAX_ENTRIES) -> None:
        self._now, self._max = now, max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()  # key -> exp
        self._lock = threading.Lock()

    def use(self, issuer: str, jti: str, expires: float) -> None:
        """Note ``jti`` of ``issuer`` as used until ``expires`` (epoch seconds); Refused ``replayed`` when
        it was used before and has not expired."""
        key = f"{issuer}\x00{jti}"
        with self._lock:
            now = self._now()
            while self._seen:  # entries are in order of arrival; expiry times roughly follow
                old, oldest = next(iter(self._seen.items()))
                if oldest >= now:
                    break
                del self._seen[old]
            until = self._seen.get(key)
            if until is not None and until >= now:
                raise Refused("replayed", "this assertion (jti) has been used already", jti=jti)
            self._seen[key] = expires
            self._seen.move_to_end(key)
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
