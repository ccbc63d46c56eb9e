"""``scim-ldap-bridge init`` (issue 17, point 1) against real slapds (with and without ppolicy and the
bridge's schema) and a real Samba AD DC: the config it writes passes ``check-config`` and the probe, its
files have the right modes and hold no secret but their own, the token it prints authenticates against
the hash it stores, a config that exists is kept without ``--force``, and what an admin gets wrong is one
line."""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import ldap3
import pytest
import yaml

from bridge.testing.samba import SambaInfo
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path, find_free_port
from tests.conftest import OPENLDAP_MAP, REPO
from tests.integration.conftest import cli
from tests.samba_fixtures import AdSubtree
from tests.slapd_fixtures import Inspector, Subtree

AD_MAP = REPO / "config" / "maps" / "active-directory.yaml"
EXAMPLE = REPO / "config" / "bridge.example.yaml"
TOKEN_LINE = re.compile(r"^Secret Token: (\S+)$", re.MULTILINE)


def init(
    config: Path, url: str, bind_dn: str, password: str, *flags: str
) -> subprocess.CompletedProcess[str]:
    """``init --non-interactive`` with the password in a file beside (not in) the config's folder."""
    secret = config.parent.parent / f"{config.parent.name}-password"
    secret.write_text(password + "\n")
    argv = ["--config", str(config), "--non-interactive", "--url", url, "--bind-dn", bind_dn]
    return cli("init", *argv, "--bind-password-file", str(secret), *flags)


def token_of(done: subprocess.CompletedProcess[str]) -> str:
    tokens = TOKEN_LINE.findall(done.stdout)
    assert len(tokens) == 1, done.stdout
    return tokens[0]


def probe(config: Path, **environ: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", "--config", str(config), "--probe"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), **environ},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.splitlines()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def every_file(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file())


def assert_clean_failure(done: subprocess.CompletedProcess[str], code: int, *secrets: str) -> str:
    """One line on stderr, no traceback, no secret anywhere; returns the line."""
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scim-ldap-bridge init: "), done.stderr
    for secret in secrets:
        assert secret not in done.stderr + done.stdout
    return lines[0]


PASSWORD = "S3cret-Bind-Pw-17"  # the session slapd's, "admin", is also in its bind DN: not a telling secret


@pytest.fixture(scope="module")
def secret_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInfo]:
    """A slapd of this module's, with ldaps and StartTLS and a password found nowhere else."""
    with Slapd(tmp_path_factory.mktemp("secret"), ldaps_port=0, password=PASSWORD) as info:
        yield info


