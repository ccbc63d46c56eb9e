"""The requests bridge/directory/ldap/encoding.py encodes are byte for byte what ldap3 sends for them.

ldap3's side is the real thing: an ldap3 Connection, configured as the bridge's pool dials one, whose
socket is a recorder that keeps the bytes ldap3 sends and answers each request with a bare success,
so ``conn.search``, ``conn.modify`` and ``conn.add`` run whole, their own encoding included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ldap3
import pytest
from pyasn1.codec.ber import encoder
from pyasn1.type import univ

from bridge.directory.base import (
    AllOf,
    AnyOf,
    BinaryEq,
    BitsSet,
    DirFilter,
    Eq,
    GreaterOrEqual,
    LessOrEqual,
    Negation,
    Present,
    Substring,
)
from bridge.directory.ldap import encoding
from bridge.directory.ldap.controls import assertion_equal, post_read
from bridge.directory.ldap.render import render_filter
from bridge.testing.offline_ldap import offline_connection

BASE = "ou=people,dc=example,dc=org"
PERMISSIVE = ("1.2.840.113556.1.4.1413", False, None)
# What the bridge reads of a user with the OpenLDAP map (bench/raw_ldap.py USER_ATTRIBUTES).
USER = (
    "uid", "scimExternalId", "givenName", "sn", "cn", "displayName", "title", "preferredLanguage", "mail",
    "telephoneNumber", "mobile", "facsimileTelephoneNumber", "street", "l", "st", "postalCode",
    "postalAddress", "employeeNumber", "departmentNumber", "o", "scimCostCenter", "scimDivision", "manager",
    "pwdAccountLockedTime", "createTimestamp", "modifyTimestamp", "objectClass", "entryUUID", "entryCSN",
)  # fmt: skip
VALUES = [
    "ann@contoso.com",
    "",
    "a*b(c)\\d\x00e",  # every character a filter string escapes
    "Zoë Ünïcødé 名前 🙂",
    "x" * 127,  # the last short-form length, and the first long forms
    "x" * 128,
    "y" * 300,
    "z" * 70_000,  # a three-octet length
]
CSN = "20261122125536.881496Z#000000#000#000000"
UUID = "c1faa5ea-7abf-1041-9564-cf1166f2481f"
_ANSWER = {0x63: 0x65, 0x66: 0x67, 0x68: 0x69}  # request tag -> its response's


def _ids(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)})"


class Recorder:
    """A socket for ldap3: keeps what is sent and answers each request with a bare success."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self._answers = b""

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))
        message_id, tag = message_id_and_tag(data)
        body = encoding.integer(message_id) + encoding.tlv(_ANSWER[tag], b"\x0a\x01\x00\x04\x00\x04\x00")
        self._answers += encoding.tlv(0x30, body)

    def recv(self, size: int) -> bytes:
        data, self._answers = self._answers[:size], self._answers[size:]
        return data

    def close(self) -> None:
        pass


def message_id_and_tag(data: bytes) -> tuple[int, int]:
    """The message id of an LDAPMessage and the tag of its operation, read from its bytes."""
    assert data[0] == 0x30
    at = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    assert data[at] == 0x02
    size = data[at + 1]
    return int.from_bytes(data[at + 2 : at + 2 + size], "big", signed=True), data[at + 2 + size]


@pytest.fixture
def conn() -> Iterator[ldap3.Connection]:
    """An ldap3 connection as ``bridge.directory.ldap.servers.dial`` makes one, writing to a Recorder."""
    yield offline_connection(Recorder())


def sent(conn: ldap3.Connection) -> tuple[int, bytes]:
    """The last request ``conn`` sent, and its message id; the request must have been answered."""
    assert conn.result["result"] == 0, conn.result
    data = conn.socket.sent[-1]
    return message_id_and_tag(data)[0], data


# --- searches --------------------------------------------------------------------------------------

FILTERS: list[DirFilter] = [
    *(AllOf((Eq("objectClass", "inetOrgPerson"), Eq("uid", value))) for value in VALUES),
    Eq("uid", "ann"),
    Present("objectClass"),
    AllOf(()),
    AnyOf(()),
    AnyOf((Eq("uid", "a"), Eq("mail", "a@x"), Eq("uid", "(b)"))),
    Negation(Eq("title", "x*")),
    AllOf((Eq("objectClass", "inetOrgPerson"), Negation(Present("pwdAccountLockedTime")))),
    GreaterOrEqual("modifyTimestamp", "20260101000000Z"),
    LessOrEqual("employeeNumber", "100"),
    Substring("cn", initial="An"),
    Substring("cn", final="son"),
    Substring("cn", any=("a", "", "b*c")),
    Substring("cn", initial="A", any=("n",), final="e\\"),
    Substring("cn"),
    BinaryEq("objectGUID", bytes(range(16))),
    AllOf((Eq("objectClass", "groupOfNames"), AnyOf((Eq("entryUUID", UUID), Eq("entryUUID", UUID[::-1]))))),
]


