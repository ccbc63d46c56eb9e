"""Bad input, generated: filters, PATCH bodies, POST bodies and raw requests against the in-memory app and
the real slapd app (issue #7, point 5). Whatever arrives, the answer is one of the statuses docs/operate.md
names for it, never a 500; nothing outside the target changes; a created user lies directly under the
user base with exactly the userName sent; and a hostile userName in a filter finds that user and no other.

The profile is derandomized with a modest number of examples, so CI runs the same cases every time and
the file stays well under a minute.
"""

from __future__ import annotations

import json
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ldap3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge.directory.dn import dn_key, parent_dn
from bridge.directory.ldap.render import make_rdn
from bridge.directory.memory import InMemoryDirectory
from bridge.scim.schemas import ERROR, PATCH_OP
from bridge.testing.slapd import SlapdInfo
from tests.conftest import GROUP_BASE, SCIM, USER_BASE, ScimClient
from tests.slapd_fixtures import Inspector

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_TYPES = {
    "invalidFilter",
    "invalidPath",
    "invalidSyntax",
    "invalidValue",
    "mutability",
    "noTarget",
    "tooMany",
    "uniqueness",
}

# --- the app under test, over either directory ---------------------------------------------------------

State = dict[str, tuple[str, dict[str, list[Any]]]]


@dataclass
class Backend:
    """One app and a way to see every entry of its directory, keyed by id (the DN for bases)."""

    name: str
    client: ScimClient
    user_base: str
    group_base: str
    entries: Callable[[], State]
    dn_of: Callable[[str], str]


def _memory_entries(memory: InMemoryDirectory) -> State:
    state: State = {}
    for dn in memory.dns():
        raw = memory.raw(dn)
        state[raw.get("entryuuid", [dn])[0]] = (dn_key(dn), {k: sorted(v) for k, v in raw.items()})
    return state


def _slapd_entries(conn: ldap3.Connection, suffix: str) -> State:
    """Every entry of the whole server (not only the test's subtree), with its user attributes.
    ``memberOf`` is left out: the memberof overlay rightly rewrites it on a group's members."""
    conn.search(suffix, "(objectClass=*)", ldap3.SUBTREE, attributes=["*", "entryUUID"])
    state: State = {}
    for item in conn.response:
        if item["type"] != "searchResEntry":
            continue
        raw = {k.lower(): sorted(v) for k, v in item["raw_attributes"].items() if k.lower() != "memberof"}
        key = raw.pop("entryuuid", [item["dn"].encode()])[0].decode()
        state[key] = (dn_key(item["dn"]), raw)
    return state


