"""The Debian package (issue #8, point 1; issue #20, points 1-3): built from this working tree by
packaging/debian/build.sh (what ``make deb`` runs), lintian clean, holding only what production needs,
installed with dpkg, run from its own venv as its own user against the session slapd, upgraded with the
admin's configuration kept, and purged as Debian does (the system user and the audit logs stay).

All of that happens in a throwaway root (tests/throwaway_root.py; issue #17, point 6): this machine's own
``/`` under a copy-on-write overlay in a mount namespace of its own, dropped at the end. The machine's
/etc, /opt, /usr and dpkg database are never written, and the test passes whether or not the machine has
the package: the root starts by purging its copy of whatever the machine has. A test checks that the
machine's dpkg status of the package, its files and its user are the same after as before. It needs root
(as CI has) for the mounts and for dpkg."""

from __future__ import annotations

import base64
import csv
import fnmatch
import gzip
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
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
from tests.throwaway_root import ENV, ThrowawayRoot, throwaway_root

PACKAGE = "scim-ldap-bridge"
CONF = Path("/etc/scim-ldap-bridge")
VENV = Path("/opt/scim-ldap-bridge")
COMMAND = Path("/usr/bin/scim-ldap-bridge")
UNITS = Path("/usr/lib/systemd/system")
UNIT_NAMES = ("scim-ldap-bridge.service", "scim-ldap-bridge-sweep.service", "scim-ldap-bridge-sweep.timer")
LOGS = Path("/var/log/scim-ldap-bridge")  # systemd's LogsDirectory=
LOGROTATE = Path("/etc/logrotate.d/scim-ldap-bridge")
MANPAGE = Path("/usr/share/man/man1/scim-ldap-bridge.1.gz")
LINTIAN_OVERRIDES = Path("/usr/share/lintian/overrides/scim-ldap-bridge")
DEBIAN = REPO / "packaging" / "debian"
# What the package may have in its venv's bin/: the command and its interpreter, nothing of the libraries.
VENV_BIN = {"scim-ldap-bridge", "python", "python3", *(f"python3.{minor}" for minor in range(11, 20))}
LOCKED = re.compile(r"^([\w.-]+)==(\S+) \\$", re.MULTILINE)  # requirements.lock's name==version lines
DEMO_REFUSAL = "demo is a development command: run `make demo` from a source checkout\n"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# What runs on this machine (the build, dpkg-deb): nothing of this checkout on its path.
CLEAN_ENV = {
    key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
}
# Run by the package's python: import every module of the bridge (but the one that runs the command), and
# print the module each one that does not import lacks. Only demo may lack one: bridge.testing, which the
# package leaves out.
IMPORT_EVERY_MODULE = """
import importlib, pkgutil, bridge
for module in pkgutil.walk_packages(bridge.__path__, "bridge."):
    if module.name.endswith(".__main__"):  # runs the command
        continue
    try:
        importlib.import_module(module.name)
    except ModuleNotFoundError as missing:
        print(module.name, missing.name)
"""
AS_SERVICE_USER = ["setpriv", f"--reuid={PACKAGE}", f"--regid={PACKAGE}", "--clear-groups", "--"]


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """A command on this machine, which only reads it: dpkg-deb on the test's own files, dpkg-query."""
    return subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd="/",
        env=CLEAN_ENV,
        stdin=subprocess.DEVNULL,
    )


def package_status(root: ThrowawayRoot) -> str:
    """The root's dpkg status of the package: installed, config-files, ... or '' when dpkg knows none."""
    query = root.run("dpkg-query", "--show", "--showformat=${db:Status-Status}", PACKAGE)
    return query.stdout.strip() if query.returncode == 0 else ""


def getent(root: ThrowawayRoot, database: str, key: str) -> list[str]:
    """The root's entry (not this machine's: Python's pwd and grp read its /etc), or [] when it has none."""
    found = root.run("getent", database, key)
    assert found.returncode in (0, 2), found.stderr
    return found.stdout.strip().split(":") if found.returncode == 0 else []


