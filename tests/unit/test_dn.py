"""bridge/directory/dn.py reads and spells DNs without ldap3: these tests prove it agrees with ldap3's
``parse_dn`` and ``escape_rdn`` (what the LDAP adapter used and still uses to escape what it sends),
over a table of tricky DNs and over generated ones, refusals included."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import escape_rdn, parse_dn

from bridge.directory import dn
from bridge.directory.errors import NoSuchEntry
from bridge.directory.ldap import render

Triples = list[tuple[str, str, str]]


def _ldap3_parts(text: str) -> Triples | None:
    """What ldap3 reads in ``text`` after the same respelling: the reference. None when it refuses."""
    try:
        parts = parse_dn(dn.respelled(text), escape=False, strip=True)
    except (LDAPInvalidDnError, ValueError, IndexError):
        return None
    return [(attribute.strip().lower(), value.strip(), separator) for attribute, value, separator in parts]


def _joined(parts: Triples) -> str:
    return "".join(f"{a}={v}{sep}" for a, v, sep in parts)


def ldap3_normalize(text: str) -> str | None:
    parts = _ldap3_parts(text)
    return None if parts is None else _joined(parts)


def ldap3_parent(text: str) -> str | None:
    parts = _ldap3_parts(text)
    if parts is None:
        return None
    first = next(i for i, (_, _, separator) in enumerate(parts) if separator != "+")
    return _joined(parts[first + 1 :])


def ldap3_first_rdn(text: str) -> str | None:
    parts = _ldap3_parts(text)
    if parts is None:
        return None
    count = next(i for i, (_, _, separator) in enumerate(parts) if separator != "+") + 1
    return "+".join(f"{a}={v}" for a, v, _ in parts[:count])


def ours(function: Callable[[str], str], text: str) -> str | None:
    try:
        return function(text)
    except NoSuchEntry:
        return None


def agree(text: str) -> None:
    expected = ldap3_normalize(text)
    assert ours(dn.normalize_dn, text) == expected
    assert ours(dn.dn_key, text) == (None if expected is None else expected.lower())
    assert ours(dn.parent_dn, text) == ldap3_parent(text)
    assert ours(dn.first_rdn, text) == ldap3_first_rdn(text)


TRICKY = [
    "uid=alice,ou=people,dc=example,dc=org",
    "UID=Alice , OU=People,DC=Example,  DC=Org  ",
    "  uid=a  ,  dc=x  ",
    "dc=x",
    "cn=Smith\\, John,ou=people,dc=x",
    "cn=a\\,,dc=x",
    "cn=a\\+b,dc=x",
    "cn=a+sn=b,dc=x",
    "cn=a + sn=b + uid=c , dc=x",
    "cn=a+sn=b",
    "cn=a\\=b,dc=x",
    "cn=\\#hash,dc=x",
    "cn=#0403616263,dc=x",
    "cn=a#b,dc=x",
    "cn=a\\23b,dc=x",
    "cn=\\ lead,dc=x",
    "cn=trail\\ ,dc=x",
    "cn=trail\\ +sn=b,dc=x",
    "cn=trail\\ \\ ,dc=x",
    "cn=trail\\  ,dc=x",
    "cn=trail\\20,dc=x",
    "cn=\\20both\\20,dc=x",
    "cn=in\\ side,dc=x",
    "CN=Users\\ ,DC=ad,DC=test",
    "cn=a\\\\,dc=x",
    "cn=a\\\\\\,b,dc=x",
    "cn=a\\\\\\\\,dc=x",
    "cn=a\\\\ ,dc=x",
    "cn=caf\\c3\\a9,dc=x",
    "cn=caf\\C3\\A9,dc=x",
    "cn=café,DC=x",
    "cn=日本語,dc=x",
    "cn=a\u2028,dc=x",
    "cn=\u00a0a,dc=x",
    "cn=tab\there,dc=x",
    "cn=a,\tdc=x",
    'cn="quoted",dc=x',
    'cn=\\"quoted\\",dc=x',
    "cn=a;b,dc=x",
    "cn=a\\;b,dc=x",
    "cn=a<b>,dc=x",
    "cn=a\\<b\\>,dc=x",
    "cn=a\x00,dc=x",
    "cn=a\\\x00,dc=x",
    "cn=a\\00,dc=x",
    "cn=a,,dc=x",
    ",cn=a",
    "cn=a,",
    "cn=a+",
    "+cn=a",
    "=a",
    "cn=",
    "cn= ,dc=x",
    "",
    " ",
    "cn",
    "cn=a=b",
    "cn=a,b,dc=x",
    "cn=a,b\\=c,dc=x",
    "2.5.4.3=a,dc=x",
    "c-n=a,dc=x",
    "-cn=a",
    "1cn=a",
    "c n=a",
    "<GUID=abc",
    "<GUID=abc>",
    "cn=a\\",
    "cn=a\\2",
    "cn=a\\2,dc=x",
    "cn=a\\zz",
    "cn=a\\2g",
    "\\cn=a",
    "\\\\,cn=a",
    "cn=a\\\\",
]


@pytest.mark.parametrize("text", TRICKY)
def test_a_tricky_dn_reads_as_ldap3_reads_it(text: str) -> None:
    agree(text)


def test_the_table_holds_both_readings_and_refusals() -> None:
    """Guards the table: it must try DNs that are read, and DNs that are refused."""
    read = [text for text in TRICKY if ldap3_normalize(text) is not None]
    assert len(read) > 25
    assert len(TRICKY) - len(read) > 25


# Pieces of DNs, so that generated text hits the syntax rather than only letters.
FRAGMENTS = [
    "uid",
    "CN",
    "dc",
    "x-y",
    "<GUID",
    "=",
    "=",
    ",",
    ",",
    "+",
    " ",
    "  ",
    "\\",
    "\\\\",
    "\\2c",
    "\\2C",
    "\\20",
    "\\ ",
    "\\,",
    "\\+",
    "\\=",
    "\\#",
    "#",
    "#04",
    '"',
    ";",
    "<",
    ">",
    "\x00",
    "\\00",
    "\\c3\\a9",
    "\\c3",
    "a",
    "Z",
    "0",
    "-",
    "é",
    "日",
    "\u2028",
    "\t",
    "\u00a0",
    "dc=x",
    ",dc=x",
]

pieces = st.sampled_from(FRAGMENTS) | st.characters()
fragments = st.lists(pieces, max_size=14).map("".join)
values = st.lists(pieces, min_size=1, max_size=5).map("".join)
types = st.sampled_from(["uid", "cn", "CN", "ou", "dc", "sn", "x-y", "a1"])
spaces = st.sampled_from(["", "", " ", "  "])


@st.composite
def dns(draw: st.DrawFn) -> str:
    """DNs as a client or a server might write them: some values escaped as ldap3 escapes them, some as
    raw text; single or multi-valued RDNs; optional spaces around the separators."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        avas = []
        for _ in range(draw(st.integers(1, 3))):
            value = draw(values)
            written = dn.make_rdn(("x", value))[2:] if draw(st.booleans()) else value
            avas.append(f"{draw(spaces)}{draw(types)}{draw(spaces)}={draw(spaces)}{written}{draw(spaces)}")
        out.append("+".join(avas))
    return ",".join(out)