@pytest.fixture(params=["memory", "slapd"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The app over the in-memory directory, or over this test's subtree of the session slapd."""
    if request.param == "memory":
        memory: InMemoryDirectory = request.getfixturevalue("memory")
        client = request.getfixturevalue("make_client")()

        def memory_dn(entry_id: str) -> str:
            return _memory_entries(memory)[entry_id][0]

        yield Backend("memory", client, USER_BASE, GROUP_BASE, lambda: _memory_entries(memory), memory_dn)
        return
    slapd: SlapdInfo = request.getfixturevalue("slapd")
    inspector: Inspector = request.getfixturevalue("inspector")
    client = request.getfixturevalue("ldap_client")()

    def slapd_dn(entry_id: str) -> str:
        ((dn, _),) = inspector.find(f"(entryUUID={ldap3.utils.conv.escape_filter_chars(entry_id)})")
        return dn_key(dn)

    yield Backend(
        "slapd",
        client,
        inspector.subtree.user_base,
        inspector.subtree.group_base,
        lambda: _slapd_entries(inspector.conn, slapd.suffix),
        slapd_dn,
    )


def send(client: ScimClient, method: str, path: str, body: Any) -> Any:
    """A request with ``body`` as JSON with every non-ASCII character escaped (lone surrogates too)."""
    return client.simulate_request(
        method,
        f"{SCIM}{path}",
        body=json.dumps(body),
        headers={"Content-Type": "application/scim+json"},
    )


def assert_scim_error(response: Any, status: int) -> None:
    body = response.json
    assert body["schemas"] == [ERROR], body
    assert body["status"] == str(status), body
    assert isinstance(body["detail"], str) and body["detail"], body
    if "scimType" in body:
        assert body["scimType"] in SCIM_TYPES, body


def create(client: ScimClient, body: dict[str, Any]) -> str:
    response = send(client, "POST", "/Users", body)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


# --- strategies --------------------------------------------------------------------------------------

# LDAP filter and DN metacharacters, separators, controls, bidi marks, a BOM, non-BMP and combining text.
HOSTILE_PIECES = [
    *"*()\\,=+<>#;\"'/ .@-_",
    "\x00",
    "\n",
    "\r",
    "\t",
    "\x1b",
    "\x7f",
    "\x85",
    "\u00a0",
    "\u2003",
    "\u3000",
    "\u2028",
    "\u200b",
    "\u200f",
    "\u202e",
    "\ufeff",
    "\U0001f600",
    "\U0001f469\u200d\U0001f4bb",
    "e\u0301",
    "\u00e9",
    "\u00df",
    "\u0130",
    "\ufb01",
    "a",
    "B",
    "7",
    "uid=x",
    "*)(uid=*",
    "\\2a",
    "\\00",
]
HOSTILE = st.lists(st.sampled_from(HOSTILE_PIECES), max_size=8).map("".join) | st.text(max_size=10)
SURROGATE = st.just("\ud800x")  # valid JSON ("\ud800"), yet no Unicode text

USER_ATTRIBUTES = [
    "userName",
    "displayName",
    "title",
    "active",
    "externalId",
    "password",
    "emails",
    "phoneNumbers",
    "addresses",
    "name",
    "groups",
    "roles",
    "x509Certificates",
    "id",
    "meta",
    "schemas",
    "preferredLanguage",
    ENTERPRISE,
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:employeeNumber",
    "manager",
    "members",
    "noSuchAttribute",
]
SUB_ATTRIBUTES = ["value", "type", "primary", "display", "givenName", "familyName", "formatted", "$ref"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | HOSTILE
    | SURROGATE
    | st.sampled_from(["True", "false", "", "work", "2011-05-13T04:42:34Z"])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(SUB_ATTRIBUTES + USER_ATTRIBUTES) | HOSTILE, kids, max_size=4)
    ),
    max_leaves=8,
)


def quoted(value: str) -> str:
    return json.dumps(value)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn about ``weight`` times in the sum of the weights."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(pool) - 1).flatmap(lambda i: pool[i])


USER_FILTER_PATHS = [
    "userName",
    "displayName",
    "title",
    "emails",
    "emails.value",
    "emails.type",
    "name.givenName",
    "externalId",
    "id",
    "active",
    "meta.created",
    "meta.lastModified",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:employeeNumber",
    "groups",
    "x",
    "not",
    "urn:x:y",
]
GROUP_FILTER_PATHS = [
    "displayName",
    "externalId",
    "id",
    "members",
    "members.value",
    "meta.created",
    "x",
    "title",
]
COMPARE = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "xx"]


def leaves(paths: list[str]) -> st.SearchStrategy[str]:
    value = (
        HOSTILE.map(quoted)
        | st.integers().map(str)
        | st.sampled_from(["true", "false", "null", "1.5e3", "bare", '"unterminated', "\\"])
    )
    compare = st.builds(
        lambda p, o, v: f"{p} {o} {v}", st.sampled_from(paths), st.sampled_from(COMPARE), value
    )
    present = st.sampled_from(paths).map(lambda p: f"{p} pr")
    return compare | present


def _value_path(attr: str, inner: str) -> str:
    return f"{attr}[{inner}]"


SUB_FILTERS = leaves(["value", "type", "primary", "display", "streetAddress"])


