"""SCIM PATCH path parsing (RFC 7644 section 3.5.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.scim.errors import InvalidPath
from bridge.scim.filter import AttrPath, Compare, Or
from bridge.scim.path import Path, parse_path

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def eq(attr: str, value: str) -> Compare:
    return Compare(AttrPath(None, attr, None), "eq", value)


VALID_PATHS = [
    ("userName", Path(None, "userName", None, None)),
    ("name.givenName", Path(None, "name", None, "givenName")),
    ('emails[type eq "work"].value', Path(None, "emails", eq("type", "work"), "value")),
    ('emails[type eq "work"]', Path(None, "emails", eq("type", "work"), None)),
    (
        'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
        Path(None, "members", eq("value", "2819c223-7f76-453a-919d-413861904646"), None),
    ),
    (f"{ENTERPRISE}:employeeNumber", Path(ENTERPRISE, "employeeNumber", None, None)),
    (f"{ENTERPRISE}:manager", Path(ENTERPRISE, "manager", None, None)),
    (f"{CORE_USER}:name.familyName", Path(CORE_USER, "name", None, "familyName")),
    (
        'addresses[type eq "work"].streetAddress',
        Path(None, "addresses", eq("type", "work"), "streetAddress"),
    ),
    (
        'members[value eq "x" or value eq "y"]',
        Path(None, "members", Or(eq("value", "x"), eq("value", "y")), None),
    ),
    ("DisplayName", Path(None, "DisplayName", None, None)),
    ("members.$ref", Path(None, "members", None, "$ref")),
    ("  userName  ", Path(None, "userName", None, None)),
    (
        f'{ENTERPRISE}:manager[value eq "x"].displayName',
        Path(ENTERPRISE, "manager", eq("value", "x"), "displayName"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID_PATHS)
def test_valid_paths_parse_with_names_as_written(text: str, expected: Path) -> None:
    """``attrPath / valuePath [subAttr]`` parses, preserving case (RFC 7644 section 3.5.2)."""
    assert parse_path(text) == expected


INVALID_PATHS = [
    ("", "the path is empty"),
    ("   ", "the path is empty"),
    ("name.", "expected an attribute path"),
    ("1name", "expected an attribute path"),
    ("a.b.c", "expected an attribute path"),
    ("urn:x", "expected a schema URN"),
    ("user name", "expected '[' or the end of the path, found 'name' at position 5"),
    ("name.givenName x", "expected the end of the path, found 'x'"),
    ('name.givenName[type eq "x"]', "a value filter needs a multi-valued attribute"),
    ("emails[", "expected an attribute path, found the end of the path at position 7"),
    ('emails[type eq "work"', "expected ']' to close the '[' at position 6"),
    ("emails[type eq]", "expected a value after 'eq'"),
    ("emails[type]", "expected a comparison operator after 'type'"),
    ('emails[type eq "work"]x', "expected '.' and a sub-attribute, or the end of the path"),
    ('emails[type eq "work"].a.b', "expected a sub-attribute name after ']'"),
    ('emails[type eq "work"].value eq "x"', "expected the end of the path, found 'eq'"),
    ('emails[x[type eq "work"]]', "value filters cannot be nested"),
    ('emails[type eq "wo', "unterminated string starting at position 15"),
    ("(userName)", "expected an attribute path, found '('"),
    ('"userName"', "expected an attribute path"),
    ("x" * 1025, "the limit is 1024"),
]


@pytest.mark.parametrize(("text", "detail"), INVALID_PATHS)
def test_bad_paths_raise_invalid_path_with_an_actionable_detail(text: str, detail: str) -> None:
    """A malformed path, or a malformed filter inside it, is invalidPath (RFC 7644 section 3.5.2)."""
    with pytest.raises(InvalidPath) as caught:
        parse_path(text)
    assert detail in caught.value.detail


def test_a_path_longer_than_max_length_is_refused() -> None:
    """The length limit applies before any parsing (RFC 7644 section 3.5.2)."""
    assert parse_path("userName", max_length=8) == Path(None, "userName", None, None)
    with pytest.raises(InvalidPath, match="limit is 7"):
        parse_path("userName", max_length=7)


def test_deeply_nested_value_filters_are_refused() -> None:
    """Nesting inside the brackets is bounded like a filter's (RFC 7644 sections 3.4.2.2, 3.5.2)."""
    with pytest.raises(InvalidPath, match="nests deeper than"):
        parse_path("emails[" + "(" * 40 + "type pr" + ")" * 40 + "]")


@settings(max_examples=500)
@given(st.text() | st.text(alphabet='ab eqandor()[]"\\. ') | st.text(alphabet="ab.:[]urn$ref "))
def test_any_text_is_a_path_or_invalid_path(text: str) -> None:
    """Arbitrary input never raises anything but invalidPath (RFC 7644 section 3.5.2)."""
    try:
        result = parse_path(text)
    except InvalidPath:
        return
    assert isinstance(result, Path)
