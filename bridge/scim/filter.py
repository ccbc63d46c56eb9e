"""SCIM filters: parse and evaluate the filter grammar of RFC 7644 section 3.4.2.2."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from bridge.scim.errors import InvalidFilter


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[URI ":"] ATTRNAME *1subAttr``, names as written (RFC 7644 section 3.4.2.2)."""

    uri: str | None
    attr: str
    sub: str | None


@dataclass(frozen=True, slots=True)
class Compare:
    """``attrPath SP compareOp SP compValue`` (RFC 7644 section 3.4.2.2)."""

    path: AttrPath
    op: str
    value: str | bool | int | float | None


@dataclass(frozen=True, slots=True)
class Present:
    """``attrPath SP "pr"`` (RFC 7644 section 3.4.2.2)."""

    path: AttrPath


@dataclass(frozen=True, slots=True)
class And:
    """``FILTER SP "and" SP FILTER`` (RFC 7644 section 3.4.2.2)."""

    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Or:
    """``FILTER SP "or" SP FILTER`` (RFC 7644 section 3.4.2.2)."""

    left: Filter
    right: Filter


@dataclass(frozen=True, slots=True)
class Not:
    """``"not" "(" FILTER ")"`` (RFC 7644 section 3.4.2.2)."""

    inner: Filter


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attrPath "[" valFilter "]"``; the inner paths name sub-attributes (RFC 7644 section 3.4.2.2)."""

    path: AttrPath
    filter: Filter


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath

MAX_FILTER_LENGTH = 4096
"""Characters in one filter, at most. Entra's filters are one comparison, or an ``and`` of two [D1][D18];
nginx's default header buffers refuse a request line over 8 KB before it arrives; and the parse, the
translation and the LDAP filter all grow with the text."""

MAX_FILTER_DEPTH = 32
"""Nesting in one filter or path, at most: each ``(``, ``not (`` and ``[`` is a level. The parser and
every walk over the tree recurse once per level, so this keeps them far from Python's recursion limit,
and no client needs more than a few. ``and``/``or`` chains are loops and cost no level."""

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
ORDER_OPS = frozenset({"gt", "ge", "lt", "le"})
_KEYWORDS = COMPARE_OPS | {"pr", "and", "or", "not", "true", "false", "null"}
_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}
_CORE = frozenset(f"urn:ietf:params:scim:schemas:core:2.0:{r}" for r in ("user", "group"))
# "$ref" is no ATTRNAME in the ABNF, yet RFC 7643 names a sub-attribute with it (members.$ref).
_NAME = r"(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)"
_ATTR_RE = re.compile(rf"({_NAME})(?:\.({_NAME}))?")
_SUB_RE = re.compile(rf"\.({_NAME})")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# One alternative per token kind; a lone '"' is what is left of an unterminated string.
_TOKEN_RE = re.compile(r'[ \t\r\n]*(?:([()\[\]])|("(?:[^"\\]|\\.)*")|([^ \t\r\n()\[\]"]+)|(")|\Z)', re.DOTALL)
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    **{op: getattr(operator, op) for op in ("eq", "gt", "ge", "lt", "le")},
    **{"co": operator.contains, "sw": str.startswith, "ew": str.endswith},
}


@dataclass(frozen=True, slots=True)
class _Token:
    """A lexeme of filter or path text (RFC 7644 sections 3.4.2.2 and 3.5.2)."""

    kind: str  # "(", ")", "[", "]", "str", "word" or "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    """Split text into tokens; any run of whitespace separates them (RFC 7644 section 3.4.2.2)."""
    tokens: list[_Token] = []
    pos = 0
    while match := _TOKEN_RE.match(text, pos):
        start, pos = match.start(match.lastindex or 0), match.end()
        if match.lastindex is None:
            return [*tokens, _Token("end", "", len(text))]
        if match.lastindex == 4:
            raise InvalidFilter(f"unterminated string starting at position {start}")
        kind = match.group(1) or ("str", "word")[match.lastindex - 2]
        tokens.append(_Token(kind, match.group(match.lastindex), start))
    raise AssertionError("unreachable: the pattern matches at every position")  # pragma: no cover


class _Parser:
    """Recursive descent over RFC 7644 section 3.4.2.2, each descent counted against max_depth."""

    def __init__(self, text: str, max_depth: int, noun: str) -> None:
        self._tokens = _tokenize(text)
        self._i = self._depth = 0
        self._max_depth, self._noun, self._in_brackets = max_depth, noun, False

    def peek(self) -> _Token:
        return self._tokens[self._i]

    def next(self) -> _Token:
        tok = self._tokens[self._i]
        self._i += tok.kind != "end"
        return tok

    def take_word(self, word: str) -> bool:
        tok = self.peek()
        found = tok.kind == "word" and tok.text.lower() == word
        self._i += found
        return found

    def found(self, tok: _Token) -> str:
        where = f"at position {tok.pos}"
        return f"the end of the {self._noun} {where}" if tok.kind == "end" else f"{tok.text!r} {where}"

    def fail(self, expected: str, tok: _Token) -> InvalidFilter:
        return InvalidFilter(f"expected {expected}, found {self.found(tok)}")

    def expect_end(self, expected: str) -> None:
        if self.peek().kind != "end":
            raise self.fail(f"{expected}the end of the {self._noun}", self.peek())

    def disjunction(self) -> Filter:
        # Loops, not recursion: and/or chains stay left-associative and cost no stack.
        node = self.conjunction()
        while self.take_word("or"):
            node = Or(node, self.conjunction())
        return node

    def conjunction(self) -> Filter:
        node = self.factor()
        while self.take_word("and"):
            node = And(node, self.factor())
        return node

    def group(self, opener: _Token, closer: str) -> Filter:
        self._depth += 1
        if self._depth > self._max_depth:
            raise InvalidFilter(
                f"the {self._noun} nests deeper than {self._max_depth} levels at position {opener.pos}"
            )
        node = self.disjunction()
        self._depth -= 1
        if (tok := self.next()).kind != closer:
            raise self.fail(f"{closer!r} to close the {opener.text!r} at position {opener.pos}", tok)
        return node

    def factor(self) -> Filter:
        tok = self.next()
        if tok.kind == "(":
            return self.group(tok, ")")
        nxt = self.peek()
        if tok.kind == "word" and tok.text.lower() == "not":
            if nxt.kind == "(":
                return Not(self.group(self.next(), ")"))
            # ATTRNAME allows "not": only an operator or '[' after it makes it an attribute.
            if nxt.kind != "[" and not (nxt.kind == "word" and nxt.text.lower() in COMPARE_OPS | {"pr"}):
                raise self.fail("'(' after 'not' (as in not (title pr))", nxt)
        if tok.kind != "word":
            raise self.fail("an attribute path", tok)
        path = self.attr_path(tok)
        if nxt.kind != "[":
            return self.comparison(path, tok.text)
        if self._in_brackets:
            raise InvalidFilter(f"value filters cannot be nested: unexpected '[' at position {nxt.pos}")
        inner, sub = self.brackets(path, tok)
        if sub is None:
            return ValuePath(path, inner)
        # Entra's `emails[type eq "work"].value eq "x"`: the test on .value is of the same element.
        return ValuePath(path, And(inner, self.comparison(AttrPath(None, sub, None), sub)))

    def brackets(self, path: AttrPath, tok: _Token) -> tuple[Filter, str | None]:
        """Parse ``"[" valFilter "]" [subAttr]`` after an attribute (RFC 7644 sections 3.4.2.2, 3.5.2)."""
        if path.sub is not None:
            raise InvalidFilter(f"a value filter needs a multi-valued attribute, not {self.found(tok)}")
        opener = self.next()
        self._in_brackets = True
        inner = self.group(opener, "]")
        self._in_brackets = False
        nxt = self.peek()
        if nxt.kind != "word" or nxt.pos != self._tokens[self._i - 1].pos + 1 or nxt.text[0] != ".":
            return inner, None
        if (match := _SUB_RE.fullmatch(nxt.text)) is None:
            raise self.fail("a sub-attribute name after ']'", nxt)
        self.next()
        return inner, match.group(1)

    def attr_path(self, tok: _Token) -> AttrPath:
        uri, rest = None, tok.text
        if rest[:4].lower() == "urn:":
            # URNs hold dots and colons; the attribute begins after the last colon.
            uri, _, rest = rest.rpartition(":")
            if len(uri) <= 4 or not rest:
                raise self.fail("a schema URN, ':' and an attribute name", tok)
        if (match := _ATTR_RE.fullmatch(rest)) is None:
            raise self.fail("an attribute path (a letter, then letters, digits, '-' or '_'; one '.sub')", tok)
        return AttrPath(uri, match.group(1), match.group(2))

    def comparison(self, path: AttrPath, name: str) -> Filter:
        op_tok = self.next()
        op = op_tok.text.lower()
        if op_tok.kind != "word":
            raise self.fail(f"a comparison operator after {name!r}", op_tok)
        if op == "pr":
            nxt = self.peek()
            if nxt.kind == "str" or (nxt.kind == "word" and nxt.text.lower() not in {"and", "or"}):
                raise InvalidFilter(f"'pr' takes no value, found {self.found(nxt)}")
            return Present(path)
        if op not in COMPARE_OPS:
            raise InvalidFilter(
                f"unknown operator {op_tok.text!r} after {name!r} at position {op_tok.pos}; "
                "expected one of eq, ne, co, sw, ew, gt, ge, lt, le, pr"
            )
        value = self.value(op_tok)
        if (value is None and op not in {"eq", "ne"}) or (isinstance(value, bool) and op in ORDER_OPS):
            raise InvalidFilter(
                f"{op!r} at position {op_tok.pos} cannot compare with {json.dumps(value)}; "
                "gt, ge, lt and le take a string or a number, and only eq and ne take null"
            )
        return Compare(path, op, value)

    def value(self, op_tok: _Token) -> str | bool | int | float | None:
        tok = self.next()
        low = tok.text.lower()
        if tok.kind == "str":
            try:
                decoded = json.loads(tok.text, strict=False)
                decoded.encode()  # a lone surrogate escape would fail later, far from the client
            except ValueError:
                raise InvalidFilter(
                    f"invalid escape or lone surrogate in the string at position {tok.pos}"
                ) from None
            return str(decoded)
        if tok.kind == "word" and low in _LITERALS:
            return _LITERALS[low]
        if tok.kind == "word" and _NUMBER_RE.fullmatch(tok.text):
            try:
                return float(tok.text) if any(c in low for c in ".e") else int(tok.text)
            except ValueError:  # int() refuses more than 4300 digits
                raise InvalidFilter(f"the number at position {tok.pos} is too long") from None
        if tok.kind == "word" and low not in _KEYWORDS:
            return tok.text  # Entra's old docs send bare words: externalId eq jyoung
        raise self.fail(f"a value after {op_tok.text!r} (a quoted string, number, true, false or null)", tok)


def parse_filter(
    text: str, *, max_length: int = MAX_FILTER_LENGTH, max_depth: int = MAX_FILTER_DEPTH
) -> Filter:
    """Parse a ``filter`` query parameter into its AST (RFC 7644 section 3.4.2.2)."""
    if len(text) > max_length:
        raise InvalidFilter(f"the filter is {len(text)} characters long; the limit is {max_length}")
    parser = _Parser(text, max_depth, "filter")
    if parser.peek().kind == "end":
        raise InvalidFilter("the filter is empty")
    try:
        node = parser.disjunction()
    except RecursionError:  # reachable only if a caller sets max_depth beyond what the stack holds
        raise InvalidFilter("the filter nests too deeply") from None
    parser.expect_end("'and', 'or' or ")
    return node


def parse_path_parts(
    text: str, *, max_depth: int = MAX_FILTER_DEPTH
) -> tuple[AttrPath, Filter | None, str | None]:
    """Parse ``attrPath / valuePath [subAttr]`` to (path, filter, trailing sub) (RFC 7644 section 3.5.2)."""
    parser = _Parser(text, max_depth, "path")
    if (tok := parser.next()).kind != "word":
        raise parser.fail("an attribute path", tok)
    path = parser.attr_path(tok)
    if parser.peek().kind != "[":
        parser.expect_end("'[' or " if path.sub is None else "")
        return path, None, None
    try:
        inner, sub = parser.brackets(path, tok)
    except RecursionError:
        raise InvalidFilter("the value filter nests too deeply") from None
    parser.expect_end("'.' and a sub-attribute, or " if sub is None else "")
    return path, inner, sub


def _never(_: AttrPath) -> bool:
    return False


def evaluate(
    flt: Filter, resource: Mapping[str, Any], *, case_exact: Callable[[AttrPath], bool] = _never
) -> bool:
    """Whether a JSON-shaped resource matches the filter (RFC 7644 section 3.4.2.2)."""
    return _eval(flt, resource, None, case_exact)


def _eval(node: Filter, scope: Any, parent: AttrPath | None, exact: Callable[[AttrPath], bool]) -> bool:
    match node:
        case And() | Or():
            results = (_eval(operand, scope, parent, exact) for operand in _operands(node))
            return all(results) if isinstance(node, And) else any(results)
        case Not(inner):
            return not _eval(inner, scope, parent, exact)
        case Present(path):
            return any(_assigned(v) for v in _values(path, scope))
        case Compare(path, op, value):
            candidates = [v for v in _values(path, scope, use_value=True) if v is not None]
            if value is None:  # null means unassigned (RFC 7643 section 2.5)
                return not candidates if op == "eq" else bool(candidates)
            # Inside [...] the callback sees the parent too, so it can look the sub-attribute up.
            full = path if parent is None or path.sub else AttrPath(parent.uri, parent.attr, path.attr)
            fold = not exact(full)
            found = any(_match("eq" if op == "ne" else op, c, value, fold, full) for c in candidates)
            # ne means "no value equals", as LDAP's (!(a=v)) does, so every backend agrees.
            return not found if op == "ne" else found
        case ValuePath(path, inner):
            found = _resolve(path, scope)
            items = found if isinstance(found, list) else [found] if isinstance(found, Mapping) else []
            elements = [item if isinstance(item, Mapping) else {"value": item} for item in items]
            return any(_eval(inner, element, path, exact) for element in elements)
    raise InvalidFilter(f"cannot evaluate {type(node).__name__!r}, which is not a filter node")


def _operands(node: And | Or) -> list[Filter]:
    # Iterative: a chain's length is bounded by max_length only, not by max_depth.
    kind, out = type(node), []
    current: Filter = node
    while isinstance(current, kind):
        out.append(current.right)
        current = current.left
    return [current, *reversed(out)]


def _get(scope: Any, name: str) -> Any:
    if not isinstance(scope, Mapping):
        return None
    if name in scope:
        return scope[name]
    folded = name.lower()
    return next((v for k, v in scope.items() if isinstance(k, str) and k.lower() == folded), None)


def _resolve(path: AttrPath, scope: Any) -> Any:
    core = path.uri is None or path.uri.lower() in _CORE
    return _get(scope if core else _get(scope, path.uri or ""), path.attr)


def _values(path: AttrPath, scope: Any, *, use_value: bool = False) -> list[Any]:
    found = _resolve(path, scope)
    items = found if isinstance(found, list) else [found]
    if path.sub is None:
        # `emails eq "a@x"` compares each element's primary "value" sub-attribute.
        return [_get(i, "value") if use_value and isinstance(i, Mapping) else i for i in items]
    subs = [_get(item, path.sub) for item in items]
    return [v for sub in subs for v in (sub if isinstance(sub, list) else [sub])]


def _assigned(value: Any) -> bool:
    return value is not None and not (isinstance(value, str | list | dict) and len(value) == 0)


def _match(op: str, actual: Any, expected: Any, fold: bool, path: AttrPath) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        if op in ORDER_OPS and isinstance(actual, bool):
            name = path.attr if path.sub is None else f"{path.attr}.{path.sub}"
            raise InvalidFilter(f"{op!r} cannot order the boolean attribute {name!r}")
        return op == "eq" and actual is expected
    if isinstance(actual, str) and isinstance(expected, str):
        return bool(_OPS[op](actual.casefold(), expected.casefold()) if fold else _OPS[op](actual, expected))
    if isinstance(actual, int | float) and isinstance(expected, int | float) and op not in {"co", "sw", "ew"}:
        return bool(_OPS[op](actual, expected))
    return False
