"""The Debian package (issue #8, point 1): built from this working tree by packaging/debian/build.sh (what
``make deb`` runs), installed with dpkg, run from its own venv as its own user against the session slapd,
upgraded with the admin's configuration kept, and purged. It needs root (as CI has), and it purges the
package at the end whatever happened."""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bridge import __version__
from bridge.testing.slapd import SlapdInfo, find_free_port
from tests.conftest import REPO, TOKEN, TOKEN_HASH
from tests.slapd_fixtures import Subtree

PACKAGE = "scim-ldap-bridge"
CONF = Path("/etc/scim-ldap-bridge")
VENV = Path("/opt/scim-ldap-bridge")
COMMAND = Path("/usr/bin/scim-ldap-bridge")
UNITS = Path("/lib/systemd/system")
UNIT_NAMES = ("scim-ldap-bridge.service", "scim-ldap-bridge-sweep.service", "scim-ldap-bridge-sweep.timer")
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# The installed command must run on its venv alone: nothing of this checkout on its path.
CLEAN_ENV = {
    key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
}
AS_SERVICE_USER = ["setpriv", f"--reuid={PACKAGE}", f"--regid={PACKAGE}", "--clear-groups", "--"]


def run(*argv: str | Path, timeout: float = 300, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        cwd="/",
        env={**CLEAN_ENV, "DEBIAN_FRONTEND": "noninteractive"},
        stdin=subprocess.DEVNULL,  # a conffile question from dpkg would fail the test, not hang it
        **options,  # type: ignore[arg-type]
    )


