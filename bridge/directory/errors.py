"""Directory errors: what went wrong in the directory, independent of ldap3.

The LDAP adapter translates ldap3 results and exceptions into these at one choke point
(``ldap/connection.py``); the HTTP layer maps them to SCIM responses. ``reason`` is written for a
human and may be shown to the client: it never holds a DN's secret attribute values or a password.
"""

from __future__ import annotations


class DirectoryError(Exception):
    """Base of every directory failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoSuchEntry(DirectoryError):
    """The entry (or its parent, on add and move) does not exist."""


class EntryAlreadyExists(DirectoryError):
    """An entry with that DN exists already."""


class ConstraintViolation(DirectoryError):
    """The directory refused a value: schema, syntax, object class, or a server constraint."""


class InsufficientAccess(DirectoryError):
    """The bridge's bind DN may not do this."""


class NotAllowed(DirectoryError):
    """The directory refused the operation itself (for example deleting a non-leaf entry)."""


class Changed(DirectoryError):
    """The entry is no longer at the version the write expected: someone changed it meanwhile."""


class DirectoryUnavailable(DirectoryError):
    """No directory server answered in time, or the bind failed; retry later. ``why`` names the kind in
    a few fixed words (``unreachable``, ``bind refused``, ``timeout``, ``busy``): /readyz shows it, since
    it holds no DN, URL or message of the directory's."""

    def __init__(self, reason: str, why: str = "unreachable") -> None:
        super().__init__(reason)
        self.why = why
