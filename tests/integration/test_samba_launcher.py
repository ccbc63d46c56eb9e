"""The throwaway Samba AD DC launcher (bridge.testing.samba) and its fixtures, against a real DC.

What the bridge relies on in Active Directory, proven on Samba: TLS-only simple binds, users born
disabled, the password policy, userAccountControl, memberOf and little-endian objectGUIDs.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import ldap3
import pytest

import bridge.testing.samba as launcher
from bridge.testing.samba import Samba, SambaError, SambaInfo, port_holders, ports_free
from tests.samba_fixtures import AdSubtree, make_ad_subtree

pytestmark = pytest.mark.samba

REPO = Path(__file__).resolve().parents[2]
STRONG = "Str0ng-Pass!word"
NORMAL_ACCOUNT, ACCOUNTDISABLE, PASSWD_NOTREQD = 0x200, 0x2, 0x20
GLOBAL_SECURITY_GROUP = -2147483646


def server(info: SambaInfo, *, starttls: bool = False, ca_file: str | None = None) -> ldap3.Server:
    """An ldap3 server that verifies the DC's certificate chain and host name."""
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=ca_file or info.ca_file,
        version=ssl.PROTOCOL_TLS_CLIENT,
    )
    url = info.starttls_url if starttls else info.ldaps_url
    return ldap3.Server(url, use_ssl=not starttls, tls=tls, get_info=ldap3.NONE, connect_timeout=5)


def connection(
    info: SambaInfo, user: str | None = None, password: str | None = None, *, starttls: bool = False
) -> ldap3.Connection:
    """An unbound connection (the administrator unless told otherwise); StartTLS done when asked."""
    conn = ldap3.Connection(
        server(info, starttls=starttls),
        user or info.bind_upn,
        password or info.password,
        auto_referrals=False,  # never chase a reference to the realm's DNS name
        receive_timeout=10,
    )
    if starttls:
        conn.open()
        assert conn.start_tls(), conn.result
    return conn


def admin(info: SambaInfo) -> ldap3.Connection:
    conn = connection(info)
    assert conn.bind(), conn.result
    return conn


def unicode_pwd(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


def add_user(conn: ldap3.Connection, info: SambaInfo, base: str, **extra: object) -> tuple[str, str]:
    """Add a user with no password; return its DN and UPN."""
    sam = f"u{uuid.uuid4().hex[:12]}"
    dn, upn = f"CN={sam},{base}", f"{sam}@{info.realm.lower()}"
    attrs = {"sAMAccountName": sam, "userPrincipalName": upn, "givenName": "Test", "sn": sam, **extra}
    assert conn.add(dn, ["top", "person", "organizationalPerson", "user"], attrs), conn.result
    return dn, upn


def read(conn: ldap3.Connection, dn: str, *attributes: str) -> dict[str, list[bytes]]:
    assert conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes)), conn.result
    raw: dict[str, list[bytes]] = conn.response[0]["raw_attributes"]
    return {k.lower(): v for k, v in raw.items()}


def uac(conn: ldap3.Connection, dn: str) -> int:
    return int(read(conn, dn, "userAccountControl")["useraccountcontrol"][0])


def set_uac(conn: ldap3.Connection, dn: str, value: int) -> None:
    assert conn.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(value)])]}), conn.result


def set_password(conn: ldap3.Connection, dn: str, password: str) -> bool:
    return bool(conn.modify(dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [unicode_pwd(password)])]}))


def can_bind(info: SambaInfo, user: str, password: str) -> tuple[bool, dict[str, object]]:
    conn = connection(info, user, password)
    try:
        return bool(conn.bind()), dict(conn.result)
    finally:
        conn.unbind()


@pytest.fixture
def enabled_user(samba: SambaInfo, ad_subtree: AdSubtree) -> tuple[str, str]:
    """A user in the test's people OU with a strong password and UAC 512: its DN and UPN."""
    conn = admin(samba)
    dn, upn = add_user(conn, samba, ad_subtree.user_base)
    assert set_password(conn, dn, STRONG), conn.result
    set_uac(conn, dn, NORMAL_ACCOUNT)
    conn.unbind()
    return dn, upn


# -- the launcher ------------------------------------------------------------------------------


def test_the_info_describes_the_example_test_domain_on_loopback(samba: SambaInfo) -> None:
    assert samba.ldaps_url == "ldaps://127.0.0.1:636"
    assert samba.starttls_url == "ldap://127.0.0.1:389"
    assert samba.base == "DC=example,DC=test"
    assert samba.bind_dn == "CN=Administrator,CN=Users,DC=example,DC=test"
    assert samba.bind_upn == "Administrator@example.test"
    assert samba.users_container == "CN=Users,DC=example,DC=test"
    assert (samba.realm, samba.domain) == ("EXAMPLE.TEST", "EXAMPLE")
    assert Path(samba.ca_file).is_file()
    assert not ports_free()


