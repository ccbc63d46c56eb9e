"""Okta's provisioning client replayed against the real server, on slapd and on a Samba AD DC (issue 15,
point 5).

Every request has the method, path, query string, body and headers that Okta's documentation shows, and
every step is checked in the directory through a connection of the test's own: the values written, the
password (a salted hash in ``userPassword`` on OpenLDAP, ``unicodePwd`` over LDAPS on AD; judged by real
binds with the new password and the old one), the lock, the members, and, for requests that must write
nothing, the entry's change marker (``entryCSN`` and ``modifyTimestamp``, or ``uSNChanged`` and
``whenChanged``) and the bridge's audit log.

Sources, all Okta's own (the keys of docs/okta.md):

[O1] "Okta and SCIM Version 2.0" (SCIM 2.0 Protocol Reference),
     https://developer.okta.com/docs/reference/scim/scim-20/, now at
     https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20 (okta/okta-developer-docs,
     packages/@okta/vuepress-site/docs/reference/scim/scim-20/index.md): the existence check
     ``filter=userName eq "..."&startIndex=1&count=100``; the POST body, whose ``password`` Okta sends
     "even if password sync isn't enabled"; a profile change as a GET then a full PUT; the deactivating
     PATCH ``{"op": "replace", "value": {"active": false}}``; imports page by page with ``count=100``;
     Group Push: POST with ``members: []``, the rename PATCH whose value holds ``id`` and ``displayName``
     ("triggered each time there is a group membership update"), a remove and an add in one PATCH, a
     ``replace`` of ``members``, the group PUT of App Integration Wizard apps, DELETE; a PATCH may
     answer 204.
[O2] "SCIM Protocol", https://developer.okta.com/docs/reference/scim/ (an earlier revision of
     packages/@okta/vuepress-site/docs/reference/scim/index.md): the same requests with every header
     (``User-Agent: Okta SCIM Client 1.0.0``, ``Accept: application/scim+json``, ``Accept-Charset: utf-8``,
     ``Content-Type: application/scim+json; charset=utf-8``; for SCIM 1.1 ``application/json;
     charset=utf-8`` and ``Accept: application/json``), the short list ``/Users?startIndex=1&count=2``,
     ``+`` for spaces in the filter, and a user PUT carrying ``password`` and a ``meta`` with dates that
     are not RFC 3339.
[O3] "Connect your SCIM API service to Okta",
     https://developer.okta.com/docs/guides/scim-provisioning-integration-connect/main/: the To App
     features; Deactivate Users also reactivates a user assigned again; custom (AIW) apps send every
     user change, the deactivation included, as a PUT [O1].
[O5] "Okta and SCIM Version 1.1", https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-11:
     saving the integration reads ``/Users?startIndex=1&count=2`` and ``/Groups?startIndex=1&count=100``.

Not shown by Okta, so assumed here: the reactivating PATCH (the deactivating one with ``true``) and the
Sync Password PATCH (a path-less ``replace`` of ``{"password": ...}``, the shape of the others).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import ldap3
import pytest
import yaml

from bridge.testing.samba import SambaInfo
from tests.conftest import OPENLDAP_MAP, REPO, TOKEN
from tests.e2e.conftest import Bridge, serve, serve_with
from tests.samba_fixtures import AdSubtree
from tests.slapd_fixtures import Inspector

AD_MAP = REPO / "config" / "maps" / "active-directory.yaml"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PLACEHOLDER = yaml.safe_load(OPENLDAP_MAP.read_text())["group"]["members"]["placeholder"]
# Each meets AD's default complexity rules (three kinds of character, 7 or more), and none is another's
# prefix, so a bind with an old one proves nothing by accident.
PASSWORD, SYNCED, PUSHED = "Okta-Initial-7q", "Synced-By-Okta-8r", "Pushed-In-Put-9s"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Okta:
    """Okta's SCIM client as [O1][O2] show it: its headers on every request, the filter quoted with
    ``%20`` and ``%22`` as in [O1]'s example, JSON bodies."""

    def __init__(
        self,
        bridge: Bridge,
        content_type: str = "application/scim+json; charset=utf-8",
        accept: str = "application/scim+json",
    ) -> None:
        self.url, self.content_type = bridge.url, content_type
        self.headers = {
            "User-Agent": "Okta SCIM Client 1.0.0",
            "Accept": accept,
            "Accept-Charset": "utf-8",
            "Authorization": f"Bearer {TOKEN}",
        }

    def send(self, method: str, path: str, body: Any = None, query: str = "") -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path + (f"?{query}" if query else ""), data=data, method=method
        )
        for name, value in self.headers.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", self.content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, headers = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, dict(error.headers)
        return Answer(status, json.loads(raw) if raw else None, headers)

    def get(self, path: str, **query: Any) -> Answer:
        return self.send("GET", path, query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote))

    def lookup(self, user_name: str) -> Answer:
        """Okta's check whether the user exists, before it creates one [O1]."""
        return self.get("/Users", filter=f'userName eq "{user_name}"', startIndex=1, count=100)

    def patch(self, path: str, *operations: dict[str, Any]) -> Answer:
        return self.send("PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)})

    def pages(self, resource: str) -> tuple[list[dict[str, Any]], int]:
        """An import [O1]: ``count=100`` from ``startIndex=1``, then ``startIndex+100`` while
        ``totalResults`` says more remain. Every page is checked as Okta reads it."""
        found: list[dict[str, Any]] = []
        start, total = 1, None
        while total is None or start <= total:
            page = self.get(f"/{resource}", startIndex=start, count=100)
            assert page.status == 200, page.body
            body = page.body
            assert body["schemas"] == [LIST]
            for key in ("totalResults", "startIndex", "itemsPerPage"):  # integers, not strings [O1]
                assert type(body[key]) is int, (key, body[key])
            assert body["startIndex"] == start and body["itemsPerPage"] == len(body["Resources"]) <= 100
            assert total in (None, body["totalResults"])  # nothing changed between pages
            total = body["totalResults"]
            found += body["Resources"]
            start += 100
        return found, total


def okta_user(user_name: str, password: str = PASSWORD) -> dict[str, Any]:
    """[O1]'s POST body, for ``user_name``."""
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": password,
        "active": True,
    }


