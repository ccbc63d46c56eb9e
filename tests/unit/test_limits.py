"""The limits of the filter and path parsers that need no request: a value filter counts as one level of
nesting. Every other limit is checked at its boundary over HTTP in tests/http/test_limits.py."""

from __future__ import annotations

import pytest

from bridge.scim.errors import InvalidFilter, InvalidPath
from bridge.scim.filter import MAX_FILTER_DEPTH, parse_filter
from bridge.scim.path import parse_path


def test_a_value_filter_is_one_level_of_nesting() -> None:
    inside = MAX_FILTER_DEPTH - 1
    parse_filter("emails[" + "(" * inside + 'type eq "work"' + ")" * inside + "]")
    with pytest.raises(InvalidFilter, match="nests deeper than 32 levels"):
        parse_filter("emails[" + "(" * (inside + 1) + 'type eq "work"' + ")" * (inside + 1) + "]")


def test_a_path_nests_its_value_filter_at_most_max_depth_levels() -> None:
    inside = MAX_FILTER_DEPTH - 1
    parse_path("emails[" + "(" * inside + 'type eq "work"' + ")" * inside + "].value")
    with pytest.raises(InvalidPath, match="nests deeper than 32 levels"):
        parse_path("emails[" + "(" * (inside + 1) + 'type eq "work"' + ")" * (inside + 1) + "].value")
