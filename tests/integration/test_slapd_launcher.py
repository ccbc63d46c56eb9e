"""The throwaway slapd launcher (bridge.testing.slapd) and its fixtures, against a real slapd."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPException

import bridge.testing.slapd as launcher
from bridge.testing.slapd import Slapd, SlapdError, SlapdInfo, default_schema_path, find_free_port
from tests.slapd_fixtures import Subtree, make_subtree

pytestmark = pytest.mark.slapd

REPO = Path(__file__).resolve().parents[2]
LOCK = "000001010000Z"


def connect(
    info: SlapdInfo, dn: str | None = None, password: str | None = None, **kw: object
) -> ldap3.Connection:
    """A bound ldap3 connection (the rootdn unless told otherwise)."""
    server = ldap3.Server(info.url, get_info=ldap3.NONE, connect_timeout=5)
    return ldap3.Connection(server, dn or info.bind_dn, password or info.password, auto_bind=True, **kw)


def add(conn: ldap3.Connection, dn: str, **attrs: object) -> None:
    assert conn.add(dn, attributes=attrs), conn.result


def exists(conn: ldap3.Connection, dn: str) -> bool:
    return bool(conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["1.1"]))


def add_person(
    conn: ldap3.Connection, base: str, uid: str, classes: Sequence[str] = (), **extra: object
) -> str:
    dn = f"uid={uid},{base}"
    add(conn, dn, objectClass=["inetOrgPerson", *classes], uid=uid, cn=uid, sn=uid, **extra)
    return dn


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def pid_of(server: Slapd) -> int:
    return int((server.workdir / "slapd.pid").read_text())


@pytest.fixture
def own_slapd(tmp_path: Path) -> Iterator[Slapd]:
    """A private, not yet started server, for tests that stop, kill or reconfigure it."""
    server = Slapd(tmp_path / "own")
    yield server
    server.stop()


# --- the session server and what its overlays and schema do ---------------------------------------


def test_the_session_server_answers_a_bind_as_the_rootdn(slapd: SlapdInfo) -> None:
    conn = connect(slapd)
    assert conn.extend.standard.who_am_i() == f"dn:{slapd.bind_dn}"
    assert exists(conn, slapd.user_base) and exists(conn, slapd.group_base)


def test_a_locked_account_cannot_bind_and_can_again_once_the_lock_is_deleted(
    slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    admin = connect(slapd)
    alice = add_person(admin, ldap_subtree.user_base, "alice", userPassword="secret")
    assert connect(slapd, alice, "secret").bound

    assert admin.modify(alice, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCK])]}), admin.result
    refused = ldap3.Connection(slapd.url, alice, "secret")
    assert not refused.bind()
    assert refused.result["result"] == 49

    assert admin.modify(alice, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]}), admin.result
    assert connect(slapd, alice, "secret").bound


def test_member_of_follows_group_membership(slapd: SlapdInfo, ldap_subtree: Subtree) -> None:
    admin = connect(slapd)
    alice = add_person(admin, ldap_subtree.user_base, "alice")
    bob = add_person(admin, ldap_subtree.user_base, "bob")
    group = f"cn=admins,{ldap_subtree.group_base}"
    add(admin, group, objectClass="groupOfNames", cn="admins", member=[alice])

    def member_of(dn: str) -> list[str]:
        admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["memberOf"])
        return [str(v) for v in admin.entries[0].entry_attributes_as_dict.get("memberOf", [])]

    assert member_of(alice) == [group] and member_of(bob) == []
    assert admin.modify(group, {"member": [(ldap3.MODIFY_ADD, [bob])]}), admin.result
    admin.search(ldap_subtree.base, f"(memberOf={group})", attributes=["1.1"])
    assert sorted(e.entry_dn for e in admin.entries) == [alice, bob]
    assert admin.modify(group, {"member": [(ldap3.MODIFY_DELETE, [alice])]}), admin.result
    assert member_of(alice) == [] and member_of(bob) == [group]


def test_scim_external_id_is_single_valued_and_matches_without_regard_to_case(
    slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    admin = connect(slapd)
    alice = add_person(
        admin, ldap_subtree.user_base, "alice", classes=["scimBridgeObject"], scimExternalId="alice"
    )
    admin.search(ldap_subtree.base, "(scimExternalId=ALICE)", attributes=["scimExternalId"])
    assert [(e.entry_dn, e.scimExternalId.value) for e in admin.entries] == [(alice, "alice")]
    admin.search(ldap_subtree.base, "(scimExternalId=AL*)", attributes=["1.1"])
    assert [e.entry_dn for e in admin.entries] == [alice]

    assert not admin.modify(alice, {"scimExternalId": [(ldap3.MODIFY_ADD, ["second"])]})
    assert admin.result["result"] == 19  # constraintViolation: SINGLE-VALUE


def test_the_ldif_schema_loads_over_ldapi_into_a_server_started_without_it(own_slapd: Slapd) -> None:
    info = own_slapd.start()
    admin = connect(info)
    user = {
        "objectClass": ["inetOrgPerson", "scimBridgeObject"],
        "cn": "x",
        "sn": "x",
        "scimExternalId": "x-1",
    }
    assert not admin.add(f"uid=early,{info.user_base}", attributes=user)
    assert admin.result["result"] == 21  # objectClass: value #1 invalid per syntax (no such class)

    ldif = REPO / "config" / "schema" / "scim-bridge.ldif"
    res = subprocess.run(
        ["ldapadd", "-Q", "-Y", "EXTERNAL", "-H", info.ldapi_url, "-f", str(ldif)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr

    admin = connect(info)  # a new connection reads the new schema
    dn = f"uid=late,{info.user_base}"
    add(admin, dn, **user)
    admin.search(info.user_base, "(scimExternalId=X-1)", attributes=["1.1"])
    assert [e.entry_dn for e in admin.entries] == [dn]


# --- TLS ------------------------------------------------------------------------------------------


def verifying_tls(ca_file: str) -> ldap3.Tls:
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)


def test_ldaps_works_and_verifies_the_server_against_ca_file(slapd: SlapdInfo) -> None:
    assert slapd.ldaps_url and slapd.ca_file
    server = ldap3.Server(
        slapd.ldaps_url, use_ssl=True, tls=verifying_tls(slapd.ca_file), get_info=ldap3.NONE
    )
    conn = ldap3.Connection(server, slapd.bind_dn, slapd.password, auto_bind=True)
    assert conn.extend.standard.who_am_i() == f"dn:{slapd.bind_dn}"


def test_starttls_on_the_plain_port_works_and_verifies_against_ca_file(slapd: SlapdInfo) -> None:
    assert slapd.ca_file
    server = ldap3.Server(slapd.url, tls=verifying_tls(slapd.ca_file), get_info=ldap3.NONE)
    conn = ldap3.Connection(server, slapd.bind_dn, slapd.password)
    conn.open()
    assert conn.start_tls() and conn.tls_started
    assert conn.bind()


def test_ldaps_refuses_a_server_not_signed_by_the_trusted_ca(slapd: SlapdInfo, tmp_path: Path) -> None:
    assert slapd.ldaps_url
    other = tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=localhost", "-keyout", str(tmp_path / "k.pem"), "-out", str(other)],
        capture_output=True, check=True,
    )  # fmt: skip
    server = ldap3.Server(slapd.ldaps_url, use_ssl=True, tls=verifying_tls(str(other)), get_info=ldap3.NONE)
    with pytest.raises(LDAPException):
        ldap3.Connection(server, slapd.bind_dn, slapd.password, auto_bind=True)


# --- lifecycle --------------------------------------------------------------------------------------


def test_a_fresh_start_wipes_the_data_of_the_previous_run(own_slapd: Slapd) -> None:
    info = own_slapd.start()
    add(connect(info), f"ou=leftover,{info.suffix}", objectClass="organizationalUnit")
    own_slapd.stop()
    info = own_slapd.start()
    admin = connect(info)
    assert not exists(admin, f"ou=leftover,{info.suffix}")
    assert exists(admin, f"cn=default,ou=policies,{info.suffix}")


def test_starting_in_a_directory_whose_slapd_still_runs_replaces_that_slapd(own_slapd: Slapd) -> None:
    own_slapd.start()
    old_pid = pid_of(own_slapd)
    with Slapd(own_slapd.workdir) as info:
        assert gone(old_pid)
        assert connect(info).bound


def test_stop_leaves_no_slapd_process_and_may_be_called_twice(own_slapd: Slapd) -> None:
    info = own_slapd.start()
    pid = pid_of(own_slapd)
    t0 = time.monotonic()
    own_slapd.stop()
    assert time.monotonic() - t0 < 2
    assert gone(pid)
    port = int(info.url.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    own_slapd.stop()


def test_restart_keeps_the_data_and_the_port(own_slapd: Slapd) -> None:
    info = own_slapd.start()
    add(connect(info), f"ou=kept,{info.suffix}", objectClass="organizationalUnit")
    own_slapd.restart()
    assert own_slapd.info == info
    assert exists(connect(info), f"ou=kept,{info.suffix}")


def test_a_killed_server_restarts_with_its_data(own_slapd: Slapd) -> None:
    info = own_slapd.start()
    add(connect(info), f"ou=kept,{info.suffix}", objectClass="organizationalUnit")
    pid = pid_of(own_slapd)
    own_slapd.kill()
    assert gone(pid)
    own_slapd.restart()
    assert exists(connect(info), f"ou=kept,{info.suffix}")


def test_a_paused_server_answers_nothing_until_resumed(own_slapd: Slapd) -> None:
    info = own_slapd.start()
    own_slapd.pause()
    try:
        with pytest.raises(LDAPException):
            connect(info, receive_timeout=1)  # ldap3 wants whole seconds
    finally:
        own_slapd.resume()
    assert connect(info).bound


def test_a_taken_port_picked_automatically_is_replaced_by_a_free_one(
    own_slapd: Slapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1]]
        monkeypatch.setattr(
            launcher, "find_free_port", lambda host="": ports.pop() if ports else find_free_port()
        )
        info = own_slapd.start()
        assert info.url != f"ldap://127.0.0.1:{taken.getsockname()[1]}"
        assert connect(info).bound


def test_a_taken_port_given_explicitly_fails_with_slapds_own_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SlapdError, match="Address already in use"):
            Slapd(tmp_path / "s", port=taken.getsockname()[1]).start()


def test_a_missing_binary_names_the_debian_packages_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(launcher, "_TOOL_DIRS", ())
    with pytest.raises(SlapdError, match=r"apt-get install slapd ldap-utils"):
        Slapd(tmp_path / "s").start()


def test_the_repository_schema_is_found_next_to_the_package() -> None:
    assert default_schema_path() == REPO / "config" / "schema" / "scim-bridge.schema"


@pytest.mark.parametrize(
    ("stop_signal", "options"), [(signal.SIGTERM, ["--ldaps-port", "0"]), (signal.SIGINT, [])]
)
def test_the_command_line_serves_until_a_stop_signal_and_then_stops_slapd(
    tmp_path: Path, stop_signal: signal.Signals, options: list[str]
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "bridge.testing.slapd", *options, str(tmp_path / "cli")]
    with subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            stdout = proc.stdout
            reader = threading.Thread(
                target=lambda: lines.extend(stdout.readline().rstrip("\n") for _ in range(10)), daemon=True
            )
            reader.start()
            reader.join(timeout=30)
            assert len(lines) == 10, f"the command printed only {lines} in 30 s"
            fields = dict(line.split(": ", 1) for line in lines)
            pid = int((tmp_path / "cli" / "slapd.pid").read_text())
            info = SlapdInfo(**{k: None if v == "None" else v for k, v in fields.items()})  # type: ignore[arg-type]
            assert connect(info).bound
            assert bool(info.ldaps_url) == bool(options)
            proc.send_signal(stop_signal)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:  # never leave the with-block waiting on a child that did not stop
                proc.kill()
    assert gone(pid)


# --- per-test subtrees ------------------------------------------------------------------------------

_EARLIER: list[str] = []


def test_a_subtree_holds_only_its_three_ous_at_first(slapd: SlapdInfo, ldap_subtree: Subtree) -> None:
    admin = connect(slapd)
    admin.search(ldap_subtree.base, "(objectClass=*)", attributes=["1.1"])
    expected = [
        ldap_subtree.base,
        ldap_subtree.user_base,
        ldap_subtree.group_base,
        ldap_subtree.disabled_base,
    ]
    assert sorted(e.entry_dn for e in admin.entries) == sorted(expected)
    _EARLIER.append(add_person(admin, ldap_subtree.user_base, "first"))


def test_an_entry_from_an_earlier_tests_subtree_is_gone(slapd: SlapdInfo, ldap_subtree: Subtree) -> None:
    admin = connect(slapd)
    assert not any(exists(admin, dn) for dn in _EARLIER)
    admin.search(slapd.suffix, "(uid=first)", attributes=["1.1"])
    assert admin.entries == []


def test_leaving_a_subtree_deletes_everything_in_it(slapd: SlapdInfo) -> None:
    admin = connect(slapd)
    with make_subtree(slapd) as subtree:
        person = add_person(admin, subtree.user_base, "temp")
        add(admin, f"cn=g,{subtree.group_base}", objectClass="groupOfNames", cn="g", member=[person])
    assert not exists(admin, subtree.base)
