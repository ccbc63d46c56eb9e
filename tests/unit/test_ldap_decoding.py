"""bridge/directory/ldap/decoding.py reads a directory's answers value for value as ldap3 reads them.

Each test scripts the bytes a directory answers, then sends the same request twice on connections set as
the pool dials them: once through ``wire`` (the answer read by ``decoding``) and once through ldap3's own
call (read by ldap3's decoder). What the adapter reads of each must be the same: the result dict, the
paged-results cookie, the post-read entry, each entry's DN and raw values; and a broken answer must raise
the same ldap3 exception, so the pool treats it as before.
"""

from __future__ import annotations

from collections.abc import Callable

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError, LDAPSocketReceiveError

from bridge.directory.base import Present
from bridge.directory.ldap import decoding, encoding, wire
from bridge.directory.ldap.controls import POST_READ, post_read
from tests.unit.test_ldap_wire import connection, read

BASE = "ou=people,dc=example,dc=org"
Answer = Callable[[int], list[bytes]]  # the messages answering a request, given its message id


class Scripted:
    """A socket for ldap3 that answers each request with scripted messages, ``chunk`` bytes a read at most
    (a directory's answer arrives in as many pieces as TCP makes of it)."""

    def __init__(self, answer: Answer, chunk: int = 1 << 20, fail: OSError | None = None) -> None:
        self.answer = answer
        self.chunk = chunk
        self.fail = fail
        self._pending = b""

    def sendall(self, data: bytes) -> None:
        at = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
        message_id = int.from_bytes(data[at + 2 : at + 2 + data[at + 1]], "big")
        self._pending += b"".join(self.answer(message_id))

    def recv(self, size: int) -> bytes:
        if self.fail is not None:
            raise self.fail
        data, self._pending = self._pending[: min(size, self.chunk)], self._pending[min(size, self.chunk) :]
        return data

    def close(self) -> None:
        pass


def pair(answer: Answer, **socket: object) -> tuple[ldap3.Connection, ldap3.Connection]:
    ours, theirs = connection(), connection()
    ours.socket = Scripted(answer, **socket)  # type: ignore[arg-type]
    theirs.socket = Scripted(answer, **socket)  # type: ignore[arg-type]
    return ours, theirs


def attribute(name: str, *values: bytes | str) -> bytes:
    return encoding.tlv(
        0x30, encoding.octets(name) + encoding.tlv(0x31, b"".join(map(encoding.octets, values)))
    )


def entry(dn: bytes | str, *attributes: bytes) -> bytes:
    return encoding.tlv(0x64, encoding.octets(dn) + encoding.tlv(0x30, b"".join(attributes)))


def done(
    tag: int, code: int = 0, matched: str = "", text: str = "", referrals: tuple[str, ...] = ()
) -> bytes:
    body = encoding.integer(code, 0x0A) + encoding.octets(matched) + encoding.octets(text)
    if referrals:
        body += encoding.tlv(0xA3, b"".join(map(encoding.octets, referrals)))
    return encoding.tlv(tag, body)


ANN = entry(
    f"uid=ann@contoso.com,{BASE}",
    attribute("objectClass", "inetOrgPerson", "scimBridgeObject"),
    attribute("uid", "ann@contoso.com"),
    attribute("cn", "Ann Ö 名前 🙂"),
    attribute("description", "x" * 300, "y" * 70_000),  # two- and three-octet lengths
    attribute("cn;lang-de", "Anna"),
    attribute("entryUUID", "c1faa5ea-7abf-1041-9564-cf1166f2481f"),
    attribute("entryCSN", "20261206101010.123456Z#000000#000#000000"),
    attribute("jpegPhoto", b"\xff\xd8\x00\x01"),
)
ZOE = entry("cn=Zo\xeb,ou=groups,dc=example,dc=org".encode("latin-1"), attribute("cn", "Zoe"))  # no UTF-8
REFERENCE = encoding.tlv(0x73, encoding.octets("ldap://other.example/ou=people,dc=example,dc=org??sub"))
PAGED = encoding.paged_results(0, b"\x00\x01next")
NO_MORE = encoding.paged_results(0, b"")

