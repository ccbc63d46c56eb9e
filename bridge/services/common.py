"""What the user and the group services share: a page of a list, the version a write must find, and
the directory's timestamps as the client reads them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.directory.base import Entry
from bridge.scim.errors import PreconditionFailed


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: the resources on it and how many matched in all."""

    total: int
    resources: tuple[Any, ...]


def expected_version(kind: str, entry: Entry, if_match: Sequence[str] | None) -> str | None:
    """The version a write to ``entry`` must find, from the request's ``If-Match`` entity tags (their
    opaque values; RFC 7644 3.14): None when there is no condition (no header, or ``*``, which any
    existing resource meets). A tag that is not the entry's version is a 412 before anything is written;
    the write itself then asserts the version, so a change in between is a 412 too."""
    if if_match is None or "*" in if_match:
        return None
    if entry.version not in if_match:
        raise PreconditionFailed(f'{kind} {entry.id} has changed: its version is now W/"{entry.version}"')
    return entry.version


def parse_generalized(text: str) -> datetime | None:
    """RFC 4517 GeneralizedTime in UTC (``20261122083000Z``, fractions ignored) as a datetime."""
    core = text.split(".", maxsplit=1)[0].rstrip("Z")[:14]
    try:
        if len(core) == 14 and core.isascii() and core.isdigit():
            # The form every directory writes, read by slicing: strptime takes 20 times as long (6 µs),
            # and for 14 digits it accepts exactly the dates this does (tests/unit/test_generalized_time.py).
            year, month, day = int(core[:4]), int(core[4:6]), int(core[6:8])
            return datetime(year, month, day, int(core[8:10]), int(core[10:12]), int(core[12:]), tzinfo=UTC)
        moment = datetime.strptime(core, "%Y%m%d%H%M%S")  # shorter forms, as strptime reads them
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC)


def iso_time(generalized: str | None) -> str | None:
    """RFC 4517 GeneralizedTime (``20261122083000Z``) as ISO 8601 (``2026-11-22T08:30:00Z``)."""
    moment = parse_generalized(generalized) if generalized else None
    if moment is None:
        return None
    if moment.year < 1000:  # strftime's %Y does not pad (on glibc): kept as it was
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat().removesuffix("+00:00") + "Z"  # no fraction: parse_generalized drops it


__all__ = ["Page", "expected_version", "iso_time", "parse_generalized"]