def filter_trees(paths: list[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves(paths),
        lambda kids: (
            st.builds(lambda a, b: f"{a} and {b}", kids, kids)
            | st.builds(lambda a, b: f"({a}) or ({b})", kids, kids)
            | st.builds(lambda a: f"not ({a})", kids)
            | st.builds(
                _value_path, st.sampled_from(["emails", "members", "addresses", "userName"]), SUB_FILTERS
            )
        ),
        max_leaves=6,
    )


def _mutate(text: str, at: int, insert: str, cut: int) -> str:
    at %= len(text) + 1
    return text[:at] + insert + text[at + cut :]


def filters(paths: list[str]) -> st.SearchStrategy[str]:
    """Filters of the grammar (most), the same with a character inserted or cut, and any text."""
    trees = filter_trees(paths)
    mutated = st.builds(
        _mutate, trees, st.integers(0, 200), st.sampled_from([*'()[]" \\', "and", "not"]), st.integers(0, 3)
    )
    extremes = st.sampled_from(
        ["(" * 40 + "title pr" + ")" * 40, "not (" * 40 + "title pr" + ")" * 40, "a" * 5000]
    )
    return weighted((6, trees), (2, mutated), (1, st.text(max_size=40)), (1, extremes))


QUERIES = st.sampled_from(["/Users", "/Groups"]).flatmap(
    lambda endpoint: st.tuples(
        st.just(endpoint), filters(USER_FILTER_PATHS if endpoint == "/Users" else GROUP_FILTER_PATHS)
    )
)


# --- properties -----------------------------------------------------------------------------------------


def test_any_filter_is_answered_or_refused_as_invalid(backend: Backend) -> None:
    """GET /Users and /Groups with any ``filter`` (and any count/startIndex): 200, or a 400 SCIM error."""
    client = backend.client
    create(client, {"userName": "ann", "emails": [{"type": "work", "value": "ann@x.org"}]})
    assert send(client, "POST", "/Groups", {"displayName": "team"}).status_code == 201

    @FUZZ
    @example(("/Users", 'userName co ""'), None)  # found: rendered (uid=**), which ldap3 refuses: a 500
    @example(("/Groups", 'displayName co ""'), None)
    @given(QUERIES, weighted((6, st.none()), (3, st.integers(-5, 10**20).map(str)), (1, st.text(max_size=5))))
    def answered(query: tuple[str, str], count: str | None) -> None:
        endpoint, text = query
        params = {"filter": text, **({"count": count} if count is not None else {})}
        response = client.simulate_get(f"{SCIM}{endpoint}", params=params)
        assert response.status_code in (200, 400), (text, count, response.status_code, response.text)
        if response.status_code == 400:
            assert_scim_error(response, 400)
            assert response.json["scimType"] in ("invalidFilter", "invalidValue"), response.json

    answered()


def test_any_bytes_in_the_query_string_are_answered_or_refused(backend: Backend) -> None:
    """A query string of arbitrary percent-encoded bytes (not UTF-8, NUL, surrogates): 200 or 400."""
    client = backend.client

    @FUZZ
    @given(st.binary(max_size=40), st.sampled_from(["filter", "count", "startIndex", "attributes"]))
    def answered(raw: bytes, name: str) -> None:
        query = f"{name}={urllib.parse.quote_from_bytes(raw)}"
        response = client.simulate_get(f"{SCIM}/Users", query_string=query)
        assert response.status_code in (200, 400), (raw, name, response.status_code, response.text)
        if response.status_code == 400:
            assert_scim_error(response, 400)

    answered()


TEXT = HOSTILE | st.sampled_from(["Engineer", "R&D", "1 Main St\nFloor 2", "x@example.org", ""])
NAMES = HOSTILE | st.sampled_from(["target", "other", "renamed", "z#", "team", "bystander"])
GARBAGE_PATHS = (
    st.sampled_from(
        [
            *USER_ATTRIBUTES,
            "name.noSuch",
            "emails.value",
            'emails[type eq "work"]',
            'emails[value co "@"]',
            'members[value eq "nobody" or value eq "x"]',
        ]
    )
    | HOSTILE
    | filter_trees(USER_FILTER_PATHS).map(lambda f: f"emails[{f}].value")
    | JSON_VALUES
)
OPS = st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove"])
ANY_OPS = OPS | st.sampled_from(["copy", "", 1, None])
Targets = list[tuple[str, st.SearchStrategy[Any]]]


def member_values(ids: list[str]) -> st.SearchStrategy[Any]:
    member = st.builds(lambda i: {"value": i, "$ref": None}, st.sampled_from(ids) | HOSTILE)
    return st.lists(member, max_size=3) | member | st.sampled_from(ids)


def user_targets(ids: list[str]) -> Targets:
    """Paths of a user and values of the right shape for each (hostile inside)."""
    manager = st.sampled_from(ids) | st.builds(lambda i: {"value": i}, st.sampled_from(ids)) | HOSTILE
    email = st.fixed_dictionaries(
        {"type": st.sampled_from(["work", "home"]), "value": TEXT}, optional={"primary": st.booleans()}
    )
    return [
        ("title", TEXT),
        ("displayName", TEXT),
        ("userName", NAMES),
        ("active", st.booleans() | st.sampled_from(["True", "False", "false"])),
        ("externalId", TEXT),
        ("name.givenName", TEXT),
        (
            "name",
            st.fixed_dictionaries({}, optional={"givenName": TEXT, "familyName": TEXT, "formatted": TEXT}),
        ),
        ('emails[type eq "work"].value', TEXT),
        ("emails", st.lists(email, max_size=3)),
        ('phoneNumbers[type eq "mobile"].value', TEXT),
        ('addresses[type eq "work"].streetAddress', TEXT),
        ('addresses[type eq "work"].formatted', TEXT),
        (f"{ENTERPRISE}:employeeNumber", TEXT),
        (f"{ENTERPRISE}:department", TEXT),
        (f"{ENTERPRISE}:manager", manager),
        ("preferredLanguage", TEXT),
        ("password", TEXT),
    ]


def group_targets(ids: list[str]) -> Targets:
    return [
        ("displayName", NAMES),
        ("externalId", TEXT),
        ("members", member_values(ids)),
        *((f"members[value eq {quoted(i)}]", st.none()) for i in ids),
    ]


def operations(targets: Targets, ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """One PATCH operation: mostly a real path with a value of its shape (or none), or path-less, and
    some of any op, path and value."""

    def targeted(path: str, value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.builds(
            lambda op, v, with_value: {"op": op, "path": path, **({"value": v} if with_value else {})},
            OPS,
            value,
            st.booleans() | st.just(True),
        )

    one = st.sampled_from(targets).flatmap(lambda target: targeted(*target))
    simple = [(path, value) for path, value in targets if "[" not in path]
    pathless = st.builds(
        lambda op, pairs: {"op": op, "value": dict(pairs)},
        st.sampled_from(["add", "replace", "Replace"]),
        st.lists(
            st.sampled_from(simple).flatmap(lambda t: t[1].map(lambda v: (t[0], v))), min_size=1, max_size=3
        ),
    )
    garbage = st.fixed_dictionaries(
        {"op": ANY_OPS}, optional={"path": GARBAGE_PATHS, "value": JSON_VALUES | member_values(ids)}
    )
    return weighted((6, one), (2, pathless), (1, garbage))


def patch_bodies(targets: Targets, ids: list[str]) -> st.SearchStrategy[Any]:
    envelope = st.fixed_dictionaries(
        {
            "schemas": st.just([PATCH_OP]),
            "Operations": st.lists(operations(targets, ids), min_size=1, max_size=3),
        }
    )
    broken = st.fixed_dictionaries(
        {},
        optional={
            "schemas": st.just([PATCH_OP]) | JSON_VALUES,
            "Operations": JSON_VALUES | st.lists(operations(targets, ids), max_size=2),
        },
    )
    return weighted((8, envelope), (1, broken), (1, JSON_VALUES))


def _unchanged(before: State, after: State, target: str) -> None:
    """Every entry but ``target`` is as it was; none appeared or went."""
    changed = {k for k in before.keys() | after.keys() if k != target and before.get(k) != after.get(k)}
    assert not changed, {k: (before.get(k), after.get(k)) for k in changed}


def test_any_patch_of_a_user_touches_that_user_only(backend: Backend) -> None:
    client = backend.client
    target = create(client, {"userName": "target", "emails": [{"type": "work", "value": "t@x.org"}]})
    other = create(client, {"userName": "other", "title": "Bystander"})
    manager = create(client, {"userName": "boss"})
    group = send(client, "POST", "/Groups", {"displayName": "team", "members": [{"value": other}]})
    assert group.status_code == 201
    ids = [target, other, manager, group.json["id"]]

    @FUZZ
    # Found: an add whose elements all normalize away (addresses have no "value") was a TypeError: a 500.
    @example(
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "addresses", "value": [{"value": "x"}]}]}
    )
    @example({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "userName", "value": "z#"}]})
    @given(patch_bodies(user_targets(ids), ids))
    def contained(body: Any) -> None:
        before = backend.entries()
        response = send(client, "PATCH", f"/Users/{target}", body)
        assert response.status_code in (200, 204, 400, 404, 409), (body, response.status_code, response.text)
        if response.status_code >= 400:
            assert_scim_error(response, response.status_code)
        _unchanged(before, backend.entries(), target)
        assert parent_dn(backend.dn_of(target)) == dn_key(backend.user_base)

    contained()