@pytest.mark.parametrize("flt", FILTERS, ids=_ids)
def test_a_paged_subtree_search_by_filter_is_what_ldap3_sends(conn: ldap3.Connection, flt: DirFilter) -> None:
    """The list search of ``LdapDirectory._pages``: subtree, the map's attributes, 500 a page."""
    conn.search(BASE, render_filter(flt), ldap3.SUBTREE, attributes=list(USER), paged_size=500)
    message_id, theirs = sent(conn)
    mine = encoding.search_request(
        message_id, BASE, encoding.SUBTREE, flt, USER, given=[encoding.paged_results(500)]
    )
    assert mine == theirs


@pytest.mark.parametrize("cookie", [b"", b"\x00\x01cookie", bytes(200)], ids=_ids)
def test_a_next_page_carries_its_cookie_as_ldap3_sends_it(conn: ldap3.Connection, cookie: bytes) -> None:
    flt = Eq("objectClass", "inetOrgPerson")
    text = render_filter(flt)
    conn.search(BASE, text, ldap3.SUBTREE, attributes=["uid"], paged_size=500, paged_cookie=cookie)
    message_id, theirs = sent(conn)
    mine = encoding.search_request(
        message_id, BASE, encoding.SUBTREE, flt, ["uid"], given=[encoding.paged_results(500, cookie)]
    )
    assert mine == theirs


@pytest.mark.parametrize(
    ("base", "scope", "flt"),
    [
        (f"uid=ann,{BASE}", ldap3.BASE, Present("objectClass")),  # LdapDirectory._read
        (BASE, ldap3.SUBTREE, AllOf((Eq("objectClass", "inetOrgPerson"), Eq("entryUUID", UUID)))),  # by id
        ("dc=example,dc=org", ldap3.LEVEL, Eq("ou", "people")),
        ("uid=a\\2Cb\\+c,ou=people,dc=example,dc=org", ldap3.BASE, Present("objectClass")),
        ("cn=Zoë Ünïcødé,ou=groups,dc=example,dc=org", ldap3.BASE, Present("objectClass")),
    ],
    ids=_ids,
)
@pytest.mark.parametrize("attributes", [USER, (), ("entryUUID", "entryCSN")], ids=_ids)
def test_a_search_for_one_entry_is_what_ldap3_sends(
    conn: ldap3.Connection, base: str, scope: str, flt: DirFilter, attributes: Sequence[str]
) -> None:
    """``LdapDirectory._first``: a size limit of one instead of the paged-results control; no attribute
    asked for is ``1.1``."""
    conn.search(base, render_filter(flt), scope, attributes=list(attributes), size_limit=1)
    message_id, theirs = sent(conn)
    scopes = {ldap3.BASE: encoding.BASE, ldap3.LEVEL: encoding.ONE_LEVEL, ldap3.SUBTREE: encoding.SUBTREE}
    mine = encoding.search_request(message_id, base, scopes[scope], flt, attributes, size_limit=1)
    assert mine == theirs


def test_an_extensible_match_is_left_to_ldap3() -> None:
    with pytest.raises(encoding.NotEncodable):
        encoding.ldap_filter(AllOf((Eq("objectClass", "user"), BitsSet("userAccountControl", 2))))


# --- modifies and adds -------------------------------------------------------------------------------


def _changes(
    given: Sequence[tuple[int, str, Sequence[Any]]],
) -> dict[str, list[tuple[str, list[Any]]]]:
    names = {encoding.ADD: ldap3.MODIFY_ADD, encoding.DELETE: ldap3.MODIFY_DELETE}
    payload: dict[str, list[tuple[str, list[Any]]]] = {}
    for op, attribute, values in given:
        payload.setdefault(attribute, []).append((names.get(op, ldap3.MODIFY_REPLACE), list(values)))
    return payload


MODIFIES: list[tuple[list[tuple[int, str, Sequence[Any]]], list[encoding.Control]]] = [
    # Entra's PATCH of title and department, from the entry the POST answered (remembered).
    (
        [
            (encoding.REPLACE, "title", ["Senior Engineer"]),
            (encoding.REPLACE, "departmentNumber", ["Research"]),
        ],
        [PERMISSIVE, assertion_equal("entryCSN", CSN), post_read(USER)],
    ),
    # A disable: the ppolicy lock and the bridge's own stamp, no read back.
    (
        [
            (encoding.REPLACE, "pwdAccountLockedTime", ["000001010000Z"]),
            (encoding.REPLACE, "scimDisabledAt", ["20261206101010Z"]),
        ],
        [PERMISSIVE, assertion_equal("entryCSN", CSN)],
    ),
    # A member add at the DN the group was seen at, asserting its id.
    (
        [(encoding.ADD, "member", [f"uid=u{n},{BASE}" for n in range(3)])],
        [PERMISSIVE, assertion_equal("entryUUID", UUID)],
    ),
    ([(encoding.DELETE, "member", [f"uid=ann,{BASE}"]), (encoding.DELETE, "mail", [])], [PERMISSIVE]),
    ([(encoding.REPLACE, "description", [])], []),
    ([(encoding.REPLACE, "unicodePwd", ['"Secret-1"'.encode("utf-16-le")])], [PERMISSIVE]),
    (
        [(encoding.REPLACE, "title", [value]) for value in VALUES[2:6]],
        [PERMISSIVE, ("1.3.6.1.1.13.2", True, b"\x30\x00")],
    ),
    # A long message: some 40 kB, a length of two octets.
    ([(encoding.ADD, "member", [f"uid=u{n:05d},{BASE}" for n in range(1000)])], [PERMISSIVE]),
    (
        [(encoding.REPLACE, "title", ["a"]), (encoding.ADD, "title", ["b"]), (encoding.REPLACE, "cn", ["c"])],
        [],
    ),
]