def replace_value(**value: Any) -> dict[str, Any]:
    """A path-less ``replace`` whose value holds attributes, as Okta patches users and renames groups."""
    return {"op": "replace", "value": value}


class Directory(Protocol):
    """What the tests read in the directory, the same way on OpenLDAP and on AD."""

    placeholder: str | None

    def entry(self, resource_id: str) -> dict[str, list[str]] | None: ...
    def marker(self, resource_id: str) -> tuple[str, ...]: ...
    def can_bind(self, user_id: str, password: str) -> bool: ...
    def id_of(self, dn: str) -> str: ...
    def seed(self, users: int, groups: int) -> tuple[set[str], set[str]]: ...


class Slapd:
    """The session slapd through the test's :class:`Inspector`; ids are entryUUIDs."""

    placeholder: str | None = PLACEHOLDER

    def __init__(self, inspector: Inspector) -> None:
        self.inspector = inspector

    def _found(self, ldap_filter: str) -> tuple[str, dict[str, list[str]]] | None:
        found = self.inspector.find(ldap_filter)
        assert len(found) <= 1, found
        return found[0] if found else None

    def entry(self, resource_id: str) -> dict[str, list[str]] | None:
        found = self._found(f"(entryUUID={resource_id})")
        return {"dn": [found[0]], **found[1]} if found else None

    def marker(self, resource_id: str) -> tuple[str, ...]:
        entry = self.entry(resource_id)
        assert entry is not None
        return (*entry["entrycsn"], *entry["modifytimestamp"])

    def can_bind(self, user_id: str, password: str) -> bool:
        entry = self.entry(user_id)
        assert entry is not None
        return self.inspector.can_bind(entry["dn"][0], password)

    def id_of(self, dn: str) -> str:
        entry = self.inspector.entry(dn)
        assert entry is not None, dn
        return entry["entryuuid"][0]

    def seed(self, users: int, groups: int) -> tuple[set[str], set[str]]:
        """Entries an administrator made, which an import must find."""
        subtree = self.inspector.subtree
        for i in range(users):
            uid = f"seed{i:03}@okta.local"
            self.inspector.add(
                f"uid={uid},{subtree.user_base}",
                {"objectClass": ["inetOrgPerson"], "uid": uid, "cn": f"Seed {i}", "sn": f"Seed {i}"},
            )
        for i in range(groups):
            name = f"Seed group {i:03}"
            self.inspector.add(
                f"cn={name},{subtree.group_base}",
                {"objectClass": ["groupOfNames"], "cn": name, "member": [PLACEHOLDER]},
            )
        return (
            {e["entryuuid"][0] for _, e in self.inspector.find("(uid=seed*)")},
            {e["entryuuid"][0] for _, e in self.inspector.find("(cn=Seed group*)")},
        )


