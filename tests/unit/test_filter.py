"""SCIM filter parsing and evaluation (RFC 7644 section 3.4.2.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.scim.errors import InvalidFilter
from bridge.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    evaluate,
    parse_filter,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def p(attr: str, sub: str | None = None, uri: str | None = None) -> AttrPath:
    return AttrPath(uri, attr, sub)


def eq(attr: str, value: Any, sub: str | None = None) -> Compare:
    return Compare(p(attr, sub), "eq", value)


RFC_EXAMPLES = [
    ('userName eq "bjensen"', eq("userName", "bjensen")),
    ('name.familyName co "O\'Malley"', Compare(p("name", "familyName"), "co", "O'Malley")),
    ('userName sw "J"', Compare(p("userName"), "sw", "J")),
    (f'{CORE_USER}:userName sw "J"', Compare(p("userName", uri=CORE_USER), "sw", "J")),
    ("title pr", Present(p("title"))),
    *[
        (
            f'meta.lastModified {op} "2011-05-13T04:42:34Z"',
            Compare(p("meta", "lastModified"), op, "2011-05-13T04:42:34Z"),
        )
        for op in ("gt", "ge", "lt", "le")
    ],
    ('title pr and userType eq "Employee"', And(Present(p("title")), eq("userType", "Employee"))),
    ('title pr or userType eq "Intern"', Or(Present(p("title")), eq("userType", "Intern"))),
    (f'schemas eq "{ENTERPRISE}"', eq("schemas", ENTERPRISE)),
    (
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(
            eq("userType", "Employee"),
            Or(Compare(p("emails"), "co", "example.com"), Compare(p("emails", "value"), "co", "example.org")),
        ),
    ),
    (
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        And(
            Compare(p("userType"), "ne", "Employee"),
            Not(
                Or(
                    Compare(p("emails"), "co", "example.com"),
                    Compare(p("emails", "value"), "co", "example.org"),
                )
            ),
        ),
    ),
    (
        'userType eq "Employee" and (emails.type eq "work")',
        And(eq("userType", "Employee"), eq("emails", "work", sub="type")),
    ),
    (
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(
            eq("userType", "Employee"),
            ValuePath(p("emails"), And(eq("type", "work"), Compare(p("value"), "co", "@example.com"))),
        ),
    ),
    (
        'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
        Or(
            ValuePath(p("emails"), And(eq("type", "work"), Compare(p("value"), "co", "@example.com"))),
            ValuePath(p("ims"), And(eq("type", "xmpp"), Compare(p("value"), "co", "@foo.com"))),
        ),
    ),
]


@pytest.mark.parametrize(("text", "expected"), RFC_EXAMPLES)
def test_every_rfc_example_parses_to_its_exact_ast(text: str, expected: Filter) -> None:
    """The example filters listed in RFC 7644 section 3.4.2.2 parse to the intended tree."""
    assert parse_filter(text) == expected


ENTRA_EXAMPLES = [
    (
        'userName eq "cf4d78e8-1e8b-4c5d-9e0c-7c2d1e6f4a11"',
        eq("userName", "cf4d78e8-1e8b-4c5d-9e0c-7c2d1e6f4a11"),
    ),
    ('externalId eq "alice"', eq("externalId", "alice")),
    ("externalId eq jyoung", eq("externalId", "jyoung")),
    ('DisplayName eq "x"', eq("DisplayName", "x")),
    ('id eq "a" and manager eq "b"', And(eq("id", "a"), eq("manager", "b"))),
    (
        'emails[type eq "work"].value eq "a@contoso.com"',
        ValuePath(p("emails"), And(eq("type", "work"), eq("value", "a@contoso.com"))),
    ),
]


@pytest.mark.parametrize(("text", "expected"), ENTRA_EXAMPLES)
def test_microsoft_entra_filters_parse(text: str, expected: Filter) -> None:
    """Entra's documented filters, including two forms RFC 7644 section 3.4.2.2 does not allow.

    ``emails[type eq "work"].value eq "x"`` puts a sub-attribute after a value filter in filter position;
    the ABNF only allows that in PATCH paths, but Microsoft documents it as "the work email is x", which
    is exactly ``emails[type eq "work" and value eq "x"]``. The unquoted ``jyoung`` is a bare word from
    Entra's older documentation, read as the string it obviously means.
    """
    assert parse_filter(text) == expected


GRAMMAR_CASES = [
    ("not binds tighter than and", "not (a pr) and b pr", And(Not(Present(p("a"))), Present(p("b")))),
    (
        "and binds tighter than or",
        "a pr or b pr and c pr",
        Or(Present(p("a")), And(Present(p("b")), Present(p("c")))),
    ),
    (
        "and is left associative",
        "a pr and b pr and c pr",
        And(And(Present(p("a")), Present(p("b"))), Present(p("c"))),
    ),
    (
        "or is left associative",
        "a pr or b pr or c pr",
        Or(Or(Present(p("a")), Present(p("b"))), Present(p("c"))),
    ),
    (
        "parentheses override precedence",
        "(a pr or b pr) and c pr",
        And(Or(Present(p("a")), Present(p("b"))), Present(p("c"))),
    ),
    ("not may touch its parenthesis", "not(a pr)", Not(Present(p("a")))),
    (
        "extra whitespace and tabs are tolerated",
        '  \t( a  eq\t"x" )   and  b pr  ',
        And(eq("a", "x"), Present(p("b"))),
    ),
    (
        "a urn prefix ends at the last colon",
        f'{ENTERPRISE}:employeeNumber eq "7"',
        Compare(p("employeeNumber", uri=ENTERPRISE), "eq", "7"),
    ),
    (
        "a core urn prefix keeps its sub attribute",
        f'{CORE_USER}:name.givenName eq "x"',
        Compare(p("name", "givenName", CORE_USER), "eq", "x"),
    ),
    ("the ref sub attribute is a name", 'members.$ref eq "u"', Compare(p("members", "$ref"), "eq", "u")),
    ("json escapes are decoded", r'a eq "q\"b\\s\u00e9\n"', eq("a", 'q"b\\s\u00e9\n')),
    ("integers are numbers", "a gt -12", Compare(p("a"), "gt", -12)),
    ("decimals and exponents are floats", "a lt 1.5e3", Compare(p("a"), "lt", 1500.0)),
    (
        "true false and null are literals",
        "a eq false or b ne null",
        Or(eq("a", False), Compare(p("b"), "ne", None)),
    ),
    ("a bare word that is not a number is a string", "a eq 007", eq("a", "007")),
    ("operators are stored in lower case", 'a CO "x"', Compare(p("a"), "co", "x")),
    ("not followed by an operator is an attribute", 'not eq "x"', eq("not", "x")),
    (
        "a value path combines with not",
        'not (emails[type eq "work"])',
        Not(ValuePath(p("emails"), eq("type", "work"))),
    ),
    (
        "a urn qualified value path keeps its uri",
        f'{ENTERPRISE}:manager[value eq "x"]',
        ValuePath(p("manager", uri=ENTERPRISE), eq("value", "x")),
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), GRAMMAR_CASES, ids=[c[0] for c in GRAMMAR_CASES])
def test_the_grammar_rules_hold(case: str, text: str, expected: Filter) -> None:
    """Precedence, associativity, literals and names follow RFC 7644 section 3.4.2.2."""
    assert parse_filter(text) == expected


def test_keyword_case_does_not_change_the_tree() -> None:
    """Operators and logical words are case-insensitive (RFC 7644 section 3.4.2.2)."""
    lower = parse_filter('a eq "x" and not (b pr) or c eq true')
    assert parse_filter('a EQ "x" AND NOT (b Pr) OR c eq TRUE') == lower


ERROR_CASES = [
    ("", "the filter is empty"),
    ("   ", "the filter is empty"),
    ("userName", "expected a comparison operator after 'userName'"),
    ('userName "x"', "expected a comparison operator after 'userName', found '\"x\"' at position 9"),
    ('userName eq "abc', "unterminated string starting at position 12"),
    ('userName eq "abc\\"', "unterminated string starting at position 12"),
    ('title pr "x"', "'pr' takes no value"),
    ("title pr 3", "'pr' takes no value"),
    ('userName xx "a"', "unknown operator 'xx' after 'userName' at position 9"),
    ("userName eq", "expected a value after 'eq'"),
    ("userName eq and b pr", "expected a value after 'eq'"),
    ("(a pr", "expected ')' to close the '(' at position 0"),
    ("a pr)", "found ')' at position 4"),
    ("a pr]", "found ']' at position 4"),
    ('emails[type eq "work"', "expected ']' to close the '[' at position 6"),
    ('emails[type eq "work")', "expected ']' to close the '['"),
    ('emails[x[type eq "work"]]', "value filters cannot be nested"),
    ('a eq "x" b pr', "expected 'and', 'or' or the end of the filter, found 'b' at position 9"),
    ("not a pr", "expected '(' after 'not'"),
    ("a pr and", "expected an attribute path, found the end of the filter"),
    ('"x" eq "y"', "expected an attribute path"),
    ("1abc pr", "expected an attribute path"),
    ("a.b.c pr", "expected an attribute path"),
    ("urn:x pr", "expected a schema URN"),
    (f"{ENTERPRISE}: pr", "expected a schema URN"),
    ('a eq "\\q"', "invalid escape"),
    ('a eq "\\ud800"', "lone surrogate"),
    ("active gt true", "'gt' at position 7 cannot compare with true"),
    ("a co null", "cannot compare with null"),
    ('name.givenName[value eq "x"]', "a value filter needs a multi-valued attribute"),
    ('emails[type eq "work"].1 eq "x"', "expected a sub-attribute name after ']'"),
    ("a eq " + "9" * 5000, "too long"),
]


@pytest.mark.parametrize(("text", "detail"), ERROR_CASES)
def test_bad_filters_raise_invalid_filter_with_an_actionable_detail(text: str, detail: str) -> None:
    """Each syntax error names what was expected and where (RFC 7644 section 3.4.2.2, invalidFilter)."""
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text, max_length=10_000)
    assert detail in caught.value.detail


def test_a_filter_longer_than_max_length_is_refused() -> None:
    """The length limit protects the parser from oversized input (RFC 7644 section 3.4.2.2)."""
    with pytest.raises(InvalidFilter, match="limit is 20"):
        parse_filter('userName eq "' + "x" * 20 + '"', max_length=20)


def test_nesting_deeper_than_max_depth_is_refused() -> None:
    """Parentheses, not and brackets count against max_depth (RFC 7644 section 3.4.2.2)."""
    assert parse_filter("(" * 32 + "a pr" + ")" * 32) == Present(p("a"))
    with pytest.raises(InvalidFilter, match="nests deeper than 32 levels"):
        parse_filter("(" * 33 + "a pr" + ")" * 33)
    with pytest.raises(InvalidFilter, match="nests deeper than 3 levels"):
        parse_filter("not (not (not (not (a pr))))", max_depth=3)


def test_a_max_depth_beyond_the_stack_still_raises_invalid_filter() -> None:
    """Even a careless max_depth never leaks RecursionError (RFC 7644 section 3.4.2.2)."""
    text = "(" * 5000 + "a pr" + ")" * 5000
    with pytest.raises(InvalidFilter):
        parse_filter(text, max_length=len(text), max_depth=10**6)


def test_long_and_chains_parse_and_evaluate_without_deep_recursion() -> None:
    """Chains are loops in parser and evaluator, bounded only by max_length (RFC 7644 section 3.4.2.2)."""
    text = " and ".join(f"a{i} pr" for i in range(2000))
    flt = parse_filter(text, max_length=len(text))
    resource = {f"a{i}": "x" for i in range(2000)}
    assert evaluate(flt, resource)
    assert not evaluate(flt, {**resource, "a1999": ""})


USER: dict[str, Any] = {
    "schemas": [CORE_USER, ENTERPRISE],
    "id": "2819c223",
    "userName": "BJensen",
    "displayName": "",
    "title": None,
    "nickName": "Babs",
    "active": True,
    "loginCount": 42,
    "ratio": 0.5,
    "name": {"familyName": "O'Malley", "givenName": "Barbara"},
    "emails": [
        {"type": "work", "value": "bjensen@example.com", "primary": True},
        {"type": "home", "value": "babs@jensen.org"},
    ],
    "phoneNumbers": [],
    "meta": {"lastModified": "2011-05-13T04:42:34Z"},
    ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
}

EVALUATION_CASES = [
    ("strings compare case insensitively", 'username eq "bjensen"', True),
    ("attribute names match case insensitively", 'USERNAME eq "BJensen"', True),
    ("contains", 'name.familyName co "mall"', True),
    ("starts with", 'userName sw "bj"', True),
    ("ends with", 'userName ew "SEN"', True),
    ("strings order lexicographically", 'meta.lastModified gt "2011-05-13T04:42:33Z"', True),
    ("strings order after folding", 'userName lt "c"', True),
    ("multi valued sub attribute matches any element", 'emails.type eq "home"', True),
    ("multi valued complex without sub compares value", 'emails eq "BABS@jensen.org"', True),
    ("multi valued complex without sub misses", 'emails co "nowhere"', False),
    ("value path needs one element to satisfy all", 'emails[type eq "home" and value co "example"]', False),
    ("value path matches one element", 'emails[type eq "work" and value co "@example.com"]', True),
    ("entra value path sub form", 'emails[type eq "work"].value eq "bjensen@example.com"', True),
    ("value path combines with and", 'userName sw "b" and emails[primary eq true]', True),
    ("missing attribute compares false", 'costCenter eq "x"', False),
    ("ne is true for a missing attribute", 'costCenter ne "x"', True),
    ("ne is false when any value equals", 'emails.type ne "work"', False),
    ("ne is true when the value differs", 'userName ne "other"', True),
    ("pr is false for empty string", "displayName pr", False),
    ("pr is false for null", "title pr", False),
    ("pr is false for empty list", "phoneNumbers pr", False),
    ("pr is false for a missing attribute", "costCenter pr", False),
    ("pr is true for a value", "nickName pr", True),
    ("pr is true for a complex value", "name pr", True),
    ("pr is true for a multi valued sub attribute", "emails.primary pr", True),
    ("numbers compare numerically", "loginCount gt 9", True),
    ("integers equal floats", "loginCount eq 42.0", True),
    ("floats order", "ratio le 0.5", True),
    ("a number never equals a string", 'loginCount eq "42"', False),
    ("booleans compare by eq", "active eq true", True),
    ("booleans are not numbers", "active eq 1", False),
    ("booleans compare by ne", "active ne false", True),
    ("eq null is true for null", "title eq null", True),
    ("eq null is true for missing", "costCenter eq null", True),
    ("ne null is true for a value", "nickName ne null", True),
    ("urn qualified extension attribute", f'{ENTERPRISE}:employeeNumber eq "701984"', True),
    ("urn is matched case insensitively", f'{ENTERPRISE.upper()}:employeeNumber eq "701984"', True),
    ("core urn means the top level", f'{CORE_USER}:name.givenName eq "barbara"', True),
    ("extension attributes need their urn", 'employeeNumber eq "701984"', False),
    ("urn qualified complex sub attribute", f'{ENTERPRISE}:manager.value eq "26118915"', True),
    ("not negates", 'not (userName eq "bjensen")', False),
    ("or needs one side", 'userName eq "x" or nickName eq "babs"', True),
    ("multi valued simple attribute matches any", f'schemas eq "{ENTERPRISE}"', True),
]


@pytest.mark.parametrize(("case", "text", "expected"), EVALUATION_CASES, ids=[c[0] for c in EVALUATION_CASES])
def test_evaluation_follows_the_rfc_rules(case: str, text: str, expected: bool) -> None:
    """Evaluation against a JSON resource follows RFC 7644 section 3.4.2.2."""
    assert evaluate(parse_filter(text), USER) is expected


def test_case_exact_attributes_compare_exactly() -> None:
    """caseExact attributes compare with case (RFC 7643 section 2.2, RFC 7644 section 3.4.2.2)."""
    flt = parse_filter('id eq "2819C223"')
    assert evaluate(flt, USER)
    assert not evaluate(flt, USER, case_exact=lambda path: path.attr.lower() == "id")


def test_case_exact_sees_the_parent_of_a_sub_attribute_inside_brackets() -> None:
    """The callback gets emails.value, not a bare value, inside a value path (RFC 7644 section 3.4.2.2)."""
    seen: list[AttrPath] = []

    def record(path: AttrPath) -> bool:
        seen.append(path)
        return True

    assert not evaluate(parse_filter('emails[value eq "BABS@JENSEN.ORG"]'), USER, case_exact=record)
    assert seen == [p("emails", "value"), p("emails", "value")]


def test_ordering_a_boolean_attribute_is_an_invalid_filter() -> None:
    """gt/ge/lt/le on a boolean is invalidFilter (RFC 7644 section 3.4.2.2)."""
    with pytest.raises(InvalidFilter, match="cannot order the boolean attribute 'active'"):
        evaluate(parse_filter("active gt 0"), USER)


GRAMMAR_ALPHABET = 'ab eqandor()[]"\\. '


@settings(max_examples=500)
@given(st.text() | st.text(alphabet=GRAMMAR_ALPHABET))
def test_any_text_is_a_filter_or_invalid_filter(text: str) -> None:
    """Arbitrary input never raises anything but invalidFilter (RFC 7644 section 3.4.2.2)."""
    try:
        result = parse_filter(text)
    except InvalidFilter:
        return
    assert isinstance(result, Compare | Present | And | Or | Not | ValuePath)


# Round trip: random trees, rendered by a renderer that lives only here, parse back to themselves.

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,6}", fullmatch=True) | st.just("$ref")
URIS = st.sampled_from([None, CORE_USER, ENTERPRISE, "urn:example:params:X:1.0"])
STRINGS = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
NUMBERS = st.integers(-(10**12), 10**12) | st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def compares(draw: st.DrawFn, paths: st.SearchStrategy[AttrPath]) -> Filter:
    path = draw(paths)
    value = draw(st.none() | st.booleans() | STRINGS | NUMBERS)
    if value is None:
        ops = ["eq", "ne"]
    elif isinstance(value, bool):
        ops = ["eq", "ne", "co", "sw", "ew"]
    else:
        ops = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
    return Compare(path, draw(st.sampled_from(ops)), value)


def trees(leaves: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.recursive(
        leaves,
        lambda kids: st.builds(And, kids, kids) | st.builds(Or, kids, kids) | st.builds(Not, kids),
        max_leaves=8,
    )


INNER_PATHS = st.builds(AttrPath, st.none(), NAMES, st.none() | NAMES)
TOP_PATHS = st.builds(AttrPath, URIS, NAMES, st.none() | NAMES)
INNER = trees(compares(INNER_PATHS) | st.builds(Present, INNER_PATHS))
TOP = trees(
    compares(TOP_PATHS)
    | st.builds(Present, TOP_PATHS)
    | st.builds(ValuePath, st.builds(AttrPath, URIS, NAMES, st.none()), INNER)
)


def render_path(path: AttrPath) -> str:
    text = path.attr if path.sub is None else f"{path.attr}.{path.sub}"
    return text if path.uri is None else f"{path.uri}:{text}"


def render(node: Filter, sep: str, binding: int = 0) -> str:
    """Render with the fewest parentheses: or binds 1, and 2, the rest 3."""
    match node:
        case Or(left, right):
            text, strength = f"{render(left, sep, 1)}{sep}or{sep}{render(right, sep, 2)}", 1
        case And(left, right):
            text, strength = f"{render(left, sep, 2)}{sep}AND{sep}{render(right, sep, 3)}", 2
        case Not(inner):
            return f"not{sep}({render(inner, sep)})"
        case ValuePath(path, inner):
            return f"{render_path(path)}[{render(inner, sep)}]"
        case Present(path):
            return f"{render_path(path)}{sep}pr"
        case Compare(path, op, value):
            return f"{render_path(path)}{sep}{op.upper()}{sep}{json.dumps(value)}"
    return text if strength >= binding else f"({text})"


@settings(max_examples=500)
@given(TOP, st.sampled_from([" ", "  ", "\t", " \t "]))
def test_rendered_trees_parse_back_to_themselves(tree: Filter, sep: str) -> None:
    """Every tree the grammar can express survives a text round trip (RFC 7644 section 3.4.2.2)."""
    assert parse_filter(render(tree, sep), max_length=100_000, max_depth=100) == tree
