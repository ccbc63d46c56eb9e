"""bridge/directory/ldap/wire.py sends what ldap3 sends for the same call, and leaves ``conn.result`` and
``conn.response`` as ldap3 leaves them; what the encoder does not cover goes through ldap3 itself.

Each test makes the same call twice, on two ldap3 connections configured as the bridge's pool dials
one: once through ``wire`` and once through ldap3's own ``conn.search`` / ``modify`` / ``add``. Their
sockets are responders that keep the bytes and answer as a directory would (an entry and a done with a
paged-results cookie for a search, a post-read entry for a write), so ldap3 reads a real answer both
times. (The encoder's own byte-for-byte tests: tests/unit/test_ldap_encoding.py.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ldap3
import pytest
from ldap3.core.exceptions import LDAPObjectClassError, LDAPSocketOpenError, LDAPSocketSendError

from bridge.directory.base import AllOf, BitsSet, DirFilter, Eq, Negation, Present, Substring
from bridge.directory.ldap import encoding, wire
from bridge.directory.ldap.controls import POST_READ, assertion_equal, post_read
from bridge.directory.ldap.render import render_filter
from bridge.testing.offline_ldap import offline_connection

BASE = "ou=people,dc=example,dc=org"
PERMISSIVE = ("1.2.840.113556.1.4.1413", False, None)
UUID = "c1faa5ea-7abf-1041-9564-cf1166f2481f"
_ANSWER = {0x66: 0x67, 0x68: 0x69}  # write request tag -> its response's


def _entry(dn: bytes, binary: bool = True) -> bytes:
    """A SearchResultEntry for ``dn`` with a few attributes, one of them binary (not UTF-8)."""
    attributes = encoding.tlv(0x30, encoding.octets("cn") + encoding.tlv(0x31, encoding.octets("Ann Ö")))
    attributes += encoding.tlv(0x30, encoding.octets("entryUUID") + encoding.tlv(0x31, encoding.octets(UUID)))
    if binary:
        photo = encoding.octets(b"\xff\x00")
        attributes += encoding.tlv(0x30, encoding.octets("jpegPhoto") + encoding.tlv(0x31, photo))
    return encoding.tlv(0x64, encoding.octets(dn) + encoding.tlv(0x30, attributes))


def _split(data: bytes) -> tuple[int, int, bytes]:
    """A message's id, its operation's tag, and the operation's first element (a DN or a base)."""
    at = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    size = data[at + 1]
    message_id = int.from_bytes(data[at + 2 : at + 2 + size], "big")
    op = at + 2 + size
    body = op + (2 if data[op + 1] < 0x80 else 2 + (data[op + 1] & 0x7F))
    first = body + (2 if data[body + 1] < 0x80 else 2 + (data[body + 1] & 0x7F))
    length = data[body + 1] if data[body + 1] < 0x80 else int.from_bytes(data[body + 2 : first], "big")
    return message_id, data[op], data[first : first + length]


class Responder:
    """A socket for ldap3 that keeps each request and answers it as a directory would."""

    def __init__(self, fail: OSError | None = None) -> None:
        self.sent: list[bytes] = []
        self.fail = fail
        self.binary_post_read = False  # ldap3 reads such a value as latin-1 text: see the test below
        self._answers = b""

    def sendall(self, data: bytes) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(bytes(data))
        message_id, tag, dn = _split(data)
        done = b"\x0a\x01\x00\x04\x00\x04\x00"
        if tag == 0x63:
            self._answers += encoding.message(message_id, _entry(dn))
            cookie = encoding.paged_results(0, b"\x01next")
            self._answers += encoding.message(message_id, encoding.tlv(0x65, done), [cookie])
        else:
            read = (POST_READ, False, _entry(dn, self.binary_post_read))
            self._answers += encoding.message(message_id, encoding.tlv(_ANSWER[tag], done), [read])

    def recv(self, size: int) -> bytes:
        data, self._answers = self._answers[:size], self._answers[size:]
        return data

    def close(self) -> None:
        pass


def connection(**settings: Any) -> ldap3.Connection:
    """An ldap3 connection as ``bridge.directory.ldap.servers.dial`` makes one, on a Responder."""
    return offline_connection(Responder(), **settings)


@pytest.fixture
def pair() -> Iterator[tuple[ldap3.Connection, ldap3.Connection]]:
    """Two connections: the first for ``wire``, the second for ldap3's own call."""
    yield connection(), connection()