class ActiveDirectory:
    """The session Samba DC over LDAPS (the CA verified); ids are objectGUIDs as UUID strings."""

    placeholder: str | None = None

    def __init__(self, info: SambaInfo, subtree: AdSubtree) -> None:
        self.info, self.subtree = info, subtree
        self.tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=info.ca_file)
        self.conn = self._connect(info.bind_dn, info.password)
        assert self.conn.bind(), self.conn.result

    def _connect(self, who: str, password: str) -> ldap3.Connection:
        # No schema (see tests/integration/conftest.py, AdInspector): with it ldap3 mangles some GUID filters.
        server = ldap3.Server(self.info.ldaps_url, use_ssl=True, tls=self.tls, get_info=ldap3.NONE)
        return ldap3.Connection(server, who, password, auto_referrals=False)

    def _search(self, base: str, ldap_filter: str, scope: str) -> list[tuple[str, dict[str, list[str]]]]:
        self.conn.search(base, ldap_filter, scope, attributes=["*", "objectGUID", "uSNChanged"])
        return [
            (
                item["dn"],
                {k.lower(): [_text(k, v) for v in vals] for k, vals in item["raw_attributes"].items()},
            )
            for item in self.conn.response
            if item["type"] == "searchResEntry"
        ]

    def entry(self, resource_id: str) -> dict[str, list[str]] | None:
        guid = "".join(f"\\{b:02x}" for b in uuid.UUID(resource_id).bytes_le)
        found = self._search(self.subtree.base, f"(objectGUID={guid})", ldap3.SUBTREE)
        assert len(found) <= 1, found
        return {"dn": [found[0][0]], **found[0][1]} if found else None

    def marker(self, resource_id: str) -> tuple[str, ...]:
        entry = self.entry(resource_id)
        assert entry is not None
        return (*entry["usnchanged"], *entry["whenchanged"])

    def can_bind(self, user_id: str, password: str) -> bool:
        entry = self.entry(user_id)
        assert entry is not None
        conn = self._connect(entry["userprincipalname"][0], password)
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()

    def id_of(self, dn: str) -> str:
        ((_, entry),) = self._search(dn, "(objectClass=*)", ldap3.BASE)
        return entry["objectguid"][0]

    def seed(self, users: int, groups: int) -> tuple[set[str], set[str]]:
        """Accounts and groups an administrator made, which an import must find."""
        tag = uuid.uuid4().hex[:6]  # sAMAccountName is unique in the whole domain
        for i in range(users):
            name = f"seed{tag}{i:03}"
            attributes = {"sAMAccountName": name, "userPrincipalName": f"{name}@okta.local"}
            assert self.conn.add(f"CN={name},{self.subtree.user_base}", ["user"], attributes), (
                self.conn.result
            )
        for i in range(groups):
            name = f"seed-group-{tag}{i:03}"
            assert self.conn.add(
                f"CN={name},{self.subtree.group_base}", ["group"], {"sAMAccountName": name}
            ), self.conn.result
        return (
            {
                e["objectguid"][0]
                for _, e in self._search(self.subtree.user_base, "(cn=seed*)", ldap3.SUBTREE)
            },
            {
                e["objectguid"][0]
                for _, e in self._search(self.subtree.group_base, "(cn=seed*)", ldap3.SUBTREE)
            },
        )


def _text(name: str, value: bytes) -> str:
    return (
        str(uuid.UUID(bytes_le=value)) if name.lower() == "objectguid" else value.decode("utf-8", "replace")
    )