def owner_and_mode(root: ThrowawayRoot, path: Path) -> tuple[str, str, str]:
    """Owner, group and mode of a file of the root (not followed if a symlink), named by the root."""
    done = root.run("stat", "--format=%U %G %a", path)
    assert done.returncode == 0, done.stderr
    owner, group, mode = done.stdout.split()
    return owner, group, oct(int(mode, 8))


def without_the_package(root: ThrowawayRoot) -> None:
    """Purge the root's copy of the package, if this machine has one, and the user and group that a purge
    keeps (this machine's, if it had the package once): the test starts from none."""
    if package_status(root) not in ("", "not-installed"):
        purge = root.run("dpkg", "--purge", PACKAGE)
        assert purge.returncode == 0, purge.stdout + purge.stderr
    assert package_status(root) in ("", "not-installed")
    if getent(root, "passwd", PACKAGE):
        assert root.run("deluser", "--system", "--quiet", PACKAGE).returncode == 0
    if getent(root, "group", PACKAGE):
        assert root.run("delgroup", "--system", "--quiet", PACKAGE).returncode == 0
    assert not getent(root, "passwd", PACKAGE) and not getent(root, "group", PACKAGE)
    assert not (root / CONF).exists() and not (root / VENV).exists()


# What this machine has of the package, which the tests must leave as they found it.
HOST_TREES = (
    CONF,
    VENV,
    COMMAND,
    *(UNITS / unit for unit in UNIT_NAMES),
    LOGROTATE,
    MANPAGE,
    LINTIAN_OVERRIDES,
    Path("/lib/systemd/system/scim-ldap-bridge.service"),  # where the units were before issue #20
    Path("/usr/share/scim-ldap-bridge"),
    Path("/usr/share/doc/scim-ldap-bridge"),
)


def files_under(path: Path) -> list[tuple[str, int, int, int, int, int]] | None:
    """Every file under path (path included, symlinks not followed): name, mode, owner, size, mtime."""
    if not os.path.lexists(path):
        return None
    names = [str(path)]
    if path.is_dir() and not path.is_symlink():
        for folder, dirs, files in os.walk(path):
            names += [os.path.join(folder, name) for name in dirs + files]
    found = []
    for name in sorted(names):
        info = os.lstat(name)
        found.append((name, info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns))
    return found


def digest(path: str) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if os.path.exists(path) else None