def read(conn: ldap3.Connection) -> tuple[Any, Any]:
    """What the adapter reads of an answer: the result, the post-read entry's values as bytes (ldap3 gives
    them as text where they are UTF-8), and each entry's type, DN and raw values."""
    result = dict(conn.result)
    controls = {oid: dict(control) for oid, control in (result.get("controls") or {}).items()}
    if POST_READ in controls:
        values = controls[POST_READ]["value"]["result"]
        raw = {name: [v.encode() if isinstance(v, str) else v for v in vals] for name, vals in values.items()}
        controls[POST_READ]["value"] = {"result": raw}
    if controls:
        result["controls"] = controls
    entries = None
    if conn.response is not None:
        entries = [
            {"type": item["type"], "dn": item["dn"], "raw_attributes": dict(item["raw_attributes"])}
            if item["type"] == "searchResEntry"
            else {"type": item["type"], "uri": item["uri"]}
            for item in conn.response
        ]
    return result, entries


def same(ours: ldap3.Connection, theirs: ldap3.Connection) -> None:
    """Both sent one request, the same but for the message id, and ldap3 read the same answer."""
    assert len(ours.socket.sent) == len(theirs.socket.sent) == 1
    mine, other = ours.socket.sent[0], theirs.socket.sent[0]
    at = 2 if mine[1] < 0x80 else 2 + (mine[1] & 0x7F)
    assert mine[at + 2 + mine[at + 1] :] == other[at + 2 + other[at + 1] :]
    assert read(ours) == read(theirs)
    assert ours.result["result"] == 0
    assert not ours.strategy._outstanding  # the answer was read and the request forgotten, as ldap3 does


ATTRIBUTES = ["uid", "cn", "entryUUID", "entryCSN", "jpegPhoto"]
FILTERS: list[DirFilter] = [
    AllOf((Eq("objectClass", "inetOrgPerson"), Eq("uid", "ann@contoso.com"))),
    AllOf((Eq("objectClass", "inetOrgPerson"), Negation(Present("pwdAccountLockedTime")))),
    Substring("cn", initial="a*(", final=")\\"),
    Present("objectClass"),
]


@pytest.mark.parametrize("flt", FILTERS, ids=render_filter)
@pytest.mark.parametrize("cookie", [None, b"\x00\x01page"])
def test_a_paged_search_is_ldap3s(
    pair: tuple[ldap3.Connection, ldap3.Connection], flt: DirFilter, cookie: bytes | None
) -> None:
    ours, theirs = pair
    wire.search(ours, BASE, ldap3.SUBTREE, flt, ATTRIBUTES, paged_size=500, paged_cookie=cookie)
    theirs.search(
        BASE, render_filter(flt), ldap3.SUBTREE, attributes=ATTRIBUTES, paged_size=500, paged_cookie=cookie
    )
    same(ours, theirs)
    assert ours.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"] == b"\x01next"


@pytest.mark.parametrize("scope", [ldap3.BASE, ldap3.LEVEL, ldap3.SUBTREE])
@pytest.mark.parametrize(
    "base",
    [
        f"uid=ann@contoso.com,{BASE}",
        "cn=#41 and a trailing space ,ou=groups,dc=example,dc=org",  # ldap3's safe_dn escapes both
        "cn=Zoë\\2C the first,ou=groups,dc=example,dc=org",
        "",
    ],
)
@pytest.mark.parametrize("attributes", [ATTRIBUTES, []])
def test_a_search_for_one_entry_is_ldap3s(
    pair: tuple[ldap3.Connection, ldap3.Connection], scope: str, base: str, attributes: list[str]
) -> None:
    ours, theirs = pair
    flt = AllOf((Eq("objectClass", "inetOrgPerson"), Eq("entryUUID", UUID)))
    wire.search(ours, base, scope, flt, attributes, size_limit=1)
    theirs.search(base, render_filter(flt), scope, attributes=attributes, size_limit=1)
    same(ours, theirs)


def test_a_search_with_controls_is_ldap3s(pair: tuple[ldap3.Connection, ldap3.Connection]) -> None:
    ours, theirs = pair
    given = [assertion_equal("entryCSN", "x")]
    wire.search(ours, BASE, ldap3.SUBTREE, Present("uid"), ["uid"], paged_size=10, controls=given)
    theirs.search(BASE, "(uid=*)", ldap3.SUBTREE, attributes=["uid"], paged_size=10, controls=given)
    same(ours, theirs)


def test_an_extensible_match_goes_through_ldap3(pair: tuple[ldap3.Connection, ldap3.Connection]) -> None:
    ours, theirs = pair
    flt = AllOf((Eq("objectClass", "user"), BitsSet("userAccountControl", 2)))
    wire.search(ours, BASE, ldap3.SUBTREE, flt, ["cn"], size_limit=1)
    theirs.search(BASE, render_filter(flt), ldap3.SUBTREE, attributes=["cn"], size_limit=1)
    same(ours, theirs)


