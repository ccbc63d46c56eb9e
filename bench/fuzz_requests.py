"""Fuzzed SCIM requests for the drill (``bench.drill``): what an attacker, or a broken client, might send.

:func:`fuzzed` makes request number ``n`` from a seeded random generator: creates, updates and replaces
of users, creates of groups, queries, reads, deletes, malformed bodies, bad tokens, odd paths and raw
bytes that are not HTTP at all. Values mix LDAP filter and DN specials, every Unicode plane, control
characters, lone surrogates and lengths up to 10,000 characters.

Every write carries a tag that shows in the directory if, and only if, the write was carried out: a
create's userName (``fz00042...``) or group displayName (``fzg00042...``), an update's or a replace's
title (``fzt00042``), always the last change to the title of a target user that only one drill worker
writes. The drill checks each tag against the answer the request got.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

# Pieces of values: letters (no digits, so no garbage looks like a tag), LDAP and DN specials, and
# characters from every plane, control characters, marks that reorder or hide text, lone surrogates.
_PIECES = (
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ',+="\\<>;#',
    "*()\\\x00",
    " \t\r\n",
    "\x01\x1b\x7f\x85",
    "éßøñçÅ",
    "中文字段日本語한국어",
    "\u200b\u200e\u200f\u202e\u2028\u2029\ufeff\u0301",
    "\U0001f600\U0001f3f3\ufe0f\u200d\U0001f308\U0001d518\U0001d52b\U0001d526",
    "\U000e0041\U0010fffd\U00020000",
    "\ud800\udfff",
    "%&?/#[]{}|^`~$'",
)


def nasty(rng: random.Random, longest: int = 10_000) -> str:
    """A string to throw at an attribute: mostly short, now and then hundreds or thousands long."""
    roll = rng.random()
    if roll < 0.85:
        length = rng.randint(1, min(40, longest))
    elif roll < 0.97:
        length = rng.randint(min(200, longest), min(400, longest))
    else:
        length = rng.randint(min(1000, longest), longest)
    pieces = rng.sample(_PIECES, rng.randint(1, 4))
    return "".join(rng.choice(rng.choice(pieces)) for _ in range(length))


def garbage(rng: random.Random, depth: int = 0) -> Any:
    """A JSON value of any type."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, 1.5, 1e308])
    if kind in (3, 4, 5):
        return nasty(rng)
    if kind == 6:
        return [garbage(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {nasty(rng, 40): garbage(rng, depth + 1) for _ in range(rng.randint(0, 3))}


@dataclass(frozen=True)
class Fuzzed:
    """One request: ``raw`` bytes sent as they are, or a method, path, body and headers. ``tag`` is what
    shows in the directory if the write was carried out; ``target`` the target user it writes."""

    n: int
    kind: str
    method: str = "GET"
    path: str = "/"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tag: str | None = None
    target: int | None = None
    raw: bytes | None = None

    @property
    def writes(self) -> bool:
        return self.tag is not None


def _quoted(text: str) -> str:
    """``text`` %-encoded for a URL, lone surrogates included (as the bytes no UTF-8 decoder accepts)."""
    return quote(text, safe="", errors="surrogatepass")


def _json(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8", "surrogatepass")


def _user_attributes(rng: random.Random) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, make in (
        ("displayName", lambda: nasty(rng)),
        ("name", lambda: {"givenName": nasty(rng), "familyName": nasty(rng), "formatted": garbage(rng)}),
        (
            "emails",
            lambda: [
                {
                    "value": nasty(rng),
                    "type": rng.choice(["work", "home", nasty(rng)]),
                    "primary": garbage(rng),
                }
            ],
        ),
        ("active", lambda: rng.choice([True, False, "True", "False", "yes", 1, None, nasty(rng)])),
        ("externalId", lambda: nasty(rng)),
        ("phoneNumbers", lambda: [{"value": nasty(rng), "type": "work"}]),
        ("addresses", lambda: [{"streetAddress": nasty(rng), "locality": nasty(rng), "type": "work"}]),
        (
            ENTERPRISE,
            lambda: {"department": nasty(rng), "employeeNumber": garbage(rng), "manager": garbage(rng)},
        ),
        ("password", lambda: nasty(rng)),
        (nasty(rng, 40), lambda: garbage(rng)),
    ):
        if rng.random() < 0.3:
            attributes[name] = make()
    return attributes


def _filter(rng: random.Random) -> str:
    """A filter: valid ones with nasty values, injections, deep nesting, or noise."""
    value = nasty(rng, 300).replace('"', '\\"')
    shapes = [
        f'userName eq "{value}"',
        'userName eq "x") or (userName pr',
        f'displayName co "{value}" and title sw "{nasty(rng, 20)}"',
        f'emails[type eq "work" and value co "{value}"]',
        "(" * 40 + "userName pr" + ")" * 40,
        "not (" * 20 + "userName pr" + ")" * 20,
        f'meta.lastModified gt "{nasty(rng, 30)}"',
        f'{nasty(rng, 30)} eq "x"',
        "*)(uid=*",
        nasty(rng, 5000),
        f'externalId eq "{value}" or userName eq "*"',
        'userName eq "a" ' + 'or userName eq "b" ' * 300,
    ]
    return rng.choice(shapes)


def _query(rng: random.Random, base: str) -> str:
    params = [("filter", _filter(rng))]
    for name in ("startIndex", "count", "attributes", "excludedAttributes", "sortBy", nasty(rng, 10)):
        if rng.random() < 0.3:
            params.append((name, str(garbage(rng))))
    query = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in params)
    resource = rng.choice(["Users", "Groups", "Users", nasty(rng, 10)])
    return f"{base}/{_quoted(resource)}?{query}"


def _patch_op(rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return garbage(rng)
    op = rng.choice(["add", "replace", "remove", "Add", "Replace", "REMOVE", "delete", "copy", "", None, 5])
    path = rng.choice(
        [
            "title",
            "displayName",
            "name.givenName",
            'emails[type eq "work"].value',
            "active",
            "userName",
            f"{ENTERPRISE}:department",
            "members",
            "id",
            "meta.created",
            'emails[value eq "x" or 1 eq 1]',
            None,
            nasty(rng, 300),
        ]
    )
    value = "x" + nasty(rng) if path == "userName" else garbage(rng)  # never a tag-like userName
    operation: dict[str, Any] = {"op": op, "value": value}
    if path is not None:
        operation["path"] = path
    return operation


_RAW = (
    b"GET / HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # a TLS ClientHello to a plain port
    b"POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 70_000 + b"\r\n\r\n",
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /scim/v2 HTCPCP/1.0\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET /scim/v2/Users HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
)


@dataclass(frozen=True)
class Aim:
    """What one fuzzing worker aims at: the SCIM base path, the (index, id, userName) of the target users
    it alone writes, the id of the user malformed writes go to (whatever they do to it is not checked),
    and the token."""

    base: str
    targets: list[tuple[int, str, str]]
    victim: str
    token: str


def fuzzed(n: int, rng: random.Random, aim: Aim) -> Fuzzed:
    """Request number ``n``."""
    base, targets = aim.base, aim.targets
    auth = {"Authorization": f"Bearer {aim.token}", "Content-Type": "application/scim+json"}
    roll = rng.random()
    if roll < 0.25:
        tag = f"fz{n:05d}"
        body: dict[str, Any] = {
            "schemas": [CORE_USER],
            "userName": tag + nasty(rng, 400),
            **_user_attributes(rng),
        }
        if rng.random() < 0.1:
            body["schemas"] = garbage(rng)
        return Fuzzed(n, "create user", "POST", f"{base}/Users", _json(body), auth, tag)
    if roll < 0.45 and targets:
        index, user_id, _ = rng.choice(targets)
        tag = f"fzt{n:05d}"
        ops = [_patch_op(rng) for _ in range(rng.randint(0, 4))]
        ops.append({"op": "replace", "path": "title", "value": tag})  # the last word on the title
        document = {"schemas": [PATCH_OP], "Operations": ops}
        return Fuzzed(n, "update user", "PATCH", f"{base}/Users/{user_id}", _json(document), auth, tag, index)
    if roll < 0.50 and targets:
        index, user_id, user_name = rng.choice(targets)
        tag = f"fzt{n:05d}"
        name = user_name if rng.random() < 0.7 else "x" + nasty(rng)
        body = {"schemas": [CORE_USER], "userName": name, **_user_attributes(rng)}
        body.pop("title", None)
        body["title"] = tag
        return Fuzzed(n, "replace user", "PUT", f"{base}/Users/{user_id}", _json(body), auth, tag, index)
    if roll < 0.55:
        tag = f"fzg{n:05d}"
        members: Any = rng.choice(
            [
                [{"value": rng.choice(targets)[1]}] if targets else [],
                garbage(rng),
                [{"value": str(uuid.uuid4())}],
            ]
        )
        body = {"schemas": [CORE_GROUP], "displayName": tag + nasty(rng, 200), "members": members}
        return Fuzzed(n, "create group", "POST", f"{base}/Groups", _json(body), auth, tag)
    if roll < 0.72:
        return Fuzzed(n, "query", "GET", _query(rng, base), None, auth)
    if roll < 0.75:
        search = {
            "schemas": [SEARCH],
            "filter": _filter(rng),
            "startIndex": garbage(rng),
            "count": garbage(rng),
        }
        return Fuzzed(n, "query", "POST", f"{base}/Users/.search", _json(search), auth)
    if roll < 0.80:
        some_id = rng.choice(
            [str(uuid.uuid4()), nasty(rng, 100), "..", "%2e%2e", targets[0][1] if targets else "x"]
        )
        resource = rng.choice(["Users", "Groups"])
        return Fuzzed(n, "read", "GET", f"{base}/{resource}/{_quoted(some_id)}", None, auth)
    if roll < 0.83:
        some_id = rng.choice([str(uuid.uuid4()), nasty(rng, 100), "*", ""])
        return Fuzzed(n, "delete", "DELETE", f"{base}/Users/{_quoted(some_id)}", None, auth)
    if roll < 0.93:
        return _malformed(n, rng, base, aim.victim, auth)
    if roll < 0.95:
        headers = dict(auth)
        headers["Authorization"] = rng.choice(
            [
                "",
                "Bearer",
                "Bearer " + aim.token + "x",
                "Basic YTpi",
                nasty(rng, 60).encode("ascii", "ignore").decode().strip(),
            ]
        )
        return Fuzzed(n, "bad token", "GET", f"{base}/Users", None, headers)
    if roll < 0.98:
        path = rng.choice(
            [
                f"{base}/Bulk",
                f"{base}/Me",
                f"{base}/Schemas/{_quoted(nasty(rng, 50))}",
                f"{base}/ResourceTypes",
                f"{base}/../../etc/passwd",
                f"{base}/Users/%00",
                "/" + "a" * 8000,
                "/metrics",
                "/readyz",
            ]
        )
        method = rng.choice(["GET", "OPTIONS", "HEAD", "TRACE", "PUT", "DELETE", "PATCH"])
        return Fuzzed(n, "odd path", method, path, None, auth)
    return Fuzzed(n, "raw bytes", raw=rng.choice(_RAW))


def _malformed(n: int, rng: random.Random, base: str, victim: str, auth: dict[str, str]) -> Fuzzed:
    """A write whose body is not what SCIM expects: nothing may be written."""
    bodies = [
        b"{",
        b"[]",
        b"null",
        b'{"userName": NaN}',
        b'{"schemas": ["' + CORE_USER.encode() + b'"], "userName": "\\ud800"}',
        b"\xff\xfe\x00{",
        b"[" * 200 + b"]" * 200,
        b'{"userName": "a", "userName": "b"}',
        json.dumps({"schemas": [PATCH_OP], "Operations": [{"op": "add"}] * 1500}).encode(),
        nasty(rng, 2000).encode("utf-8", "surrogatepass"),
    ]
    body = rng.choice(bodies) if rng.random() > 0.01 else b" " * (1_048_577)  # just over the body limit
    headers = dict(auth)
    if rng.random() < 0.2:
        headers["Content-Type"] = rng.choice(["text/plain", "application/xml", "multipart/form-data"])
    method, path = rng.choice(
        [
            ("POST", f"{base}/Users"),
            ("PATCH", f"{base}/Users/{victim}"),
            ("PUT", f"{base}/Users/{victim}"),
            ("POST", f"{base}/Groups"),
        ]
    )
    return Fuzzed(n, "malformed", method, path, body, headers)