def test_init_writes_a_config_that_passes_check_config_and_the_probe(
    tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree, inspector: Inspector
) -> None:
    config = tmp_path / "etc" / "bridge.yaml"
    before = inspector.people()
    done = init(
        config,
        slapd.url,
        slapd.bind_dn,
        slapd.password,
        "--tls", "starttls",
        "--ca-file", str(slapd.ca_file),
        "--user-base", ldap_subtree.user_base,
        "--group-base", ldap_subtree.group_base,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    token = token_of(done)
    assert done.stdout.count(token) == 1  # printed once, on its own line
    assert inspector.people() == before  # the write checks' probe entries are gone

    written = yaml.safe_load(config.read_text())
    assert written["ldap"] == {
        "directory": "openldap",
        "urls": [slapd.url],
        "tls": "starttls",
        "ca_file": str(Path(str(slapd.ca_file)).resolve()),
        "bind_dn": slapd.bind_dn,
        "bind_password_file": "bind-password",
        "user_base": ldap_subtree.user_base,
        "group_base": ldap_subtree.group_base,
    }
    assert written["map"] == "maps/openldap.yaml"
    assert (config.parent / "maps" / "openldap.yaml").read_bytes() == OPENLDAP_MAP.read_bytes()
    # The token authenticates against the one hash stored, and is in no file; the password only in its own.
    assert written["auth"]["token_hashes"] == ["sha256:" + hashlib.sha256(token.encode()).hexdigest()]
    for path in every_file(config.parent):
        text = path.read_text()
        assert token not in text, path
        assert (slapd.password in text.splitlines()) == (path.name == "bind-password"), path
    assert (config.parent / "bind-password").read_text() == slapd.password + "\n"
    modes = {path.name: mode(path) for path in [config.parent / "maps", *every_file(config.parent)]}
    assert modes == {"maps": 0o750, "openldap.yaml": 0o640, "bind-password": 0o600, "bridge.yaml": 0o640}
    assert mode(config.parent) == 0o750  # made by init
    assert {path.stat().st_uid for path in every_file(config.parent)} == {os.geteuid()}

    check = cli("check-config", "--config", str(config))
    assert check.returncode == 0, check.stderr
    assert f"Groups: served from {ldap_subtree.group_base}" in check.stdout
    code, lines = probe(config)
    assert code == 0, lines
    assert not [line for line in lines if line.startswith("problem:")]
    assert "ok: ppolicy overlay present (the map disables with pwdAccountLockedTime)" in lines
    assert inspector.people() == before


@pytest.mark.parametrize(
    ("ppolicy", "schema"), [(True, True), (False, True), (True, False), (False, False)], ids=str
)
def test_init_derives_the_map_from_what_the_directory_has(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, ppolicy: bool, schema: bool
) -> None:
    """No base given: ou=people and ou=groups of a fresh directory are found by their names. The map is the
    shipped one where the directory has what it needs, else derived, with a header saying why; either way
    the probe finds no problem."""
    server = Slapd(
        tmp_path_factory.mktemp("slapd"),
        ppolicy=ppolicy,
        extra_schema=[default_schema_path()] if schema else [],
    )
    config = tmp_path / "conf" / "bridge.yaml"
    with server as info:
        done = init(config, info.url, info.bind_dn, info.password, "--tls", "none")
        assert done.returncode == 0, done.stderr
        assert "User base: ou=people,dc=example,dc=org" in done.stdout
        assert "Group base: ou=groups,dc=example,dc=org" in done.stdout
        loaded = "loaded" if schema else "not loaded"
        assert (
            f"Bridge schema (scim-bridge.schema: scimBridgeObject, scimExternalId, ...): {loaded}"
            in done.stdout
        )
        code, lines = probe(config)
    assert code == 0 and not [line for line in lines if line.startswith("problem:")], lines
    written = yaml.safe_load(config.read_text())
    if ppolicy and schema:
        assert written["map"] == "maps/openldap.yaml"
        assert (config.parent / written["map"]).read_bytes() == OPENLDAP_MAP.read_bytes()
        assert "Map: maps/openldap.yaml, the shipped map" in done.stdout
        return
    assert written["map"] == "maps/openldap-derived.yaml"
    text = (config.parent / written["map"]).read_text()
    assert text.startswith("# Attribute map written by `scim-ldap-bridge init`: the shipped openldap.yaml")
    header = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    derived = yaml.safe_load(text)
    user = derived["user"]
    if schema:
        assert user["attributes"]["externalId"] == "scimExternalId"
        assert user["active"]["since"] == "scimDisabledAt"
        assert "scimBridgeObject" in user["auxiliary_classes"]
    else:
        assert user["attributes"]["externalId"] == "employeeType"
        assert derived["group"]["attributes"]["externalId"] == "businessCategory"
        assert "since" not in user["active"] and "auxiliary_classes" not in derived["group"]
        assert not [path for path in user["attributes"] if path.endswith(("costCenter", "division"))]
        assert "the directory lacks scim-bridge.schema" in header
    if ppolicy:
        assert user["active"] == {"method": "ppolicy"}
    else:
        assert {k: v for k, v in user["active"].items() if k != "since"} == {
            "method": "attribute",
            "attribute": "shadowExpire",
            "disabled_value": "1",
        }
        assert "shadowAccount" in user["auxiliary_classes"]
        assert "the directory offers no password policy (ppolicy overlay)" in header
    # Everything else is the shipped map's.
    shipped = yaml.safe_load(OPENLDAP_MAP.read_text())
    for path, target in shipped["user"]["attributes"].items():
        if target not in ("scimExternalId", "scimCostCenter", "scimDivision"):
            assert user["attributes"][path] == target


def test_init_picks_the_base_that_holds_the_entries_and_reads_overlays_from_cn_config(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A base with users beats an empty ou=people; a bind DN that may read cn=config is told the overlays."""
    server = Slapd(
        tmp_path_factory.mktemp("slapd"), extra_schema=[default_schema_path()], unique=True, password=PASSWORD
    )
    with server as info:
        conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
        for ou in ("staff", "teams"):
            assert conn.add(f"ou={ou},{info.suffix}", ["organizationalUnit"], {"ou": ou})
        for name in ("ann", "bob"):
            attrs = {"uid": name, "cn": name, "sn": name}
            assert conn.add(f"uid={name},ou=staff,{info.suffix}", ["inetOrgPerson"], attrs)
        members = {"cn": "pilots", "member": [f"uid=ann,ou=staff,{info.suffix}"]}
        assert conn.add(f"cn=pilots,ou=teams,{info.suffix}", ["groupOfNames"], members)
        conn.unbind()
        done = init(tmp_path / "a" / "bridge.yaml", info.url, info.bind_dn, info.password, "--tls", "none")
        assert done.returncode == 0, done.stderr
        assert "  1. ou=staff,dc=example,dc=org (2)\n  2. ou=people,dc=example,dc=org (0)\n" in done.stdout
        assert "User base: ou=staff,dc=example,dc=org" in done.stdout
        assert "Group base: ou=teams,dc=example,dc=org" in done.stdout
        assert "memberof unknown" in done.stdout  # the rootdn of the data may not read cn=config
        # cn=config's own admin may read it (and write nothing under the data: the write check says so).
        config_admin = cli(
            "init", "--config", str(tmp_path / "b" / "bridge.yaml"), "--non-interactive", "--url", info.url,
            "--bind-dn", "cn=admin,cn=config", "--bind-password-file", str(tmp_path / "a-password"),
            "--tls", "none", "--user-base", f"ou=people,{info.suffix}",
        )  # fmt: skip
    overlays = "ppolicy yes, memberof yes, refint yes, sssvlv yes, dynlist no, unique yes, assertion yes"
    assert f"Overlays and controls: {overlays}" in config_admin.stdout
    line = assert_clean_failure(config_admin, 1, info.password)
    assert "the bind DN cannot write under ou=people,dc=example,dc=org" in line
    assert not (tmp_path / "b").exists()


def test_a_config_that_exists_is_kept_without_force_but_the_shipped_example_is_replaced(
    tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    config = tmp_path / "conf" / "bridge.yaml"
    config.parent.mkdir()
    shutil.copy(EXAMPLE, config)  # what the Debian package installs: not a configuration yet
    flags = ["--tls", "none", "--user-base", ldap_subtree.user_base, "--no-groups"]
    first = init(config, slapd.url, slapd.bind_dn, slapd.password, *flags)
    assert first.returncode == 0, first.stderr
    hashes = yaml.safe_load(config.read_text())["auth"]["token_hashes"]

    again = init(config, slapd.url, slapd.bind_dn, slapd.password, *flags)
    line = assert_clean_failure(again, 2, slapd.password)
    assert line == (
        f"scim-ldap-bridge init: {config} exists and is not the shipped example; "
        "--force replaces it (and its map and bind password), or choose another --config"
    )
    assert again.stdout == ""  # refused before anything was asked or probed
    assert yaml.safe_load(config.read_text())["auth"]["token_hashes"] == hashes

    edited = config.parent / "maps" / "openldap.yaml"
    edited.write_text(edited.read_text() + "# my change\n")
    shutil.copy(EXAMPLE, config)
    kept = init(config, slapd.url, slapd.bind_dn, slapd.password, *flags)
    assert (
        "maps/openldap.yaml exists with other contents than the map init would write"
        in assert_clean_failure(kept, 2)
    )
    assert edited.read_text().endswith("# my change\n")

    forced = init(config, slapd.url, slapd.bind_dn, slapd.password, *flags, "--force")
    assert forced.returncode == 0, forced.stderr
    assert yaml.safe_load(config.read_text())["auth"]["token_hashes"] != hashes
    assert edited.read_bytes() == OPENLDAP_MAP.read_bytes()
    assert yaml.safe_load(config.read_text())["auth"]["token_hashes"] == [
        "sha256:" + hashlib.sha256(token_of(forced).encode()).hexdigest()
    ]


@pytest.mark.parametrize("case", ["password", "unreachable", "tls", "starttls"])
def test_what_an_admin_gets_wrong_is_one_line_with_a_hint_and_nothing_is_written(
    tmp_path: Path, secret_slapd: SlapdInfo, case: str
) -> None:
    slapd = secret_slapd
    config = tmp_path / "conf" / "bridge.yaml"
    password, url, flags = slapd.password, slapd.url, ["--tls", "none"]
    if case == "password":
        password = "wrong-Secret-4711"
    elif case == "unreachable":
        url = f"ldap://127.0.0.1:{find_free_port()}"
    elif case == "tls":
        url, flags = str(slapd.ldaps_url), []  # its certificate is self-signed: no --ca-file, no trust
    else:
        flags = ["--tls", "starttls"]
    done = init(config, url, slapd.bind_dn, password, *flags)
    line = assert_clean_failure(done, 1, password, slapd.password)
    expected = {
        "password": f"{url} refused the bind as {slapd.bind_dn} (invalidCredentials); check the bind DN and "
        "its password",
        "unreachable": f"cannot reach {url} ([Errno 111] Connection refused); check the URL and its port",
        "tls": f"TLS with {url} failed ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "self-signed certificate); check --tls and --ca-file",
        "starttls": f"TLS with {url} failed ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
        "self-signed certificate); check --tls and --ca-file",
    }[case]
    assert line.startswith(f"scim-ldap-bridge init: {expected}"), line
    assert not config.parent.exists()


def test_a_folder_init_may_not_write_is_refused_before_the_password_is_read(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    locked.chmod(0o500)
    # As root, drop the capability that overrides file permissions, so the folder's mode applies.
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "bridge", "init", "--config", str(locked / "bridge.yaml"),
         "--non-interactive", "--url", "ldap://127.0.0.1:1", "--bind-dn", "cn=x",
         "--bind-password-file", str(tmp_path / "no-such-file")],
        capture_output=True, text=True, check=False, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    line = assert_clean_failure(done, 1)
    assert line == (
        f"scim-ldap-bridge init: cannot write {locked / 'bridge.yaml'}: permission denied on {locked}; "
        "run init as root (sudo), or choose another --config"
    )
    assert list(locked.iterdir()) == []


def test_without_a_flag_it_needs_non_interactive_says_which(tmp_path: Path) -> None:
    done = cli("init", "--config", str(tmp_path / "bridge.yaml"), "--non-interactive", "--url", "ldap://h")
    assert assert_clean_failure(done, 2) == (
        "scim-ldap-bridge init: --bind-dn is needed with --non-interactive; see scim-ldap-bridge init --help"
    )
    done = cli("init", "--config", str(tmp_path / "bridge.yaml"), "--url", "ldap://h")  # stdin is no terminal
    assert "no terminal to ask on" in assert_clean_failure(done, 2)


def test_the_credential_is_named_as_the_unit_loads_it_and_only_its_owner_reads_it(
    tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    """``--password-store credential`` (the default for /etc/scim-ldap-bridge/bridge.yaml): the config names
    the credential ``bind-password``, the file is 0600, and the probe passes where systemd would have put
    the credential. (The password comes from standard input here: ``--bind-password-file -``.)"""
    config = tmp_path / "conf" / "bridge.yaml"
    flags = ["--tls", "none", "--user-base", ldap_subtree.user_base, "--password-store", "credential"]
    argv = ["--config", str(config), "--non-interactive", "--url", slapd.url, "--bind-dn", slapd.bind_dn]
    done = cli("init", *argv, "--bind-password-file", "-", *flags, stdin=slapd.password + "\n")
    assert done.returncode == 0, done.stderr
    ldap = yaml.safe_load(config.read_text())["ldap"]
    assert ldap["bind_password_credential"] == "bind-password" and "bind_password_file" not in ldap
    assert mode(config.parent / "bind-password") == 0o600
    # From a shell, commands find the credential where the unit loads it from, beside the config.
    assert f"  scim-ldap-bridge check-config --config {config} --probe" in done.stdout
    assert f"  scim-ldap-bridge selftest --config {config}" in done.stdout
    code, lines = probe(config)
    assert code == 0, lines


def test_the_prompts_ask_for_what_the_flags_do_not_give_and_the_password_is_not_echoed(
    tmp_path: Path, secret_slapd: SlapdInfo
) -> None:
    """On a terminal: URL, bind DN, TLS, CA file, the password (getpass: not echoed), then the bases, with
    the candidates found as defaults (a number picks one)."""
    slapd = secret_slapd
    config = tmp_path / "conf" / "bridge.yaml"
    answers = [
        ("Directory URL", slapd.url),
        ("Bind DN", slapd.bind_dn),
        ("TLS: starttls, ldaps or none [starttls]", "starttls"),
        ("CA file that signed the directory's certificate (empty: the system's CAs)", str(slapd.ca_file)),
        ("Bind password", slapd.password),
        ("User base [ou=people,dc=example,dc=org]", "1"),
        ("Group base (empty: groups are not served) [ou=groups,dc=example,dc=org]", ""),
    ]
    screen, code = on_terminal(["init", "--config", str(config)], answers)
    assert code == 0, screen
    assert slapd.password not in screen  # typed, never echoed
    assert slapd.url in screen and str(slapd.ca_file) in screen  # typed and echoed
    written = yaml.safe_load(config.read_text())["ldap"]
    assert written["user_base"] == "ou=people,dc=example,dc=org"
    assert written["group_base"] == "ou=groups,dc=example,dc=org"
    assert written["tls"] == "starttls" and written["ca_file"] == str(Path(str(slapd.ca_file)).resolve())
    assert (config.parent / "bind-password").read_text() == slapd.password + "\n"


def on_terminal(argv: Sequence[str], answers: Sequence[tuple[str, str]]) -> tuple[str, int]:
    """Run ``scim-ldap-bridge *argv`` on a new pseudo-terminal (its controlling terminal, as getpass needs);
    answer each prompt that starts with the first of a pair by typing the second. Returns all that the
    terminal showed, and the exit code."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once
        os.environ["PYTHONPATH"] = str(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "bridge", *argv])  # noqa: S606
    screen = ""
    pending = list(answers)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            if pending and pending[0][0] in screen.rsplit("\n", 1)[-1]:
                os.write(fd, pending.pop(0)[1].encode() + b"\n")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert not pending, f"never asked {pending[0][0]!r}:\n{screen}"
    return screen, os.waitstatus_to_exitcode(status)


def test_init_against_active_directory(tmp_path: Path, samba: SambaInfo, ad_subtree: AdSubtree) -> None:
    """Over LDAPS with the DC's CA, bound by UPN: the shipped AD map, AD's critical objects protected, the
    probe passes; the OU that holds a person is the user base found. A wrong password is one line."""
    conn = ldap3.Connection(
        ldap3.Server(samba.ldaps_url, use_ssl=True, tls=ldap3.Tls(ca_certs_file=samba.ca_file, validate=2)),
        samba.bind_upn,
        samba.password,
        auto_bind=True,
    )
    person = f"CN=Probe Person,{ad_subtree.user_base}"
    assert conn.add(
        person, ["top", "person", "organizationalPerson", "user"], {"sAMAccountName": "probe-init"}
    )
    conn.unbind()
    config = tmp_path / "conf" / "bridge.yaml"
    flags = ["--ca-file", samba.ca_file, "--group-base", ad_subtree.group_base]
    done = init(config, samba.ldaps_url, samba.bind_upn, samba.password, *flags)
    assert done.returncode == 0, done.stderr
    assert "Directory: Active Directory" in done.stdout
    written = yaml.safe_load(config.read_text())
    assert written["ldap"]["directory"] == "active_directory" and written["ldap"]["tls"] == "ldaps"
    assert written["ldap"]["user_base"].lower() == ad_subtree.user_base.lower()
    assert written["safety"] == {"protected_filter": "(|(isCriticalSystemObject=TRUE)(adminCount=1))"}
    assert (config.parent / "maps" / "active-directory.yaml").read_bytes() == AD_MAP.read_bytes()
    assert written["auth"]["token_hashes"] == [
        "sha256:" + hashlib.sha256(token_of(done).encode()).hexdigest()
    ]
    assert mode(config.parent / "bind-password") == 0o600 and mode(config) == 0o640
    code, lines = probe(config)
    assert code == 0 and not [line for line in lines if line.startswith("problem:")], lines

    wrong = init(tmp_path / "other" / "bridge.yaml", samba.ldaps_url, samba.bind_upn, "Wr0ng-pass!", *flags)
    line = assert_clean_failure(wrong, 1, "Wr0ng-pass!", samba.password)
    assert f"{samba.ldaps_url} refused the bind as {samba.bind_upn} (invalidCredentials)" in line
    plain = init(
        tmp_path / "plain" / "bridge.yaml",
        samba.starttls_url,
        samba.bind_upn,
        samba.password,
        "--tls",
        "none",
    )
    assert assert_clean_failure(plain, 1, samba.password) == (
        f"scim-ldap-bridge init: {samba.starttls_url} refuses a simple bind without TLS; use --tls starttls "
        "(ldap://) or ldaps:// with --tls ldaps"
    )