def test_any_patch_of_a_group_touches_that_group_only(backend: Backend) -> None:
    client = backend.client
    users = [create(client, {"userName": f"member{i}"}) for i in range(3)]
    bystander = send(
        client, "POST", "/Groups", {"displayName": "bystander", "members": [{"value": users[0]}]}
    )
    target = send(client, "POST", "/Groups", {"displayName": "target"})
    assert bystander.status_code == target.status_code == 201
    target_id = target.json["id"]
    ids = [*users, bystander.json["id"], target_id]

    @FUZZ
    # Found: an add of no members became an LDAP add of no values, a protocol error on slapd: a 500.
    @example({"schemas": [PATCH_OP], "Operations": [{"op": "add", "value": {"members": []}}]})
    @example({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": []}]})
    @given(patch_bodies(group_targets(ids), ids))
    def contained(body: Any) -> None:
        before = backend.entries()
        response = send(client, "PATCH", f"/Groups/{target_id}", body)
        assert response.status_code in (200, 204, 400, 404, 409), (body, response.status_code, response.text)
        if response.status_code >= 400:
            assert_scim_error(response, response.status_code)
        _unchanged(before, backend.entries(), target_id)
        assert parent_dn(backend.dn_of(target_id)) == dn_key(backend.group_base)

    contained()


USER_BODIES = st.dictionaries(st.sampled_from(USER_ATTRIBUTES) | HOSTILE, JSON_VALUES, max_size=5).flatmap(
    lambda extra: st.fixed_dictionaries({"userName": HOSTILE | SURROGATE | JSON_VALUES}).map(
        lambda named: {**extra, **named}
    )
)


def test_any_created_user_lies_directly_under_the_user_base_with_the_name_sent(backend: Backend) -> None:
    client = backend.client

    @FUZZ
    @example({"userName": "\ud800x"})  # found: stored, then the response failed to render: a 500
    @example({"userName": "*#"})  # found: a bare '#' in a DN value, refused by ldap3's parser: a 500
    @example({"userName": "a\x00b"})
    @given(USER_BODIES)
    def placed(body: dict[str, Any]) -> None:
        before = backend.entries()
        response = send(client, "POST", "/Users", body)
        assert response.status_code in (201, 400, 409), (body, response.status_code, response.text)
        after = backend.entries()
        if response.status_code != 201:
            assert_scim_error(response, response.status_code)
            assert after == before
            return
        user_id = response.json["id"]
        assert after.keys() - before.keys() == {user_id}
        _unchanged(before, after, user_id)
        assert parent_dn(backend.dn_of(user_id)) == dn_key(backend.user_base)
        read = client.simulate_get(f"{SCIM}/Users/{user_id}")
        assert read.status_code == 200 and read.json["userName"] == body["userName"], (body, read.json)

    placed()


def _same_name(a: str, b: str) -> bool:
    """Whether two userNames may be one for the directory's caseIgnoreMatch (RFC 4518 string preparation:
    compatibility normalization, case folding, insignificant spaces; slapd maps line breaks and NBSP to
    SPACE too, so ``"*\\n"`` finds "*"). Looser than any backend: it admits what a rule may fold together,
    never what filter syntax would add (``*`` matching everything)."""

    def key(s: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", s).casefold().split())

    return key(a) == key(b)


def test_a_hostile_user_name_in_a_filter_finds_that_user_and_no_other(backend: Backend) -> None:
    client = backend.client
    for decoy in ["*", "a*", "admin", "x)(uid=*", "\\2a", "uid=admin", "a,b", "é"]:
        create(client, {"userName": decoy})

    @FUZZ
    @example("*#")
    @example("'\u00df\u2028")  # found: slapd stored it, and no equality filter found it again
    @example("*\n")  # slapd's caseIgnoreMatch folds the line feed: it finds "*", which is right
    @example("x)(uid=*")
    @given(HOSTILE.filter(lambda s: s.strip()))
    def exact(name: str) -> None:
        made = send(client, "POST", "/Users", {"userName": name})
        assert made.status_code in (201, 400, 409), (name, made.status_code, made.text)
        found = client.simulate_get(f"{SCIM}/Users", params={"filter": f"userName eq {quoted(name)}"})
        assert found.status_code in (200, 400), (name, found.status_code, found.text)
        if found.status_code == 400:
            assert made.status_code == 400, (name, found.json)
            return
        names = [user["userName"] for user in found.json["Resources"]]
        assert all(_same_name(n, name) for n in names), (name, names)
        if made.status_code == 201:
            assert [u["id"] for u in found.json["Resources"]] == [made.json["id"]], (name, names)
        elif made.status_code == 409:
            assert len(names) == 1, (name, names)

    exact()


RAW_BODIES = (
    st.binary(max_size=60)
    | JSON_VALUES.map(json.dumps).map(str.encode)
    | st.sampled_from([b"[" * 5000, b'{"a":' * 3000, b"\xff\xfe", b'"\\ud800"', b"{}" * 3])
)


def test_any_raw_body_to_any_write_is_answered_without_a_500(backend: Backend) -> None:
    client = backend.client
    user = create(client, {"userName": "raw"})
    group = send(client, "POST", "/Groups", {"displayName": "raw"}).json["id"]

    @FUZZ
    @given(
        RAW_BODIES,
        st.sampled_from(
            [
                ("POST", "/Users"),
                ("POST", "/Groups"),
                ("PUT", f"/Users/{user}"),
                ("PUT", f"/Groups/{group}"),
                ("PATCH", f"/Users/{user}"),
                ("PATCH", f"/Groups/{group}"),
                ("POST", "/Users/.search"),
                ("POST", "/.search"),
            ]
        ),
        st.sampled_from(["application/scim+json", "application/json; charset=utf-8", "text/plain"]),
    )
    def answered(raw: bytes, route: tuple[str, str], content_type: str) -> None:
        method, path = route
        before = backend.entries()
        response = client.simulate_request(
            method, f"{SCIM}{path}", body=raw, headers={"Content-Type": content_type}
        )
        assert response.status_code in (200, 201, 204, 400, 404, 409, 415), (
            raw,
            route,
            response.status_code,
            response.text,
        )
        if response.status_code >= 400:
            assert_scim_error(response, response.status_code)
        after = backend.entries()
        created = after.keys() - before.keys()
        assert len(created) <= (response.status_code == 201), created
        target = path.rsplit("/", 1)[-1] if method in ("PUT", "PATCH") else next(iter(created), "")
        _unchanged(before, after, target)

    answered()


@pytest.mark.parametrize("name", ["z\u2003", "z\u3000", "z#", "z#z", "#z"])
def test_a_user_is_written_by_its_own_dn_even_where_ldap3_would_misparse_it(
    backend: Backend, name: str
) -> None:
    """Found by the fuzzer. ldap3's DN parser refuses a bare '#' inside a value, which slapd returns
    unescaped (RFC 4514 2.4 escapes only a leading one): creating "z#" was a 500. And it strips all
    Unicode whitespace from the ends of values (see the next test)."""
    client = backend.client
    first = create(client, {"userName": name, "title": "first"})
    twin = send(client, "POST", "/Users", {"userName": "z", "title": "twin"})
    assert twin.status_code in (201, 409), twin.text  # 409 where slapd's uid matching says they are one
    before = backend.entries()
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "changed"}]}
    patched = send(client, "PATCH", f"/Users/{first}", patch)
    assert patched.status_code == 200 and patched.json["id"] == first, patched.text
    assert patched.json["userName"] == name and patched.json["title"] == "changed"
    _unchanged(before, backend.entries(), first)
    assert client.simulate_delete(f"{SCIM}/Users/{first}").status_code == 204
    assert before.keys() - backend.entries().keys() == {first}