def dpkg(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """dpkg, waiting for its lock while another apt or dpkg holds it (a test run next to this one)."""
    deadline = time.monotonic() + 300
    while True:
        done = run("dpkg", *args)
        if "locked by another process" not in done.stderr or time.monotonic() > deadline:
            return done
        time.sleep(2)


def package_status() -> str:
    """dpkg's status of the package: installed, config-files, ... or '' when dpkg does not know it."""
    query = run("dpkg-query", "--show", "--showformat=${db:Status-Status}", PACKAGE)
    return query.stdout.strip() if query.returncode == 0 else ""


def owner_and_mode(path: Path) -> tuple[str, str, str]:
    info = path.lstat()
    return (
        pwd.getpwuid(info.st_uid).pw_name,
        grp.getgrgid(info.st_gid).gr_name,
        oct(stat.S_IMODE(info.st_mode)),
    )


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, built once for this module (gzip: quicker to make than the default xz)."""
    out = tmp_path_factory.mktemp("deb")
    build = subprocess.run(
        [str(REPO / "packaging" / "debian" / "build.sh"), str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**CLEAN_ENV, "DPKG_DEB_COMPRESSOR_TYPE": "gzip"},
    )
    assert build.returncode == 0, build.stderr
    path = Path(build.stdout.strip().splitlines()[-1])
    assert path.parent == out and path.is_file(), build.stdout
    return path


def test_the_package_holds_the_venv_the_conffiles_the_schema_and_the_units(deb: Path) -> None:
    fields = run("dpkg-deb", "--field", deb, "Package", "Version", "Architecture", "Depends").stdout
    control = dict(line.split(": ", 1) for line in fields.splitlines())
    arch = run("dpkg", "--print-architecture").stdout.strip()
    assert control["Package"] == PACKAGE and control["Version"] == VERSION
    assert control["Architecture"] in ("all", arch)
    assert deb.name == f"{PACKAGE}_{VERSION}_{control['Architecture']}.deb"
    assert control["Depends"].startswith("python3.")  # the interpreter the venv was made with

    listing = {}
    for line in run("dpkg-deb", "--contents", deb).stdout.splitlines():
        mode, owner, *_, path = line.split(None, 5)
        listing[path.split(" -> ")[0].removeprefix(".")] = (mode, owner, path)
    assert listing["/etc/scim-ldap-bridge/"][:2] == ("drwxr-x---", "root/root")
    for conffile in ("bridge.yaml", "maps/openldap.yaml", "maps/active-directory.yaml"):
        assert listing[f"/etc/scim-ldap-bridge/{conffile}"][:2] == ("-rw-r-----", "root/root")
    assert listing["/usr/bin/scim-ldap-bridge"][2].endswith("-> /opt/scim-ldap-bridge/bin/scim-ldap-bridge")
    for unit in UNIT_NAMES:
        assert listing[f"/lib/systemd/system/{unit}"][0] == "-rw-r--r--"
    for path in (
        "/usr/share/scim-ldap-bridge/schema/scim-bridge.ldif",
        "/usr/share/scim-ldap-bridge/schema/scim-bridge.schema",
        "/usr/share/doc/scim-ldap-bridge/README.md",
        "/usr/share/doc/scim-ldap-bridge/copyright",
        "/opt/scim-ldap-bridge/bin/python",
    ):
        assert path in listing, path
    assert not any(path.startswith("/opt/scim-ldap-bridge/bin/pip") for path in listing)
    assert run("dpkg-deb", "--info", deb, "conffiles").stdout.split() == [
        "/etc/logrotate.d/scim-ldap-bridge",
        "/etc/scim-ldap-bridge/bridge.yaml",
        "/etc/scim-ldap-bridge/maps/active-directory.yaml",
        "/etc/scim-ldap-bridge/maps/openldap.yaml",
    ]
    assert listing["/etc/logrotate.d/scim-ldap-bridge"][:2] == ("-rw-r--r--", "root/root")
    unpack = f"dpkg-deb --fsys-tarfile {deb} | tar -xOf - ./opt/scim-ldap-bridge/bin/{PACKAGE}"
    script = run("sh", "-c", unpack)
    assert script.stdout.splitlines()[0] == "#!/opt/scim-ldap-bridge/bin/python"


@pytest.fixture
def purged_after() -> Iterator[None]:
    """The package is not installed before the test, and is purged after it, whatever happens."""
    assert os.geteuid() == 0, "installing a package needs root"
    # Another test run on this machine installs the same package: one at a time.
    with open(Path(tempfile.gettempdir()) / "scim-ldap-bridge-package-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        status = package_status()
        assert status in ("", "not-installed"), (
            f"{PACKAGE} is already on this machine ({status}); this test installs and purges its own: "
            f"dpkg --purge {PACKAGE}"
        )
        try:
            yield
        finally:
            if package_status() not in ("", "not-installed"):
                purge = dpkg("--purge", PACKAGE)
                assert purge.returncode == 0, purge.stdout + purge.stderr


def repack(deb: Path, folder: Path, version: str) -> Path:
    """The same package with another version, and a changed default in one map (its next release)."""
    tree = folder / "tree"
    assert run("dpkg-deb", "--raw-extract", deb, tree).returncode == 0
    control = tree / "DEBIAN" / "control"
    control.write_text(control.read_text().replace(f"Version: {VERSION}\n", f"Version: {version}\n"))
    changed_map = tree / "etc" / "scim-ldap-bridge" / "maps" / "active-directory.yaml"
    changed_map.write_text(changed_map.read_text() + "# changed in the next release\n")
    md5sums = tree / "DEBIAN" / "md5sums"  # conffiles are not in md5sums: nothing to update
    assert "etc/scim-ldap-bridge" not in md5sums.read_text()
    upgraded = folder / f"{PACKAGE}_{version}.deb"
    built = run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, upgraded)
    assert built.returncode == 0, built.stderr
    return upgraded


def notify_socket() -> tuple[socket.socket, str]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"scim-ldap-bridge-test/{uuid.uuid4().hex}"
    sock.bind("\0" + name)
    sock.settimeout(30)
    return sock, "@" + name


def test_dpkg_installs_it_it_serves_as_its_user_an_upgrade_keeps_the_config_and_purge_removes_it(
    deb: Path, slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path, purged_after: None
) -> None:
    installed = dpkg("--install", deb)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert package_status() == "installed"

    # The command, from the package's own venv.
    version = run(COMMAND, "version")
    assert (version.returncode, version.stdout) == (0, f"scim-ldap-bridge {__version__}\n"), version.stderr
    assert os.readlink(COMMAND) == str(VENV / "bin" / PACKAGE)
    where = run(VENV / "bin" / "python", "-c", "import bridge; print(bridge.__file__)").stdout.strip()
    assert where.startswith(f"{VENV}/lib/python3.") and where.endswith("/site-packages/bridge/__init__.py")

    # The system user and group, and who may read the configuration.
    user = pwd.getpwnam(PACKAGE)
    assert user.pw_uid < 1000 and user.pw_gid == grp.getgrnam(PACKAGE).gr_gid
    assert user.pw_shell == "/usr/sbin/nologin" and user.pw_dir == "/nonexistent"
    assert not Path("/nonexistent").exists()
    assert owner_and_mode(CONF) == ("root", PACKAGE, "0o750")
    assert owner_and_mode(CONF / "maps") == ("root", PACKAGE, "0o750")
    for conffile in ("bridge.yaml", "maps/openldap.yaml", "maps/active-directory.yaml"):
        assert owner_and_mode(CONF / conffile) == ("root", PACKAGE, "0o640"), conffile

    # The units are installed, valid as installed, and not enabled.
    verify = run("systemd-analyze", "verify", *(UNITS / unit for unit in UNIT_NAMES))
    assert verify.returncode == 0, verify.stderr
    assert not list(Path("/etc/systemd/system").glob("*.wants/scim-ldap-bridge*"))

    # The shipped example cannot run as it is (the service is not enabled for that reason)...
    example = run(*AS_SERVICE_USER, COMMAND, "check-config", "--config", CONF / "bridge.yaml")
    assert example.returncode == 2 and "the example's placeholder" in example.stderr
    assert "no credential 'bind-password'" in example.stderr
    # ...until the admin edits it: here, for the test slapd, over StartTLS with its CA.
    shutil.copy(str(slapd.ca_file), CONF / "ldap-ca.pem")
    (CONF / "bind-password").write_text(slapd.password + "\n")
    for secret in ("ldap-ca.pem", "bind-password"):
        os.chown(CONF / secret, 0, grp.getgrnam(PACKAGE).gr_gid)
        (CONF / secret).chmod(0o640)
    port = find_free_port()
    config = yaml.safe_load((CONF / "bridge.yaml").read_text())
    config["server"]["port"] = port
    config["auth"]["token_hashes"] = [TOKEN_HASH]
    config["ldap"].update(
        urls=[slapd.url],
        ca_file=str(CONF / "ldap-ca.pem"),
        bind_dn=slapd.bind_dn,
        user_base=ldap_subtree.user_base,
        group_base=ldap_subtree.group_base,
    )
    edited = yaml.safe_dump(config)
    (CONF / "bridge.yaml").write_text(edited)
    checked = run(*AS_SERVICE_USER, COMMAND, "check-config", "--config", CONF / "bridge.yaml")
    assert checked.returncode == 0, checked.stderr
    assert "configuration is valid" in checked.stdout

    # It serves as its user, says READY to a service manager, reaches slapd, and stops on SIGTERM.
    notify, address = notify_socket()
    with notify:
        server = subprocess.Popen(
            [
                *AS_SERVICE_USER,
                "env",
                f"NOTIFY_SOCKET={address}",
                f"CREDENTIALS_DIRECTORY={CONF}",  # where the unit's LoadCredential= would put its copy
                COMMAND,
                "serve",
                "--config",
                CONF / "bridge.yaml",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
            env=CLEAN_ENV,
        )
        try:
            assert notify.recv(4096).startswith(b"READY=1\n")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as ready:
                assert ready.status == 200
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/scim/v2/Users", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            with urllib.request.urlopen(request, timeout=30) as users:
                assert users.status == 200
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
        finally:
            if server.poll() is None:
                server.kill()
            server.communicate(timeout=30)

    # An upgrade keeps the admin's bridge.yaml, takes the new default of the map nobody edited, and
    # gives it back to the group.
    upgraded = dpkg("--install", repack(deb, tmp_path, f"{VERSION}+next1"))
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert run("dpkg-query", "--show", "--showformat=${Version}", PACKAGE).stdout == f"{VERSION}+next1"
    assert (CONF / "bridge.yaml").read_text() == edited
    assert not list(CONF.rglob("*.dpkg-*"))
    assert (CONF / "maps" / "active-directory.yaml").read_text().endswith("# changed in the next release\n")
    assert owner_and_mode(CONF / "maps" / "active-directory.yaml") == ("root", PACKAGE, "0o640")
    assert (CONF / "bind-password").exists()

    # Purge: the configuration (the admin's files too), the audit files, the venv, the units and the user
    # are gone.
    logs = Path("/var/log/scim-ldap-bridge")  # systemd's LogsDirectory=, made here as systemd would
    logs.mkdir(mode=0o750, exist_ok=True)
    (logs / "audit.jsonl").write_text("{}\n")
    purged = dpkg("--purge", PACKAGE)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert package_status() in ("", "not-installed")
    for path in (CONF, VENV, COMMAND, logs, Path("/etc/logrotate.d/scim-ldap-bridge")):
        assert not os.path.lexists(path), path
    for path in (UNITS / unit for unit in UNIT_NAMES):
        assert not os.path.lexists(path), path
    assert not list(Path("/etc/systemd/system").rglob("scim-ldap-bridge*"))
    assert run("getent", "passwd", PACKAGE).returncode == 2
    assert run("getent", "group", PACKAGE).returncode == 2