def host_state() -> dict[str, object]:
    """This machine's dpkg record of the package, its files, its units' state, its user and group."""

    def host(*argv: str) -> tuple[int, str]:
        done = run(*argv)
        return done.returncode, done.stdout

    info = Path("/var/lib/dpkg/info")
    return {
        "dpkg": host("dpkg-query", "--status", PACKAGE),
        "dpkg info": {f.name: f.read_bytes() for f in sorted(info.glob(f"{PACKAGE}.*"))},
        "files": {str(path): files_under(path) for path in HOST_TREES},
        "logs": os.path.lexists(LOGS),
        "unit state": sorted(str(p) for p in Path("/etc/systemd/system").rglob("scim-ldap-bridge*")),
        "user": host("getent", "passwd", PACKAGE),
        "group": host("getent", "group", PACKAGE),
        "accounts": {
            name: digest(name) for name in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
        },
        "nonexistent": os.path.lexists("/nonexistent"),
    }


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
    depends = [alternative.strip() for alternative in control["Depends"].split(",")]
    assert depends[0].startswith("python3.")  # the interpreter the venv was made with
    assert "adduser" in depends  # postinst makes the system user with it
    if control["Architecture"] != "all":  # the wheels' shared objects, as dpkg-shlibdeps found them
        assert any(re.fullmatch(r"libc6 \(>= 2\.\d+\)", depend) for depend in depends), depends

    listing = {}
    for line in run("dpkg-deb", "--contents", deb).stdout.splitlines():
        mode, owner, *_, path = line.split(None, 5)
        listing[path.split(" -> ")[0].removeprefix(".")] = (mode, owner, path)
    assert listing["/etc/scim-ldap-bridge/"][:2] == ("drwxr-x---", "root/root")
    for conffile in ("bridge.yaml", "maps/openldap.yaml", "maps/active-directory.yaml"):
        assert listing[f"/etc/scim-ldap-bridge/{conffile}"][:2] == ("-rw-r-----", "root/root")
    assert listing["/usr/bin/scim-ldap-bridge"][2].endswith("-> /opt/scim-ldap-bridge/bin/scim-ldap-bridge")
    for unit in UNIT_NAMES:
        assert listing[f"{UNITS}/{unit}"][0] == "-rw-r--r--"
    assert not any(path.startswith("/lib/") for path in listing)
    for path in (
        "/usr/share/scim-ldap-bridge/schema/scim-bridge.ldif",
        "/usr/share/scim-ldap-bridge/schema/scim-bridge.schema",
        "/usr/share/scim-ldap-bridge/grafana/scim-ldap-bridge.json",  # docs/operate.md's Dashboard
        "/usr/share/doc/scim-ldap-bridge/README.md",
        "/usr/share/doc/scim-ldap-bridge/docs/configuration.md",  # README.md's links resolve
        "/usr/share/doc/scim-ldap-bridge/copyright",
        "/usr/share/doc/scim-ldap-bridge/changelog.gz",  # a native package's (Debian policy 12.7)
        str(MANPAGE),
        str(LINTIAN_OVERRIDES),
        "/opt/scim-ldap-bridge/bin/python",
    ):
        assert path in listing, path
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
    # The dashboard as the checkout has it, readable by whoever imports it into Grafana.
    dashboard = "/usr/share/scim-ldap-bridge/grafana/scim-ldap-bridge.json"
    assert listing[dashboard][:2] == ("-rw-r--r--", "root/root")
    shipped = run("sh", "-c", f"dpkg-deb --fsys-tarfile {deb} | tar -xOf - .{dashboard}")
    assert shipped.stdout == (REPO / "packaging" / "grafana" / "scim-ldap-bridge.json").read_text()