def test_an_ldaps_bind_as_the_admin_dn_verifies_the_ca(samba: SambaInfo) -> None:
    conn = connection(samba, samba.bind_dn)
    assert conn.bind(), conn.result
    assert conn.search(samba.bind_dn, "(objectClass=user)", ldap3.BASE, attributes=["sAMAccountName"])
    assert conn.response[0]["raw_attributes"]["sAMAccountName"] == [b"Administrator"]
    conn.unbind()


def test_an_ldaps_bind_as_the_admin_upn_verifies_the_ca(samba: SambaInfo) -> None:
    conn = connection(samba, samba.bind_upn)
    assert conn.bind(), conn.result
    assert conn.search(samba.base, "(objectClass=domain)", ldap3.BASE, attributes=["objectSid"])
    conn.unbind()


def test_the_certificate_is_refused_by_a_client_that_trusts_another_ca(
    samba: SambaInfo, tmp_path: Path
) -> None:
    ca = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=another CA", "-keyout", str(tmp_path / "key.pem"), "-out", str(ca)],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    conn = ldap3.Connection(server(samba, ca_file=str(ca)), samba.bind_upn, samba.password)
    with pytest.raises(ldap3.core.exceptions.LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        conn.bind()


def test_starttls_on_389_lets_the_admin_bind(samba: SambaInfo) -> None:
    conn = connection(samba, starttls=True)
    assert conn.bind(), conn.result
    assert conn.search(samba.users_container, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
    conn.unbind()


def test_a_plain_simple_bind_on_389_without_tls_is_refused_as_stronger_auth_required(
    samba: SambaInfo,
) -> None:
    plain = ldap3.Server(samba.starttls_url, get_info=ldap3.NONE, connect_timeout=5)
    conn = ldap3.Connection(plain, samba.bind_upn, samba.password, auto_referrals=False)
    assert not conn.bind()
    assert conn.result["result"] == 8, conn.result  # strongerAuthRequired
    assert conn.result["description"] == "strongerAuthRequired"
    conn.unbind()


def test_a_second_dc_refuses_to_start_while_the_ports_are_taken(samba: SambaInfo, tmp_path: Path) -> None:
    with pytest.raises(SambaError, match="already in use") as caught:
        Samba(tmp_path / "second").start()
    assert f"(cwd {samba.workdir})" in str(caught.value)  # names the DC that holds them
    assert any(samba.workdir in line for line in port_holders())
    assert can_bind(samba, samba.bind_upn, samba.password)[0]


def test_stop_never_signals_a_dc_started_from_another_workdir(samba: SambaInfo, tmp_path: Path) -> None:
    running = (Path(samba.workdir) / "run" / "samba.pid").read_text()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "samba.pid").write_text(running)  # a pid file naming the session's DC
    other = Samba(tmp_path)
    other.stop()
    other.stop()  # idempotent
    assert can_bind(samba, samba.bind_upn, samba.password)[0]


def test_missing_binaries_raise_an_error_that_names_the_install_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(launcher, "_TOOL_DIRS", ())
    with pytest.raises(SambaError, match=r"packaging/install-samba\.sh"):
        Samba(tmp_path / "dc").start()


def test_the_command_line_reports_the_taken_ports_and_exits_1(samba: SambaInfo, tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "bridge.testing.samba", str(tmp_path / "dc")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert res.returncode == 1
    assert "already in use" in res.stderr


def test_a_search_from_the_domain_root_returns_references_that_are_not_chased(samba: SambaInfo) -> None:
    conn = admin(samba)
    assert conn.search(samba.base, "(sAMAccountName=Administrator)", ldap3.SUBTREE, attributes=["cn"])
    kinds = [item["type"] for item in conn.response]
    assert kinds.count("searchResEntry") == 1
    assert "searchResRef" in kinds  # e.g. ldaps://example.test/CN=Configuration,...: left alone
    conn.unbind()


# -- users, passwords, userAccountControl ------------------------------------------------------


def test_a_user_added_without_a_password_is_disabled_with_uac_546(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    conn = admin(samba)
    dn, _ = add_user(conn, samba, ad_subtree.user_base)
    assert uac(conn, dn) == 546 == NORMAL_ACCOUNT | ACCOUNTDISABLE | PASSWD_NOTREQD
    conn.unbind()


def test_a_weak_unicodepwd_is_refused_with_a_constraint_violation_about_the_password(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    conn = admin(samba)
    dn, _ = add_user(conn, samba, ad_subtree.user_base)
    assert not set_password(conn, dn, "abc")
    assert conn.result["description"] == "constraintViolation", conn.result
    assert "password" in conn.result["message"].lower(), conn.result
    conn.unbind()


def test_a_strong_unicodepwd_and_uac_512_let_the_user_bind(
    samba: SambaInfo, enabled_user: tuple[str, str]
) -> None:
    dn, upn = enabled_user
    assert can_bind(samba, upn, STRONG)[0]
    assert can_bind(samba, dn, STRONG)[0]
    ok, result = can_bind(samba, upn, STRONG + "x")
    assert not ok
    assert result["result"] == 49, result


def test_uac_514_refuses_the_users_bind(samba: SambaInfo, enabled_user: tuple[str, str]) -> None:
    dn, upn = enabled_user
    conn = admin(samba)
    set_uac(conn, dn, NORMAL_ACCOUNT | ACCOUNTDISABLE)
    conn.unbind()
    ok, result = can_bind(samba, upn, STRONG)
    assert not ok
    assert result["result"] == 49, result  # invalidCredentials
    assert "data 533" in str(result["message"]), result  # AD's sub-code for a disabled account


def test_a_user_added_with_password_and_uac_512_at_once_can_bind(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    conn = admin(samba)
    dn, upn = add_user(
        conn, samba, ad_subtree.user_base, unicodePwd=unicode_pwd(STRONG), userAccountControl=NORMAL_ACCOUNT
    )
    assert uac(conn, dn) == NORMAL_ACCOUNT
    conn.unbind()
    assert can_bind(samba, upn, STRONG)[0]


# -- groups and GUIDs --------------------------------------------------------------------------


def test_a_group_member_shows_memberof_on_the_user(samba: SambaInfo, ad_subtree: AdSubtree) -> None:
    conn = admin(samba)
    user_dn, _ = add_user(conn, samba, ad_subtree.user_base)
    sam = f"g{uuid.uuid4().hex[:12]}"
    group_dn = f"CN={sam},{ad_subtree.group_base}"
    attrs = {"sAMAccountName": sam, "groupType": GLOBAL_SECURITY_GROUP, "member": [user_dn]}
    assert conn.add(group_dn, ["top", "group"], attrs), conn.result
    member_of = [v.decode().lower() for v in read(conn, user_dn, "memberOf")["memberof"]]
    assert member_of == [group_dn.lower()]
    assert conn.search(ad_subtree.base, f"(memberOf={group_dn})", ldap3.SUBTREE, attributes=["cn"])
    assert [e["dn"].lower() for e in conn.response if e["type"] == "searchResEntry"] == [user_dn.lower()]
    conn.unbind()


def test_objectguid_is_little_endian_and_finds_the_entry_as_a_guid_base(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    conn = admin(samba)
    dn, _ = add_user(conn, samba, ad_subtree.user_base)
    raw = read(conn, dn, "objectGUID")["objectguid"][0]
    assert isinstance(raw, bytes)
    assert len(raw) == 16
    guid = uuid.UUID(bytes_le=raw)
    assert conn.search(f"<GUID={guid}>", "(objectClass=*)", ldap3.BASE, attributes=["distinguishedName"])
    assert conn.response[0]["dn"].lower() == dn.lower()
    escaped = ldap3.utils.conv.escape_bytes(raw)
    assert conn.search(ad_subtree.base, f"(objectGUID={escaped})", ldap3.SUBTREE, attributes=["cn"])
    assert len([e for e in conn.response if e["type"] == "searchResEntry"]) == 1
    big_endian = uuid.UUID(bytes=raw)
    assert big_endian != guid
    assert not conn.search(f"<GUID={big_endian}>", "(objectClass=*)", ldap3.BASE)  # the classic bug
    conn.unbind()


# -- the ad_subtree fixture --------------------------------------------------------------------


def test_each_test_gets_its_own_subtree_with_people_groups_and_disabled(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    assert ad_subtree.base.startswith("OU=t")
    assert ad_subtree.base.endswith("," + samba.base)
    for base in (ad_subtree.user_base, ad_subtree.group_base, ad_subtree.disabled_base):
        assert base.endswith("," + ad_subtree.base)
    conn = admin(samba)
    conn.search(ad_subtree.base, "(objectClass=organizationalUnit)", ldap3.LEVEL, attributes=["ou"])
    assert sorted(e["dn"] for e in conn.response if e["type"] == "searchResEntry") == sorted(
        [ad_subtree.user_base, ad_subtree.group_base, ad_subtree.disabled_base]
    )
    conn.search(samba.base, "(&(objectClass=organizationalUnit)(ou=t*))", ldap3.LEVEL, attributes=["ou"])
    others = [e["dn"] for e in conn.response if e["type"] == "searchResEntry"]
    assert others == [ad_subtree.base]  # earlier tests' subtrees are gone
    conn.unbind()


def test_subtrees_are_isolated_and_removed_with_their_contents(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    conn = admin(samba)
    mine, _ = add_user(conn, samba, ad_subtree.user_base)
    with make_ad_subtree(samba) as other:
        theirs, _ = add_user(conn, samba, other.user_base)
        conn.search(other.base, "(objectClass=user)", ldap3.SUBTREE, attributes=["cn"])
        assert [e["dn"] for e in conn.response if e["type"] == "searchResEntry"] == [theirs]
        conn.search(ad_subtree.base, "(objectClass=user)", ldap3.SUBTREE, attributes=["cn"])
        assert [e["dn"] for e in conn.response if e["type"] == "searchResEntry"] == [mine]
    assert not conn.search(other.base, "(objectClass=*)", ldap3.BASE)
    assert conn.result["description"] == "noSuchObject"
    assert not conn.search(theirs, "(objectClass=*)", ldap3.BASE)
    conn.unbind()