SEARCHES: dict[str, Answer] = {
    "nothing found": lambda mid: [encoding.message(mid, done(0x65), [NO_MORE])],
    "two entries and a reference": lambda mid: [
        encoding.message(mid, ANN),
        encoding.message(mid, REFERENCE),
        encoding.message(mid, ZOE),
        encoding.message(mid, done(0x65), [PAGED]),
    ],
    "one entry, then more than the size limit": lambda mid: [
        encoding.message(mid, ANN),
        encoding.message(mid, done(0x65, 4, text="size limit exceeded")),
    ],
    "no such base": lambda mid: [
        encoding.message(mid, done(0x65, 32, matched="dc=example,dc=org", text="no such object: Zoë"))
    ],
    "a referral": lambda mid: [
        encoding.message(mid, done(0x65, 10, referrals=("ldap://a.example/dc=example,dc=org", "ldap://b")))
    ],
    "an unknown control in the result": lambda mid: [
        encoding.message(mid, done(0x65), [("1.2.3.4", True, b"\x01\x02"), ("1.2.3.5", False, None)])
    ],
}


@pytest.mark.parametrize("chunk", [1 << 20, 4096, 7])
@pytest.mark.parametrize("answer", SEARCHES.values(), ids=SEARCHES.keys())
def test_a_search_answer_reads_as_ldap3_reads_it(answer: Answer, chunk: int) -> None:
    ours, theirs = pair(answer, chunk=chunk)
    wire.search(ours, BASE, ldap3.SUBTREE, Present("uid"), ["uid", "cn"], paged_size=500)
    theirs.search(BASE, "(uid=*)", ldap3.SUBTREE, attributes=["uid", "cn"], paged_size=500)
    assert read(ours) == read(theirs)
    assert isinstance(ours.response, list)


WRITTEN = entry(
    f"uid=ann@contoso.com,{BASE}",
    attribute("cn", "Ann Ö"),
    attribute("title", "Engineer", ""),
    attribute("entryCSN", "20261206101010.123456Z#000000#000#000001"),
)
WRITES: dict[str, Answer] = {
    "done": lambda mid: [encoding.message(mid, done(0x67))],
    "done, with the entry as written": lambda mid: [
        encoding.message(mid, done(0x67), [(POST_READ, False, WRITTEN)])
    ],
    "the assertion failed": lambda mid: [encoding.message(mid, done(0x67, 122, text="assertion failed"))],
    "refused, with a long message": lambda mid: [
        encoding.message(mid, done(0x67, 19, text="0000052D: SvcErr: DSID-031A12D2, problem 5003 " * 10))
    ],
    "a referral": lambda mid: [encoding.message(mid, done(0x67, 10, referrals=("ldap://a.example",)))],
}


@pytest.mark.parametrize("chunk", [1 << 20, 5])
@pytest.mark.parametrize("answer", WRITES.values(), ids=WRITES.keys())
def test_a_modify_answer_reads_as_ldap3_reads_it(answer: Answer, chunk: int) -> None:
    ours, theirs = pair(answer, chunk=chunk)
    changes = {"title": [(ldap3.MODIFY_REPLACE, ["Engineer"])]}
    controls = [post_read(["cn", "title"])]
    wire.modify(ours, f"uid=ann,{BASE}", changes, controls)
    theirs.modify(f"uid=ann,{BASE}", changes, controls=controls)
    assert read(ours) == read(theirs)
    assert ours.response is None and theirs.response is None