Changes = dict[str, list[tuple[str, list[Any]]]]
MODIFIES: list[tuple[Changes, list[encoding.Control]]] = [
    (
        {
            "title": [(ldap3.MODIFY_REPLACE, ["Senior"])],
            "departmentNumber": [(ldap3.MODIFY_REPLACE, ["R&D"])],
        },
        [
            PERMISSIVE,
            assertion_equal("entryCSN", "20261206101010.123456Z#000000#000#000000"),
            post_read(ATTRIBUTES),
        ],
    ),
    ({"member": [(ldap3.MODIFY_ADD, [f"uid=u{n},{BASE}" for n in range(3)])]}, [PERMISSIVE]),
    ({"member": [(ldap3.MODIFY_DELETE, ["uid=a"])], "mail": [(ldap3.MODIFY_DELETE, [])]}, []),
    ({"title": [(ldap3.MODIFY_REPLACE, ["a"]), (ldap3.MODIFY_ADD, ["b"])]}, [PERMISSIVE]),
    ({"unicodePwd": [(ldap3.MODIFY_REPLACE, ['"Secret-1"'.encode("utf-16-le")])]}, [PERMISSIVE]),
    ({"employeeNumber": [(ldap3.MODIFY_INCREMENT, ["1"])]}, []),  # not encoded: through ldap3
    ({"employeeNumber": [(ldap3.MODIFY_REPLACE, [42])]}, []),  # a number: ldap3 turns it into text
]


@pytest.mark.parametrize(("dn", "changes", "controls"), [(f"uid=ann,{BASE}", *m) for m in MODIFIES])
def test_a_modify_is_ldap3s(
    pair: tuple[ldap3.Connection, ldap3.Connection],
    dn: str,
    changes: Changes,
    controls: list[encoding.Control],
) -> None:
    ours, theirs = pair
    wire.modify(ours, dn, changes, controls)
    theirs.modify(dn, changes, controls=controls or None)
    same(ours, theirs)


def test_a_modify_of_a_dn_ldap3_escapes_is_ldap3s(pair: tuple[ldap3.Connection, ldap3.Connection]) -> None:
    ours, theirs = pair
    dn = "cn= leading and #hash,ou=groups,dc=example,dc=org"
    changes: Changes = {"member": [(ldap3.MODIFY_ADD, [f"uid=ann,{BASE}"])]}
    wire.modify(ours, dn, changes, [PERMISSIVE])
    theirs.modify(dn, changes, controls=[PERMISSIVE])
    same(ours, theirs)


ADDS: list[Mapping[str, Sequence[Any]]] = [
    {
        "objectClass": ["inetOrgPerson", "scimBridgeObject"],
        "uid": ["ann@contoso.com"],
        "sn": ["Ö"],
        "cn": ["A"],
    },
    {"cn": ["Zoë's group"], "objectClass": ["groupOfNames"], "member": ["cn=empty-membership-placeholder"]},
    {"objectClass": ["top", "top"], "cn": ["x"]},  # ldap3 drops the repeated class: through ldap3
    {"objectClass": ["top"], "cn": "a lone value"},  # ldap3 takes it for a list of one: through ldap3
]


@pytest.mark.parametrize("attributes", ADDS)
@pytest.mark.parametrize("controls", [[], [post_read(ATTRIBUTES)]])
def test_an_add_is_ldap3s(
    pair: tuple[ldap3.Connection, ldap3.Connection],
    attributes: Mapping[str, Sequence[Any]],
    controls: list[encoding.Control],
) -> None:
    ours, theirs = pair
    dn = f"cn=x,{BASE}"
    wire.add(ours, dn, attributes, controls)
    theirs.add(
        dn, attributes={name: values for name, values in attributes.items()}, controls=controls or None
    )
    same(ours, theirs)


@pytest.mark.parametrize(
    "settings",
    [
        {"client_strategy": ldap3.MOCK_SYNC},
        {"auto_referrals": True},
        {"raise_exceptions": True},
        {"return_empty_attributes": True},
        {"check_names": False},
        {"auto_escape": False},
        {"collect_usage": True},
        {"read_only": True},
    ],
    ids=repr,
)
def test_a_connection_set_otherwise_is_left_to_ldap3(settings: dict[str, Any]) -> None:
    assert wire.encodable(connection())
    assert not wire.encodable(connection(**settings))


def test_a_closed_connection_fails_as_ldap3s_does() -> None:
    ours, theirs = connection(), connection()
    for conn in (ours, theirs):
        conn.listening = False
    with pytest.raises(LDAPSocketOpenError):
        wire.search(ours, BASE, ldap3.BASE, Present("objectClass"), [], size_limit=1)
    with pytest.raises(LDAPSocketOpenError):
        theirs.search(BASE, "(objectClass=*)", ldap3.BASE, size_limit=1)