def test_a_user_beside_its_trimmed_twin_is_written_by_its_own_dn(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    """Found by the fuzzer: ldap3 strips all Unicode whitespace from the ends of DN values, so the DN
    ``uid=z\\u2028`` that slapd returns became ``uid=z``, which slapd holds as another entry, and a PATCH
    of the first user was written to the second. The bridge now refuses U+2028 in a userName, but an
    existing directory may hold such a name, and a map may name entries by a free-text attribute."""
    client = ldap_client()
    for name in ("z", "z\u2028"):
        attributes = {"objectClass": ["inetOrgPerson"], "uid": name, "sn": "s", "cn": "c", "title": "before"}
        inspector.add(f"{make_rdn(('uid', name))},{inspector.subtree.user_base}", attributes)
    by_name = {
        entry["userName"]: entry["id"]
        for entry in client.simulate_get(f"{SCIM}/Users", params={"filter": 'title eq "before"'}).json[
            "Resources"
        ]
    }
    assert by_name.keys() == {"z", "z\u2028"}
    plain, twin = by_name["z"], by_name["z\u2028"]
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "after"}]}
    patched = send(client, "PATCH", f"/Users/{twin}", patch)
    assert patched.status_code == 200 and patched.json["id"] == twin, patched.text
    assert client.simulate_get(f"{SCIM}/Users/{plain}").json["title"] == "before"
    assert client.simulate_delete(f"{SCIM}/Users/{twin}").status_code == 204
    assert client.simulate_get(f"{SCIM}/Users/{plain}").status_code == 200


