"""pytest plugin: one throwaway Samba AD DC per session, and a fresh OU subtree per test.

Enable it with ``pytest_plugins = ["tests.samba_fixtures"]`` (tests/conftest.py) or
``-p tests.samba_fixtures`` on the command line.

* ``samba`` (session): :class:`~bridge.testing.samba.SambaInfo` of a real Samba AD DC on loopback
  (ldaps://127.0.0.1:636 and StartTLS on 389, ``ca_file`` is the CA that signed its certificate).
  It first runs ``packaging/install-samba.sh``, which installs Samba when any package is missing
  (quick when all are there), so a fresh machine works. Its ports are fixed: when 127.0.0.1:389
  or :636 is taken the session fails, never skips.
* ``ad_subtree`` (function): an :class:`AdSubtree` ``OU=t<8 hex>,DC=example,DC=test`` with
  ``OU=people``, ``OU=groups`` and ``OU=disabled`` under it, deleted with everything in it after
  the test. Tests that keep to their subtree never see each other's entries, with no restart.

The OUs are made and removed with ``ldapadd`` / ``ldapdelete -r`` over LDAPS (the CA verified),
bound as the domain administrator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.testing.samba import Samba, SambaInfo, port_holders, ports_free

__all__ = ["AdSubtree", "ad_subtree", "make_ad_subtree", "samba", "samba_ports", "samba_server"]

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "packaging" / "install-samba.sh"


@dataclass(frozen=True, slots=True)
class AdSubtree:
    """A test's private part of the domain."""

    base: str  # OU=t1a2b3c4d,DC=example,DC=test
    user_base: str  # OU=people,<base>
    group_base: str  # OU=groups,<base>
    disabled_base: str  # OU=disabled,<base>


def _ldap(
    tool: str, info: SambaInfo, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [tool, "-x", "-H", info.ldaps_url, "-D", info.bind_upn, "-w", info.password, *args]
    env = {**os.environ, "LDAPTLS_CACERT": info.ca_file, "LDAPTLS_REQCERT": "demand"}
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=60, env=env)


@contextmanager
def make_ad_subtree(info: SambaInfo) -> Iterator[AdSubtree]:
    """Create a fresh OU with people/groups/disabled OUs; delete it, whatever it holds, on exit."""
    name = f"t{uuid.uuid4().hex[:8]}"
    base = f"OU={name},{info.base}"
    ldif = f"dn: {base}\nobjectClass: organizationalUnit\nou: {name}\n"
    for ou in ("people", "groups", "disabled"):
        ldif += f"\ndn: OU={ou},{base}\nobjectClass: organizationalUnit\nou: {ou}\n"
    res = _ldap("ldapadd", info, stdin=ldif)
    if res.returncode != 0:
        _ldap("ldapdelete", info, "-r", base)  # the part that was made, if any
        raise RuntimeError(f"ldapadd of test subtree {base} failed: {res.stderr.strip()}")
    try:
        yield AdSubtree(base, f"OU=people,{base}", f"OU=groups,{base}", f"OU=disabled,{base}")
    finally:
        res = _ldap("ldapdelete", info, "-r", base)
        if res.returncode not in (0, 32):  # 32: noSuchObject, the test removed it itself
            raise RuntimeError(f"ldapdelete -r {base} failed: {res.stderr.strip()}")


def _have(name: str) -> bool:
    return bool(shutil.which(name)) or any(
        os.access(f"{d}/{name}", os.X_OK) for d in ("/usr/sbin", "/usr/bin")
    )


def _ensure_installed() -> None:
    """Install Samba with the project's own script when any of it is missing (a fresh CI machine).

    On Debian the script itself checks every package (about 0.1 s when all are there), which also
    catches a half install, e.g. samba without samba-vfs-modules; elsewhere only the binaries count.
    """
    if not shutil.which("dpkg-query") and all(map(_have, ("samba", "samba-tool", "ldapsearch"))):
        return
    res = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, check=False, timeout=1200)
    if res.returncode != 0:
        pytest.fail(
            f"{INSTALL} failed (exit {res.returncode}); the Samba tests need it:\n{res.stderr}{res.stdout}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def samba_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samba]:
    """A real Samba AD DC for the whole session (LDAPS + StartTLS, own CA); stopped at the end."""
    _ensure_installed()
    if not ports_free():
        holders = "".join(f"\n  {line}" for line in port_holders())
        pytest.fail(
            f"127.0.0.1:389 or :636 is taken, and a Samba AD DC cannot use other ports:{holders}\n"
            "stop whatever listens there (a samba left by a killed run: "
            "python -c 'from bridge.testing.samba import Samba; Samba(\"<its cwd>\").stop()') and run again",
            pytrace=False,
        )
    server = Samba(tmp_path_factory.mktemp("samba"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def samba(samba_server: Samba) -> SambaInfo:
    """How to reach the session DC."""
    return samba_server.info


@pytest.fixture
def samba_ports(samba_server: Samba) -> Iterator[None]:
    """The DC's fixed ports, free for this test: the session DC stops, and starts again afterwards."""
    samba_server.stop()
    try:
        yield
    finally:
        samba_server.start()


@pytest.fixture
def ad_subtree(samba: SambaInfo) -> Iterator[AdSubtree]:
    """This test's own ``OU=t<uuid8>`` subtree in the session DC, removed after the test."""
    with make_ad_subtree(samba) as subtree:
        yield subtree