@pytest.mark.parametrize(("changes", "controls"), MODIFIES, ids=_ids)
def test_a_modify_is_what_ldap3_sends(
    conn: ldap3.Connection, changes: list[tuple[int, str, Sequence[Any]]], controls: list[encoding.Control]
) -> None:
    """``LdapDirectory._modify``: permissive modify first, then the assertion, then post-read. (Within
    one attribute ldap3 keeps the operations in order; ``title`` twice above is kept together.)"""
    conn.modify(f"uid=ann,{BASE}", _changes(changes), controls=controls or None)
    message_id, theirs = sent(conn)
    grouped = [change for name in _changes(changes) for change in changes if change[1] == name]
    assert encoding.modify_request(message_id, f"uid=ann,{BASE}", grouped, controls) == theirs


ADDS: list[Mapping[str, list[Any]]] = [
    {
        "objectClass": ["inetOrgPerson", "scimBridgeObject"],
        "uid": ["ann@contoso.com"],
        "scimExternalId": ["ann"],
        "givenName": ["Ann"],
        "sn": ["Family-Ann"],
        "cn": ["Ann Family-Ann"],
        "displayName": ["Ann Family-Ann"],
        "mail": ["ann@contoso.com"],
        "title": ["Engineer"],
        "employeeNumber": ["100042"],
        "departmentNumber": ["R&D"],
    },
    {"cn": ["Zoë's group"], "objectClass": ["groupOfNames"], "member": ["cn=empty-membership-placeholder"]},
    {"objectClass": ["inetOrgPerson"], "sn": [v for v in VALUES if v], "userPassword": [b"{SSHA}\x00\xff"]},
]


@pytest.mark.parametrize("attributes", ADDS, ids=_ids)
@pytest.mark.parametrize("with_post_read", [True, False])
def test_an_add_is_what_ldap3_sends(
    conn: ldap3.Connection, attributes: Mapping[str, list[Any]], with_post_read: bool
) -> None:
    """``LdapDirectory.add``: the entry with its post-read control."""
    controls = [post_read(USER)] if with_post_read else []
    dn = f"uid={attributes.get('uid', ['x'])[0]},{BASE}"
    payload = {name: list(values) for name, values in attributes.items()}
    conn.add(dn, attributes=payload, controls=controls or None)
    message_id, theirs = sent(conn)
    assert encoding.add_request(message_id, dn, attributes, controls) == theirs


@pytest.mark.parametrize("attributes", [{"cn": ["x"]}, {"objectClass": ["top", "top"]}], ids=_ids)
def test_an_add_ldap3_would_change_is_refused(attributes: Mapping[str, list[str]]) -> None:
    """ldap3 adds an objectClass attribute where there is none and drops repeated classes: not mimicked."""
    with pytest.raises(encoding.NotEncodable):
        encoding.add_request(1, "cn=x,dc=example,dc=org", attributes)


# --- message ids, integers and lengths -----------------------------------------------------------------


@pytest.mark.parametrize("message_id", [1, 127, 128, 255, 256, 32_767, 32_768, 65_536, 2**31 - 2])
def test_any_message_id_is_what_ldap3_sends(conn: ldap3.Connection, message_id: int) -> None:
    saved = ldap3.Server._message_counter
    ldap3.Server._message_counter = message_id - 1  # ldap3's counter is shared by every connection
    try:
        conn.search(BASE, "(uid=ann)", ldap3.SUBTREE, attributes=["uid"], size_limit=1)
    finally:
        ldap3.Server._message_counter = saved
    got, theirs = sent(conn)
    assert got == message_id
    mine = encoding.search_request(
        message_id, BASE, encoding.SUBTREE, Eq("uid", "ann"), ["uid"], size_limit=1
    )
    assert mine == theirs


@pytest.mark.parametrize(
    "value", [0, 1, 127, 128, 255, 256, 500, 65_535, 65_536, 2**31 - 1, 2**63, -1, -128, -129]
)
def test_an_integer_is_what_pyasn1_encodes(value: int) -> None:
    assert encoding.integer(value) == encoder.encode(univ.Integer(value))


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 65_535, 65_536, 1_000_000])
def test_a_length_is_what_pyasn1_encodes(size: int) -> None:
    assert encoding.octets(b"x" * size) == encoder.encode(univ.OctetString(b"x" * size))