def test_an_add_answer_reads_as_ldap3_reads_it() -> None:
    ours, theirs = pair(lambda mid: [encoding.message(mid, done(0x69), [(POST_READ, False, WRITTEN)])])
    attributes = {"objectClass": ["inetOrgPerson"], "cn": ["Ann Ö"], "sn": ["A"]}
    wire.add(ours, f"uid=ann,{BASE}", attributes, [post_read(["cn"])])
    theirs.add(f"uid=ann,{BASE}", attributes=attributes, controls=[post_read(["cn"])])
    assert read(ours) == read(theirs)


NOTICE = encoding.tlv(
    0x78, done(0x78, 52, text="shutting down")[2:] + encoding.octets(decoding.NOTICE_OF_DISCONNECTION, 0x8A)
)
BROKEN: dict[str, tuple[Answer, type[Exception]]] = {
    "the server closed the connection": (lambda mid: [], LDAPSessionTerminatedByServerError),
    "a notice of disconnection": (
        lambda mid: [encoding.message(0, NOTICE)],
        LDAPSessionTerminatedByServerError,
    ),
    "an answer to another request": (
        lambda mid: [encoding.message(mid + 1, done(0x65))],
        LDAPSocketReceiveError,
    ),
    "another unsolicited notification": (
        lambda mid: [
            encoding.message(0, encoding.tlv(0x78, done(0x78)[2:] + encoding.octets("1.2.3", 0x8A)))
        ],
        LDAPSocketReceiveError,
    ),
}


@pytest.mark.parametrize(("answer", "error"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_answer_fails_as_it_fails_in_ldap3(answer: Answer, error: type[Exception]) -> None:
    ours, theirs = pair(answer)
    with pytest.raises(error) as mine:
        wire.search(ours, BASE, ldap3.BASE, Present("objectClass"), [], size_limit=1)
    with pytest.raises(error) as other:
        theirs.search(BASE, "(objectClass=*)", ldap3.BASE, size_limit=1)
    assert type(mine.value) is type(other.value) and str(mine.value) == str(other.value)
    assert ours.last_error == theirs.last_error


@pytest.mark.parametrize("failure", [TimeoutError("timed out"), ConnectionResetError(104, "reset")], ids=repr)
def test_a_failed_read_is_ldap3s_transport_error(failure: OSError) -> None:
    """ldap3's own reading of the socket: a timeout stays a TimeoutError, for the pool."""
    ours, theirs = pair(lambda mid: [], fail=failure)
    with pytest.raises(LDAPSocketReceiveError) as mine:
        wire.modify(ours, f"uid=ann,{BASE}", {"title": [(ldap3.MODIFY_REPLACE, ["x"])]})
    with pytest.raises(LDAPSocketReceiveError) as other:
        theirs.modify(f"uid=ann,{BASE}", {"title": [(ldap3.MODIFY_REPLACE, ["x"])]})
    # ldap3 makes a class for each failure, its receive error mixed with the socket's own.
    assert isinstance(mine.value, type(failure)) and isinstance(other.value, type(failure))
    assert isinstance(mine.value, TimeoutError) == isinstance(other.value, TimeoutError)
    assert str(mine.value) == str(other.value)


MALFORMED = {
    "a length past the end": lambda mid: [encoding.message(mid, done(0x65))[:-1] + b"\x05"],
    "an entry without attributes": lambda mid: [
        encoding.message(mid, encoding.tlv(0x64, encoding.octets("cn=x"))),
        encoding.message(mid, done(0x65)),
    ],
    "an intermediate response": lambda mid: [encoding.message(mid, encoding.tlv(0x79, b""))],
}


@pytest.mark.parametrize("answer", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_is_a_receive_error(answer: Answer) -> None:
    """What ldap3 would make of it varies (an IndexError, a hang); here it is a failed read: the pool
    closes the connection, a read is tried again on another one, a write answers 503."""
    ours, _ = pair(answer)
    with pytest.raises(LDAPSocketReceiveError, match="malformed answer"):
        wire.search(ours, BASE, ldap3.SUBTREE, Present("uid"), ["uid"])