@dataclass
class Target:
    """The bridge serving one directory, Okta's client for it, and the test's view of the directory."""

    kind: str
    bridge: Bridge
    okta: Okta
    directory: Directory

    def audit(self) -> list[dict[str, Any]]:
        """The bridge's audit log lines so far: one per directory write, done or failed."""
        return [line for line in self.bridge.log_lines() if line["logger"] == "bridge.audit"]

    def writes(self) -> int:
        return len(self.audit())

    def members(self, group_id: str) -> set[str]:
        """The ids the group entry holds as members, the placeholder left out."""
        entry = self.directory.entry(group_id)
        assert entry is not None
        dns = [dn for dn in entry.get("member", []) if dn != self.directory.placeholder]
        return {self.directory.id_of(dn) for dn in dns}


@pytest.fixture(
    params=[
        pytest.param("openldap", marks=pytest.mark.slapd),
        pytest.param("active_directory", marks=pytest.mark.samba),
    ]
)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """The real server (``serve``) over the test's own subtree of the session slapd (shipped OpenLDAP
    map, StartTLS) or of the session Samba DC (shipped AD map, LDAPS)."""
    if request.param == "openldap":
        slapd, subtree = request.getfixturevalue("slapd"), request.getfixturevalue("ldap_subtree")
        with contextmanager(serve)(slapd, subtree, tmp_path) as bridge:
            yield Target("openldap", bridge, Okta(bridge), Slapd(request.getfixturevalue("inspector")))
        return
    samba, ad_subtree = request.getfixturevalue("samba"), request.getfixturevalue("ad_subtree")
    ldap = {
        "urls": [samba.ldaps_url],
        "tls": "ldaps",
        "ca_file": samba.ca_file,
        "directory": "active_directory",
        "bind_dn": samba.bind_dn,
        "user_base": ad_subtree.user_base,
        "group_base": ad_subtree.group_base,
    }
    directory = ActiveDirectory(samba, ad_subtree)
    try:
        with contextmanager(serve_with)(tmp_path, ldap, samba.password, AD_MAP) as bridge:
            yield Target("active_directory", bridge, Okta(bridge), directory)
    finally:
        directory.conn.unbind()


def created(target: Target, user_name: str = "test.user@okta.local") -> str:
    """Okta's assignment of a new user: the lookup that finds nothing, then the POST [O1]. Its id."""
    assert target.okta.lookup(user_name).body["totalResults"] == 0
    answer = target.okta.send("POST", "/Users", okta_user(user_name))
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


# --- users ---------------------------------------------------------------------------------------


def test_test_api_credentials_and_the_lookup_answer_without_a_write(target: Target) -> None:
    okta = target.okta
    for resource, count in (("Users", 2), ("Groups", 100)):  # what saving the integration reads [O2][O5]
        answer = okta.get(f"/{resource}", startIndex=1, count=count)
        assert answer.status == 200 and answer.body["schemas"] == [LIST], answer.body
        assert answer.headers["Content-Type"].startswith("application/scim+json")
    for query in (  # [O1]'s %20 and [O2]'s +
        "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
        "filter=userName+eq+%22test.user%40okta.local%22&startIndex=1&count=100",
    ):
        answer = okta.send("GET", "/Users", query=query)
        assert answer.status == 200, answer.body
        assert answer.body == {
            "schemas": [LIST],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": [],
        }
    assert target.writes() == 0


