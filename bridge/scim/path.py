"""PATCH operation paths, ``attrPath / valuePath [subAttr]`` (RFC 7644 section 3.5.2)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from bridge.scim.errors import InvalidFilter, InvalidPath
from bridge.scim.filter import Filter, parse_path_parts

MAX_PATH_LENGTH = 1024
"""Characters in one PATCH path (or path-less value key), at most. The longest Entra sends is an
extension attribute with its URN, under 100 characters, or ``members[value eq "<id>"]`` [D1][D2];
a path holds at most one value filter, nested at most ``filter.MAX_FILTER_DEPTH`` levels."""


@dataclass(frozen=True, slots=True)
class Path:
    """A PATCH target: an attribute, maybe a value filter, maybe a sub-attribute (RFC 7644 section 3.5.2)."""

    uri: str | None
    attr: str
    filter: Filter | None
    sub: str | None


def parse_path(text: str, *, max_length: int = MAX_PATH_LENGTH) -> Path:
    """Parse the ``path`` of a PATCH operation, names as written (RFC 7644 section 3.5.2)."""
    if len(text) > max_length:
        raise InvalidPath(f"the path is {len(text)} characters long; the limit is {max_length}")
    if not text.strip():
        raise InvalidPath("the path is empty")
    return _parsed(text)


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Path:
    """A path parsed once: Entra sends the same few in every PATCH (``title``, the enterprise
    ``department``, ``members``), and a ``Path`` is immutable. A path that fails raises each time."""
    try:
        attr_path, flt, sub = parse_path_parts(text)
    except InvalidFilter as exc:
        # One parser serves filters and paths, so its errors are re-typed for the PATCH caller.
        raise InvalidPath(f"invalid path: {exc.detail}") from exc
    if flt is None:
        return Path(attr_path.uri, attr_path.attr, None, attr_path.sub)
    return Path(attr_path.uri, attr_path.attr, flt, sub)
