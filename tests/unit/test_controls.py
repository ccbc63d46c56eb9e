"""The assertion control the bridge encodes itself is byte for byte what pyasn1 makes of the same filter."""

from __future__ import annotations

import pytest

from bridge.directory.base import Eq
from bridge.directory.ldap.controls import ASSERTION, assertion, assertion_equal
from bridge.directory.ldap.render import render_filter

VALUES = [
    "20261122125536.881496Z#000000#000#000000",  # an entryCSN
    "c1faa5ea-7abf-1041-9564-cf1166f2481f",  # an entryUUID
    "",
    "a*b(c)\\d\x00e",  # every character a filter string escapes
    "Zoë Ünïcødé 名前",
    "x" * 127,  # the last short-form length, and the first long forms
    "x" * 128,
    "y" * 300,
    "z" * 70_000,  # a three-octet length
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: f"{len(v)}-chars" if len(v) > 40 else repr(v))
def test_an_equality_assertion_encodes_as_pyasn1_encodes_the_filter(value: str) -> None:
    mine = assertion_equal("entryCSN", value)
    assert mine == assertion(render_filter(Eq("entryCSN", value)))
    assert mine[:2] == (ASSERTION, True)