def test_an_assigned_user_is_created_once_with_the_password_as_the_map_says(target: Target) -> None:
    user_id = created(target)
    okta, directory = target.okta, target.directory
    assert target.writes() == 1  # one LDAP add: the password and the enabled state are in it
    entry = directory.entry(user_id)
    assert entry is not None
    assert entry["mail"] == ["test.user@okta.local"] and entry["givenname"] == ["Test"]
    assert entry["sn"] == ["User"] and entry["displayname"] == ["Test User"]
    if target.kind == "openldap":
        assert entry["uid"] == ["test.user@okta.local"]
        assert entry["scimexternalid"] == ["00ujl29u0le5T6Aj10h7"]
        (stored,) = entry["userpassword"]
        assert stored.startswith("{SSHA}") and PASSWORD not in stored  # the map's scheme, never clear
        assert "pwdaccountlockedtime" not in entry
    else:
        assert entry["userprincipalname"] == ["test.user@okta.local"]
        assert entry["msds-cloudextensionattribute1"] == ["00ujl29u0le5T6Aj10h7"]
        assert entry["useraccountcontrol"] == ["512"]  # enabled: AD took Okta's password
        assert "unicodepwd" not in entry  # AD never lets it be read
    assert directory.can_bind(user_id, PASSWORD)
    assert not directory.can_bind(user_id, PASSWORD + "x")

    found = okta.lookup("test.user@okta.local").body
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user_id
    shown = found["Resources"][0]
    assert shown["active"] is True and shown["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert "password" not in shown
    # Neither map stores locale: the write went on without it, and the access line says so.
    posts = [line for line in target.bridge.log_lines() if line.get("method") == "POST"]
    assert [line.get("unmapped") for line in posts] == [["locale"]]
    # Okta's lookup missed it (it was created meanwhile): the second POST is the 409 Okta expects [O1].
    again = okta.send("POST", "/Users", okta_user("test.user@okta.local"))
    assert again.status == 409 and again.body["scimType"] == "uniqueness", again.body
    assert target.writes() == 1


def test_the_placeholder_password_okta_always_sends_is_stored_or_refused_in_plain_words(
    target: Target,
) -> None:
    """Okta sends a password with every create, "even if password sync isn't enabled" [O1], and [O1]'s
    example is eight lower-case letters and digits. OpenLDAP stores it hashed like any other; AD's default
    complexity rules refuse it, which the bridge answers with a 400 that says why, not quoting it, and
    nothing is created."""
    answer = target.okta.send("POST", "/Users", okta_user("test.user@okta.local", password="1mz050nq"))
    if target.kind == "openldap":
        assert answer.status == 201, answer.body
        entry = target.directory.entry(answer.body["id"])
        assert entry is not None and entry["userpassword"][0].startswith("{SSHA}")
        assert target.directory.can_bind(answer.body["id"], "1mz050nq")
        return
    assert answer.status == 400 and answer.body["scimType"] == "invalidValue", answer.body
    assert "password does not meet the domain's" in answer.body["detail"]
    assert "1mz050nq" not in json.dumps(answer.body)
    assert target.okta.lookup("test.user@okta.local").body["totalResults"] == 0


def test_a_profile_push_is_a_get_then_a_full_put_and_the_same_put_again_writes_nothing(
    target: Target,
) -> None:
    user_id = created(target)
    okta, directory = target.okta, target.directory
    current = okta.get(f"/Users/{user_id}")
    assert current.status == 200
    body = current.body  # Okta changes what changed in Okta, and sends all of it back [O1]
    body["name"] = {**body["name"], "givenName": "Another", "middleName": "Excited"}
    body["displayName"] = "Another User"
    body["groups"] = []  # as in [O1]'s PUT, with its emails
    body["emails"] = [{"primary": True, "value": "test.user@okta.local", "type": "work", "display": "Test"}]
    pushed = okta.send("PUT", f"/Users/{user_id}", body)
    assert pushed.status == 200, pushed.body
    assert pushed.body["name"]["givenName"] == "Another" and pushed.body["displayName"] == "Another User"
    entry = directory.entry(user_id)
    assert entry is not None
    assert entry["givenname"] == ["Another"] and entry["displayname"] == ["Another User"]
    assert entry["sn"] == ["User"] and entry["mail"] == ["test.user@okta.local"]  # the rest as it was
    assert directory.can_bind(user_id, PASSWORD)  # a PUT without a password keeps it

    writes, marker = target.writes(), directory.marker(user_id)
    for _ in range(2):  # the next cycle finds nothing changed, and so does the one after
        assert okta.send("PUT", f"/Users/{user_id}", body).status == 200
    assert target.writes() == writes and directory.marker(user_id) == marker


def test_deactivate_and_reactivate_lock_and_unlock_by_patch_and_by_put(target: Target) -> None:
    user_id = created(target)
    okta, directory = target.okta, target.directory
    path = f"/Users/{user_id}"

    def locked() -> bool:
        entry = directory.entry(user_id)
        assert entry is not None
        if target.kind == "openldap":
            assert entry.get("pwdaccountlockedtime") in (None, ["000001010000Z"])
            return "pwdaccountlockedtime" in entry
        assert entry["useraccountcontrol"] in (["512"], ["514"])  # only the ACCOUNTDISABLE bit moves
        return entry["useraccountcontrol"] == ["514"]

    deactivated = okta.patch(path, replace_value(active=False))  # [O1]
    assert deactivated.status == 200 and deactivated.body["active"] is False, deactivated.body
    assert locked() and not directory.can_bind(user_id, PASSWORD)
    writes, marker = target.writes(), directory.marker(user_id)
    assert okta.patch(path, replace_value(active=False)).status == 200  # a retry writes nothing
    assert target.writes() == writes and directory.marker(user_id) == marker
    still = okta.get(path).body  # a deactivated user is still found, by id and by lookup
    assert still["active"] is False and okta.lookup("test.user@okta.local").body["totalResults"] == 1

    reactivated = okta.patch(path, replace_value(active=True))
    assert reactivated.status == 200 and reactivated.body["active"] is True, reactivated.body
    assert not locked() and directory.can_bind(user_id, PASSWORD)

    # An App Integration Wizard app sends the same as a full PUT [O1][O3].
    body = okta.get(path).body
    assert okta.send("PUT", path, {**body, "active": False}).body["active"] is False
    assert locked() and not directory.can_bind(user_id, PASSWORD)
    assert okta.send("PUT", path, {**body, "active": True}).body["active"] is True
    assert not locked() and directory.can_bind(user_id, PASSWORD)


def test_sync_password_by_patch_and_by_put_changes_what_binds_and_never_shows_it(target: Target) -> None:
    user_id = created(target)
    okta, directory = target.okta, target.directory
    path = f"/Users/{user_id}"

    def stored() -> str | None:
        entry = directory.entry(user_id)
        assert entry is not None
        return entry["userpassword"][0] if target.kind == "openldap" else None

    first = stored()
    synced = okta.patch(path, replace_value(password=SYNCED))
    assert synced.status == 200 and "password" not in synced.body, synced.body
    assert directory.can_bind(user_id, SYNCED) and not directory.can_bind(user_id, PASSWORD)
    if target.kind == "openldap":
        second = stored()
        assert second is not None and second != first
        assert second.startswith("{SSHA}") and SYNCED not in second

    body = okta.get(path).body
    assert "password" not in body
    # [O2]'s PUT carries the password, and a meta whose dates are not RFC 3339 and whose version is not
    # the bridge's: neither is taken for anything.
    meta = {"resourceType": "User", "created": "04-12-2018 00:00:00", "version": "v1.0"}
    pushed = okta.send("PUT", path, {**body, "password": PUSHED, "meta": meta})
    assert pushed.status == 200 and "password" not in pushed.body, pushed.body
    assert directory.can_bind(user_id, PUSHED) and not directory.can_bind(user_id, SYNCED)
    assert okta.send("PUT", path, body).status == 200  # a profile PUT after it keeps it
    assert directory.can_bind(user_id, PUSHED)

    log = target.bridge.stderr_path.read_text()
    assert all(secret not in log for secret in (PASSWORD, SYNCED, PUSHED))


def test_a_password_synced_to_a_deactivated_user_leaves_it_deactivated(target: Target) -> None:
    """Okta's documents do not show this order, but nothing stops it: a deactivated user's password
    changes. The account must stay locked (and say so), whatever the directory does on a password write."""
    user_id = created(target)
    path = f"/Users/{user_id}"
    assert target.okta.patch(path, replace_value(active=False)).body["active"] is False
    synced = target.okta.patch(path, replace_value(password=SYNCED))
    assert synced.status == 200 and synced.body["active"] is False, synced.body
    assert target.okta.get(path).body["active"] is False
    assert not target.directory.can_bind(user_id, SYNCED)
    assert target.okta.patch(path, replace_value(active=True)).body["active"] is True
    assert target.directory.can_bind(user_id, SYNCED)  # the synced password was written all the same


def test_scim_1_1_style_json_headers_are_served_alike(target: Target) -> None:
    """Okta's older samples send ``application/json; charset=utf-8`` and accept ``application/json``
    [O2]: the same create and deactivate work, and the answer is JSON."""
    okta = Okta(target.bridge, content_type="application/json; charset=utf-8", accept="application/json")
    answer = okta.send("POST", "/Users", okta_user("json.user@okta.local"))
    assert answer.status == 201, answer.body
    patched = okta.patch(f"/Users/{answer.body['id']}", replace_value(active=False))
    assert patched.status == 200 and patched.body["active"] is False
    assert not target.directory.can_bind(answer.body["id"], PASSWORD)


# --- imports ---------------------------------------------------------------------------------------


def test_an_import_reads_every_user_and_group_exactly_once_in_pages_of_100(target: Target) -> None:
    users, groups = target.directory.seed(users=201, groups=101)  # three pages of users, two of groups
    users.add(created(target))
    for resource, expected in (("Users", users), ("Groups", groups)):
        found, total = target.okta.pages(resource)
        ids = [item["id"] for item in found]
        assert len(ids) == len(set(ids)) == total == len(expected)  # no repeat, no gap
        assert set(ids) == expected
    assert target.writes() == 1


# --- Group Push ------------------------------------------------------------------------------------


def pushed_group(target: Target, name: str = "Test SCIMv2") -> str:
    """Group Push of a new group: a POST with no members [O1]. Its id."""
    answer = target.okta.send("POST", "/Groups", {"schemas": [GROUP], "displayName": name, "members": []})
    assert answer.status == 201, answer.body
    assert answer.body["displayName"] == name and not answer.body.get("members")
    return str(answer.body["id"])


def test_group_push_creates_renames_changes_members_and_deletes(target: Target) -> None:
    okta, directory = target.okta, target.directory
    ann, bob, cid = (created(target, f"{name}@okta.local") for name in ("ann", "bob", "cid"))
    group_id = pushed_group(target)
    path = f"/Groups/{group_id}"
    entry = directory.entry(group_id)
    assert entry is not None and entry["dn"][0].lower().startswith("cn=test scimv2,")
    assert target.members(group_id) == set()

    renamed = okta.patch(path, replace_value(id=group_id, displayName="Test SCIMv20"))
    assert renamed.status in (200, 204), renamed.body
    entry = directory.entry(group_id)  # the same entry (the id stays), under its new name
    assert entry is not None and entry["dn"][0].lower().startswith("cn=test scimv20,")
    assert entry["cn"] == ["Test SCIMv20"]

    def membership(*operations: dict[str, Any]) -> None:
        """Okta's membership update, after the rename it sends first each time [O1]: one modify."""
        again = okta.patch(path, replace_value(id=group_id, displayName="Test SCIMv20"))
        assert again.status in (200, 204), again.body
        writes = target.writes()
        answer = okta.patch(path, *operations)
        assert answer.status in (200, 204), answer.body
        assert [(line["op"], line["outcome"]) for line in target.audit()[writes:]] == [("modify", "ok")]

    def member(user_id: str) -> dict[str, str]:
        return {"value": user_id, "display": f"{user_id}@okta.local"}

    membership({"op": "add", "path": "members", "value": [member(ann), member(bob)]})
    assert target.members(group_id) == {ann, bob}
    membership(  # a remove and an add in one PATCH
        {"op": "remove", "path": f'members[value eq "{ann}"]'},
        {"op": "add", "path": "members", "value": [member(cid)]},
    )
    assert target.members(group_id) == {bob, cid}
    membership({"op": "replace", "path": "members", "value": [member(ann), member(cid)]})
    assert target.members(group_id) == {ann, cid}

    # An App Integration Wizard app sends the group whole [O1].
    whole = {"schemas": [GROUP], "id": group_id, "displayName": "Test SCIMv20", "members": [member(bob)]}
    put = okta.send("PUT", path, whole)
    assert put.status == 200, put.body
    assert target.members(group_id) == {bob}
    assert [m["value"] for m in okta.get(path).body["members"]] == [bob]

    assert okta.send("DELETE", path).status == 204
    assert directory.entry(group_id) is None and okta.get(path).status == 404
    assert all(directory.entry(user) is not None for user in (ann, bob, cid))  # the members stay


def test_the_rename_okta_repeats_before_each_membership_update_writes_nothing(target: Target) -> None:
    """Okta sends the group's name before every membership update [O1]; when it is the name the group
    already has, the directory sees no write, not even one that fails."""
    group_id = pushed_group(target)
    path = f"/Groups/{group_id}"
    rename = replace_value(id=group_id, displayName="Test SCIMv20")
    assert target.okta.patch(path, rename).status in (200, 204)
    writes, marker = target.writes(), target.directory.marker(group_id)
    for _ in range(2):
        assert target.okta.patch(path, rename).status in (200, 204)
    assert target.audit()[writes:] == []
    assert target.directory.marker(group_id) == marker