@settings(max_examples=1500)
@given(dns())
@example("cn=a\\ ,dc=x")
def test_a_generated_dn_reads_as_ldap3_reads_it(text: str) -> None:
    agree(text)


@settings(max_examples=1500)
@given(fragments)
def test_any_text_reads_or_is_refused_as_ldap3_does(text: str) -> None:
    agree(text)


def _outcome(function: Callable[[str], str], value: str) -> tuple[str, str]:
    try:
        return "spelled", function(value)
    except Exception as exc:
        return "raises", type(exc).__name__


@settings(max_examples=1500)
@given(st.lists(pieces, max_size=6).map("".join))
@example("")
@example(" ")
@example("#")
@example(" a ")
def test_a_value_is_escaped_as_ldap3_escapes_it(value: str) -> None:
    assert _outcome(dn.escape_value, value) == _outcome(escape_rdn, value)
    assert _outcome(lambda v: dn.make_rdn(("uid", v)), value) == _outcome(
        lambda v: render.make_rdn(("uid", v)), value
    )


@settings(max_examples=500)
@given(types, values, st.sampled_from(["dc=x", "ou=People,DC=Example", "cn=a+sn=b,dc=x"]))
def test_a_dn_made_here_reads_back(attribute: str, value: str, parent: str) -> None:
    """What the in-memory adapter makes is what the LDAP adapter sends, and reads back: its own RDN
    (in the normal spelling), below its parent."""
    made = dn.make_dn((attribute, value), parent)
    assert made == render.make_dn((attribute, value), parent)
    assert dn.first_rdn(made) == dn.normalize_dn(dn.make_rdn((attribute, value)))
    assert dn.dn_key(dn.parent_dn(made)) == dn.dn_key(parent)