@pytest.mark.parametrize("failure", [TimeoutError("timed out"), ConnectionResetError(104, "reset")], ids=repr)
def test_a_failed_send_is_ldap3s_transport_error(failure: OSError) -> None:
    """The pool tells a transport failure (and a timeout among them) by ldap3's exception classes."""
    ours, theirs = connection(), connection()
    ours.socket.fail = theirs.socket.fail = failure
    with pytest.raises(LDAPSocketSendError) as mine:
        wire.modify(ours, f"uid=ann,{BASE}", {"title": [(ldap3.MODIFY_REPLACE, ["x"])]}, [PERMISSIVE])
    with pytest.raises(LDAPSocketSendError) as other:
        theirs.modify(f"uid=ann,{BASE}", {"title": [(ldap3.MODIFY_REPLACE, ["x"])]}, controls=[PERMISSIVE])
    assert isinstance(mine.value, TimeoutError) == isinstance(other.value, TimeoutError)
    assert isinstance(mine.value, type(failure)) and isinstance(other.value, type(failure))
    assert str(mine.value) == str(other.value)


def test_an_add_without_a_class_is_refused_by_ldap3_itself(
    pair: tuple[ldap3.Connection, ldap3.Connection],
) -> None:
    ours, theirs = pair
    with pytest.raises(LDAPObjectClassError):
        wire.add(ours, f"cn=x,{BASE}", {"cn": ["no class"]})
    with pytest.raises(LDAPObjectClassError):
        theirs.add(f"cn=x,{BASE}", attributes={"cn": ["no class"]})
    assert not ours.socket.sent and not theirs.socket.sent


def test_the_shapes_the_bridge_sends_go_through_the_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not ldap3's own calls, nor its reading of the answer: those are what the encoder and the decoder
    save (a fallback would pass the tests above)."""
    conn = connection()

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("sent through ldap3")

    for name in ("search", "modify", "add", "send"):
        monkeypatch.setattr(conn, name, refused)
    for name in ("send", "post_send_search", "post_send_single_response", "get_response"):
        monkeypatch.setattr(conn.strategy, name, refused)
    wire.search(conn, BASE, ldap3.SUBTREE, FILTERS[0], ATTRIBUTES, paged_size=500)
    wire.search(conn, f"uid=ann,{BASE}", ldap3.BASE, Present("objectClass"), ATTRIBUTES, size_limit=1)
    wire.modify(conn, f"uid=ann,{BASE}", MODIFIES[0][0], MODIFIES[0][1])
    wire.add(conn, f"uid=ann,{BASE}", ADDS[0], [post_read(ATTRIBUTES)])
    assert len(conn.socket.sent) == 4 and conn.result["result"] == 0


def test_ldap3s_short_form_of_a_change_goes_through_ldap3(
    pair: tuple[ldap3.Connection, ldap3.Connection],
) -> None:
    ours, theirs = pair
    changes: Any = {"title": (ldap3.MODIFY_REPLACE, ["x"])}
    wire.modify(ours, f"uid=ann,{BASE}", changes, [PERMISSIVE])
    theirs.modify(f"uid=ann,{BASE}", changes, controls=[PERMISSIVE])
    same(ours, theirs)


def test_a_binary_post_read_value_is_read_as_a_search_reads_it(
    pair: tuple[ldap3.Connection, ldap3.Connection],
) -> None:
    """Its raw bytes. ldap3 turned a value that is not UTF-8 into latin-1 text, which the adapter made
    UTF-8 bytes again: a written entry's binary value then differed from the same entry's once searched."""
    ours, theirs = pair
    ours.socket.binary_post_read = True
    dn = f"uid=ann,{BASE}"
    wire.modify(ours, dn, {"title": [(ldap3.MODIFY_REPLACE, ["x"])]}, [post_read(ATTRIBUTES)])
    theirs.search(dn, "(objectClass=*)", ldap3.BASE, attributes=ATTRIBUTES)
    written = ours.result["controls"][POST_READ]["value"]["result"]
    assert written == dict(theirs.response[0]["raw_attributes"])
    assert written["jpegPhoto"] == [b"\xff\x00"]


def test_a_ranged_search_is_read_by_ldap3(pair: tuple[ldap3.Connection, ldap3.Connection]) -> None:
    """On Active Directory: ldap3 follows an attribute answered in ranges; its entries keep their text."""
    ours, theirs = pair
    wire.search(ours, BASE, ldap3.SUBTREE, FILTERS[0], ATTRIBUTES, size_limit=1, ranged=True)
    theirs.search(BASE, render_filter(FILTERS[0]), ldap3.SUBTREE, attributes=ATTRIBUTES, size_limit=1)
    same(ours, theirs)
    assert ours.response == theirs.response  # ldap3's own dicts, ``attributes`` included