@pytest.fixture(scope="module")
def tree(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files, unpacked once into a folder of the test's (not installed)."""
    folder = tmp_path_factory.mktemp("tree")
    assert run("dpkg-deb", "--extract", deb, folder).returncode == 0
    return folder


def site_packages(tree: Path) -> Path:
    (found,) = (tree / VENV.relative_to("/")).glob("lib/python3.*/site-packages")
    return found


def test_lintian_finds_no_error_and_no_warning_but_those_overridden_with_their_reason(deb: Path) -> None:
    # --fail-on none: lintian counts the overridden tags it shows; the lines say what counts here.
    linted = run(
        "lintian", "--no-cfg", "--show-overrides", "--fail-on", "none", "--tag-display-limit", "0", deb
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    lines = linted.stdout.splitlines()
    assert not [line for line in lines if line.startswith(("E:", "W:"))], linted.stdout
    # The overrides file is the one that lintian read: the venv under /opt is overridden, with its reason.
    assert any(line.startswith(f"O: {PACKAGE}: dir-or-file-in-opt [opt/") for line in lines)
    overrides = (DEBIAN / "lintian-overrides").read_text().split("\n\n")
    for paragraph in overrides[1:]:  # each override follows its own comment
        assert paragraph.startswith("# ") and f"\n{PACKAGE}: " in paragraph, paragraph


def test_the_package_holds_only_what_production_needs(tree: Path) -> None:
    venv = tree / VENV.relative_to("/")
    assert {path.name for path in (venv / "bin").iterdir()} <= VENV_BIN  # no falcon-bench, waitress-serve
    site = site_packages(tree)
    for gone in ("bridge/testing", "falcon/bench", "pip", "setuptools", "_distutils_hack", "tests"):
        assert not (site / gone).exists(), gone
    # The venv holds what the lock names, at its versions, and the bridge (setuptools only built it).
    lock = dict(LOCKED.findall((DEBIAN / "requirements.lock").read_text()))
    lock.pop("setuptools")
    installed = {}
    for info in site.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert installed == {**lock, "scim-ldap-bridge": VERSION}
    # pip's RECORD files are true to what the build removed, rewrote and stripped.
    for record in site.glob("*.dist-info/RECORD"):
        for name, digest, size in csv.reader(record.read_text().splitlines()):
            path = site / name
            assert path.is_file(), path
            if digest:
                data = path.read_bytes()
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert (digest, int(size)) == (f"sha256={expected}", len(data)), path


def test_the_shared_objects_are_stripped(tree: Path) -> None:
    objects = sorted(site_packages(tree).rglob("*.so"))
    assert objects  # PyYAML's, falcon's, cryptography's, cffi's
    for path in objects:
        sections = run("readelf", "--section-headers", "--wide", path)
        assert sections.returncode == 0, sections.stderr
        assert ".symtab" not in sections.stdout and ".debug_" not in sections.stdout, path


def test_the_manual_page_shows_every_command_and_the_changelog_this_version(tree: Path) -> None:
    python = tree / VENV.relative_to("/") / "bin" / "python"
    usage = run(python, "-m", "bridge", "--help").stdout  # the package's own program
    (commands,) = re.findall(r"^  \{([\w,-]+)\}$", usage, re.MULTILINE)
    page = gzip.decompress((tree / MANPAGE.relative_to("/")).read_bytes()).decode()
    assert page.startswith(".TH SCIM-LDAP-BRIDGE 1 ")
    for command in commands.split(","):
        assert f'.SS "{command.replace("-", chr(92) + "-")}"' in page, command
    shown = run("man", "--warnings", "--local-file", tree / MANPAGE.relative_to("/"))
    assert shown.returncode == 0 and not shown.stderr, shown.stderr
    assert "serve" in shown.stdout and "/etc/scim-ldap-bridge/bridge.yaml" in shown.stdout

    changelog = tree / "usr/share/doc/scim-ldap-bridge/changelog.gz"
    assert gzip.decompress(changelog.read_bytes()) == (DEBIAN / "changelog").read_bytes()
    version = run("dpkg-parsechangelog", "--file", DEBIAN / "changelog", "--show-field", "Version")
    assert version.stdout.strip() == VERSION  # the bridge's (pyproject.toml)
    maintainer = run("dpkg-parsechangelog", "--file", DEBIAN / "changelog", "--show-field", "Maintainer")
    assert f"Maintainer: {maintainer.stdout.strip()}\n" in (DEBIAN / "control").read_text()


def test_the_copyright_file_names_every_library_the_venv_holds(tree: Path) -> None:
    copyright_file = (tree / "usr/share/doc/scim-ldap-bridge/copyright").read_text()
    assert copyright_file.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/")
    patterns = [
        pattern
        for files in re.findall(r"^Files: (.+)$", copyright_file, re.MULTILINE)
        for pattern in files.split()
        if pattern != "*"
    ]
    site = site_packages(tree)
    for top in sorted(site.iterdir()):
        if top.name in ("bridge", "__pycache__") or top.name.endswith(".dist-info"):
            continue
        installed = str((top / "x" if top.is_dir() else top).relative_to(tree))
        assert any(fnmatch.fnmatch(installed, pattern) for pattern in patterns), top.name


def test_the_lock_installs_with_require_hashes_and_refuses_a_changed_wheel(tmp_path: Path) -> None:
    lock = (DEBIAN / "requirements.lock").read_text()
    pins = dict(LOCKED.findall(lock))
    constraints = {}
    for line in (DEBIAN / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            constraints[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    assert pins == constraints  # packaging/debian/lock.sh was run after constraints.txt changed

    assert run("/usr/bin/python3", "-m", "venv", tmp_path / "venv").returncode == 0  # as build.sh's
    pip: list[str | Path] = [tmp_path / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet"]
    pip.append("--only-binary=:all:")
    changed = tmp_path / "changed.lock"
    pyyaml = lock.index("pyyaml==")
    changed.write_text(lock[:pyyaml] + re.sub(r"sha256:\w{8}", "sha256:00000000", lock[pyyaml:], count=2))
    refused = run(*pip, "--dry-run", "--require-hashes", "--requirement", changed)
    assert refused.returncode != 0 and "DO NOT MATCH THE HASHES" in refused.stderr, refused.stderr
    # --dry-run still fetches each wheel and checks its hash; the build installs them (its venv's test above).
    taken = run(*pip, "--dry-run", "--require-hashes", "--requirement", DEBIAN / "requirements.lock")
    assert taken.returncode == 0, taken.stderr


@pytest.fixture
def root(tmp_path: Path) -> Iterator[ThrowawayRoot]:
    """A throwaway root without the package, whether this machine has it or not; dropped after the test."""
    with throwaway_root(tmp_path / "root") as root:
        without_the_package(root)
        yield root


def test_the_package_test_leaves_this_machine_as_it_found_it(deb: Path, tmp_path: Path) -> None:
    """The throwaway root starts as a copy of this machine (with the package if the machine has it), takes
    an install that the machine does not see, and leaves nothing behind: no process, no mount."""
    before = host_state()
    host_has_it = (
        run("dpkg-query", "--show", "--showformat=${db:Status-Status}", PACKAGE).stdout == "installed"
    )
    with throwaway_root(tmp_path / "root") as root:
        assert (package_status(root) == "installed") == host_has_it
        without_the_package(root)
        installed = root.run("dpkg", "--install", root.copy_in(deb))
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert package_status(root) == "installed" and getent(root, "passwd", PACKAGE)
        assert (root / CONF / "bridge.yaml").is_file() and (root / COMMAND).is_symlink()
        assert host_state() == before  # while the root has it installed
        assert str(tmp_path) not in Path("/proc/self/mountinfo").read_text()
        assert root.processes()  # the holder
    assert host_state() == before
    assert not root.processes()  # the namespace is gone, and its mounts with it
    assert not list((tmp_path / "root").iterdir())


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


def test_dpkg_installs_it_it_serves_as_its_user_an_upgrade_keeps_the_config_and_purge_keeps_user_and_logs(
    deb: Path, slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path, root: ThrowawayRoot
) -> None:
    before = host_state()
    installed = root.run("dpkg", "--install", root.copy_in(deb))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert package_status(root) == "installed"

    # The command, from the package's own venv.
    version = root.run(COMMAND, "version")
    assert (version.returncode, version.stdout) == (0, f"scim-ldap-bridge {__version__}\n"), version.stderr
    assert os.readlink(root / COMMAND) == str(VENV / "bin" / PACKAGE)
    where = root.run(VENV / "bin" / "python", "-c", "import bridge; print(bridge.__file__)").stdout.strip()
    assert where.startswith(f"{VENV}/lib/python3.") and where.endswith("/site-packages/bridge/__init__.py")

    # Without bridge.testing, demo says what it is instead of a traceback; every other module of the
    # bridge imports, so each command the docs offer runs from the package.
    demo = root.run(COMMAND, "demo")
    assert (demo.returncode, demo.stdout, demo.stderr) == (2, "", DEMO_REFUSAL)
    imports = root.run(VENV / "bin" / "python", "-c", IMPORT_EVERY_MODULE)
    assert imports.returncode == 0, imports.stderr
    failed = dict(line.split(" ", 1) for line in imports.stdout.splitlines())
    assert all(module.endswith(".demo") and missing == "bridge.testing" for module, missing in failed.items())
    assert len(failed) == 1, failed

    # The system user and group, and who may read the configuration.
    user = getent(root, "passwd", PACKAGE)  # name, password, uid, gid, gecos, home, shell
    group = getent(root, "group", PACKAGE)
    assert int(user[2]) < 1000 and user[3] == group[2]
    assert user[6] == "/usr/sbin/nologin" and user[5] == "/nonexistent"
    assert not (root / "/nonexistent").exists()
    assert owner_and_mode(root, CONF) == ("root", PACKAGE, "0o750")
    assert owner_and_mode(root, CONF / "maps") == ("root", PACKAGE, "0o750")
    for conffile in ("bridge.yaml", "maps/openldap.yaml", "maps/active-directory.yaml"):
        assert owner_and_mode(root, CONF / conffile) == ("root", PACKAGE, "0o640"), conffile

    # The units are installed, valid as installed, and not enabled.
    verify = root.run("systemd-analyze", "verify", *(UNITS / unit for unit in UNIT_NAMES))
    assert verify.returncode == 0, verify.stderr
    assert not list((root / "/etc/systemd/system").glob("*.wants/scim-ldap-bridge*"))

    # The shipped example cannot run as it is (the service is not enabled for that reason)...
    example = root.run(*AS_SERVICE_USER, COMMAND, "check-config", "--config", CONF / "bridge.yaml")
    assert example.returncode == 2 and "the example's placeholder" in example.stderr
    assert "no credential 'bind-password'" in example.stderr
    # ...until the admin edits it: here, for the test slapd, over StartTLS with its CA.
    conf = root / CONF  # the root's configuration, written from outside
    shutil.copy(str(slapd.ca_file), conf / "ldap-ca.pem")
    (conf / "bind-password").write_text(slapd.password + "\n")
    for secret in ("ldap-ca.pem", "bind-password"):
        os.chown(conf / secret, 0, int(group[2]))
        (conf / secret).chmod(0o640)
    port = find_free_port()
    config = yaml.safe_load((conf / "bridge.yaml").read_text())
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
    (conf / "bridge.yaml").write_text(edited)
    checked = root.run(*AS_SERVICE_USER, COMMAND, "check-config", "--config", CONF / "bridge.yaml")
    assert checked.returncode == 0, checked.stderr
    assert "configuration is valid" in checked.stdout

    # It serves as its user, says READY to a service manager, reaches slapd, and stops on SIGTERM.
    notify, address = notify_socket()
    with notify:
        # nsenter execs the command (no fork): the signals below reach the bridge. The network is this
        # machine's, so are slapd and the abstract notify socket.
        server = subprocess.Popen(
            root.command(
                *AS_SERVICE_USER,
                "env",
                f"NOTIFY_SOCKET={address}",
                f"CREDENTIALS_DIRECTORY={CONF}",  # where the unit's LoadCredential= would put its copy
                COMMAND,
                "serve",
                "--config",
                CONF / "bridge.yaml",
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
            env=ENV,
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
    upgraded = root.run("dpkg", "--install", root.copy_in(repack(deb, tmp_path, f"{VERSION}+next1")))
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert root.run("dpkg-query", "--show", "--showformat=${Version}", PACKAGE).stdout == f"{VERSION}+next1"
    assert (conf / "bridge.yaml").read_text() == edited
    assert not list(conf.rglob("*.dpkg-*"))
    assert (conf / "maps" / "active-directory.yaml").read_text().endswith("# changed in the next release\n")
    assert owner_and_mode(root, CONF / "maps" / "active-directory.yaml") == ("root", PACKAGE, "0o640")
    assert (conf / "bind-password").exists()

    # Purge: the configuration (the admin's files too), the venv and the units are gone; as Debian does,
    # the system user and group stay, and so do the audit files.
    logs = root / LOGS  # made here as systemd would
    logs.mkdir(mode=0o750, exist_ok=True)
    os.chown(logs, int(user[2]), int(group[2]))
    (logs / "audit.jsonl").write_text("{}\n")
    purged = root.run("dpkg", "--purge", PACKAGE)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert package_status(root) in ("", "not-installed")
    for path in (CONF, VENV, COMMAND, LOGROTATE, MANPAGE):
        assert not os.path.lexists(root / path), path
    for path in (UNITS / unit for unit in UNIT_NAMES):
        assert not os.path.lexists(root / path), path
    assert not list((root / "/etc/systemd/system").rglob("scim-ldap-bridge*"))
    assert getent(root, "passwd", PACKAGE) == user and getent(root, "group", PACKAGE) == group
    assert (logs / "audit.jsonl").read_text() == "{}\n"
    assert owner_and_mode(root, LOGS) == (PACKAGE, PACKAGE, "0o750")
    # A new install takes the user it left, and the logs stay its own.
    again = root.run("dpkg", "--install", root.copy_in(deb))
    assert again.returncode == 0, again.stdout + again.stderr
    assert getent(root, "passwd", PACKAGE) == user

    # None of it happened on this machine.
    assert host_state() == before