def test_non_bmp_combining_and_bidi_characters_round_trip_exactly(backend: Backend) -> None:
    """Emoji (outside the BMP, and joined by U+200D), combining accents and bidi marks are stored as the
    UTF-8 of exactly what was sent, read back exactly, and found by an equality filter."""
    client = backend.client
    name, title = "jose\u0301.\U0001f600\u200f@example.org", "Inge\u0301nieur \u0928\u093f"
    body: dict[str, Any] = {
        "userName": name,
        "displayName": "\U0001f469\u200d\U0001f4bb \u202eLee\u202c",
        "title": title,
        "name": {
            "givenName": "Zo\u00eb",
            "familyName": "\U00020bb7\u0301",
            "formatted": "Zo\u00eb \U00020bb7",
        },
    }
    user_id = create(client, body)
    read = client.simulate_get(f"{SCIM}/Users/{user_id}").json
    assert {key: read[key] for key in body} == body
    stored = backend.entries()[user_id][1]
    for attribute, value in (("uid", name), ("title", title), ("sn", "\U00020bb7\u0301")):
        assert [v.decode() if isinstance(v, bytes) else v for v in stored[attribute]] == [value]
    found = client.simulate_get(f"{SCIM}/Users", params={"filter": f"userName eq {quoted(name)}"})
    assert [user["id"] for user in found.json["Resources"]] == [user_id]
