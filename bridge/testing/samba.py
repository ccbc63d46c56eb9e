"""A throwaway Samba Active Directory domain controller on loopback, for the tests.

``Samba(workdir).start()`` copies a provisioned domain from a cached template into ``workdir``,
points its ``etc/smb.conf`` at ``workdir``, and starts ``samba -D`` with only the ``ldap`` service:
ldap://127.0.0.1:389 (StartTLS), ldaps://127.0.0.1:636 and the global catalog ports 3268/3269,
on 127.0.0.1 and ::1 only. DNS, NetBIOS, wrepl, dnsupdate, Kerberos and RPC are off, so nothing
leaves the machine. The domain is ``EXAMPLE.TEST`` (NetBIOS ``EXAMPLE``), base ``DC=example,DC=test``,
administrator ``CN=Administrator,CN=Users,DC=example,DC=test`` (``Administrator@example.test``).
``start`` returns once an LDAPS simple bind as the administrator works.

The template (default ``/tmp/scim-bridge-samba-template-<REALM>``) is made once with
``samba-tool domain provision`` (5-10 s on 2 cores), under a lock, and made again when the realm, domain,
password or Samba version changes. It carries its own test CA and a server certificate signed by
it whose SANs are 127.0.0.1, ::1, localhost and dc1.<realm> (``SambaInfo.ca_file`` is the CA), so
clients verify both the chain and the host name. A start from the template takes about 0.5 s; a
stop about 0.1 s. ``restart()`` starts a stopped (or ``kill()``-ed) DC again on the data it had, in
about 0.5 s too.

Samba needs root, and its ports are fixed: only one DC fits on the host loopback at a time
(:func:`ports_free` tells). A simple bind on plain 389 is refused (strongerAuthRequired): use
LDAPS, or StartTLS on 389. A subtree search from the domain root returns continuation references
to ``ldaps://example.test/...``: clients must not chase them (ldap3: ``auto_referrals=False``).
``objectGUID`` is little-endian: ``uuid.UUID(bytes_le=raw)``; ``<GUID=...>`` works as a base DN.

Password policy: Samba's defaults stay on, because a real AD has them and the bridge must cope:
complexity on, minimum length 7, history 24, minimum age 1 day, maximum age 42 days (only the
administrator is exempt from expiry, so an old template still binds). A ``unicodePwd`` reset that
breaks the policy fails with constraintViolation ``0000052D ... check_password_restrictions``. To
relax it in one running DC (a test that needs weak passwords), as root while it runs::

    samba-tool domain passwordsettings set --complexity=off --min-pwd-length=0 \\
        --history-length=0 --min-pwd-age=0 --max-pwd-age=0 \\
        -H <workdir>/private/sam.ldb -s <workdir>/etc/smb.conf

or over LDAP as the administrator, replace on the domain root (``SambaInfo.base``):
``pwdProperties: 0`` (complexity off), ``minPwdLength: 0``, ``pwdHistoryLength: 0``,
``minPwdAge: 0``, ``maxPwdAge: 0``. Both change only that workdir's copy, never the template.
One default is changed: ``old password allowed period = 0``. Samba otherwise accepts the previous
password at a bind for 60 minutes after a reset, and a test could not tell a password write from none.

Needs the Debian packages samba, samba-dsdb-modules, samba-ad-provision, samba-vfs-modules, openssl
and ldap-utils: ``packaging/install-samba.sh`` installs them. It never skips: a missing binary
raises :class:`SambaError`. Only processes of the process group named in ``workdir/run/samba.pid``
that run the samba binary with ``workdir`` as their current directory are ever signalled.

``python -m bridge.testing.samba DIR`` runs one until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bridge.testing import serve_until_stopped

__all__ = ["Samba", "SambaError", "SambaInfo", "main", "port_holders", "ports_free"]

HOST = "127.0.0.1"
LDAP_PORT = 389
LDAPS_PORT = 636
GC_PORTS = (3268, 3269)  # global catalog: the ldap service binds these too
HOST_NAME = "DC1"
INSTALL_HINT = (
    "run packaging/install-samba.sh (as root), which installs the Debian packages samba "
    "samba-dsdb-modules samba-ad-provision samba-vfs-modules openssl ldap-utils"
)
_TOOL_DIRS = ("/usr/sbin", "/usr/bin")  # root's PATH may lack sbin
_TEMPLATE_FORMAT = 1  # bump when the template's contents change
_PARAMS = ".scim-bridge-template.json"
_START_TIMEOUT = 30.0
_STOP_GRACE = 10.0
_LOG_TAIL = 40


class SambaError(RuntimeError):
    """Samba could not be provisioned, started or found; the message carries Samba's own output."""


@dataclass(frozen=True, slots=True)
class SambaInfo:
    """How to reach a running test DC."""

    ldaps_url: str  # "ldaps://127.0.0.1:636"
    starttls_url: str  # "ldap://127.0.0.1:389": a simple bind needs StartTLS first
    ca_file: str  # the CA that signed the DC's certificate
    base: str  # "DC=example,DC=test"
    bind_dn: str  # "CN=Administrator,CN=Users,DC=example,DC=test"
    bind_upn: str  # "Administrator@example.test"
    password: str  # the administrator's password
    realm: str  # the Kerberos realm, upper case: "EXAMPLE.TEST"; UPN suffixes are realm.lower()
    domain: str  # the NetBIOS domain: "EXAMPLE"
    workdir: str
    users_container: str  # "CN=Users,DC=example,DC=test"


def _port_busy(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT socket does not count
        try:
            s.bind((host, port))
            return False
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            if e.errno == errno.EADDRNOTAVAIL:  # no such address here (e.g. IPv6 off): nothing there
                return False
            if e.errno != errno.EACCES:  # not root: a privileged port; ask whether anyone listens
                raise
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _busy_ports(hosts: Sequence[str], ports: Sequence[int]) -> list[str]:
    return [f"{h}:{p}" if ":" not in h else f"[{h}]:{p}" for h in hosts for p in ports if _port_busy(h, p)]


def _listening_inodes(ports: Sequence[int]) -> dict[str, int]:
    """Socket inodes listening on ``ports`` (any address), from /proc/net/tcp{,6}: inode -> port."""
    found: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            port = int(cols[1].rsplit(":", 1)[1], 16)
            if cols[3] == "0A" and port in ports:  # 0A: LISTEN
                found[cols[9]] = port
    return found


def port_holders() -> list[str]:
    """Who listens on the DC's ports (389, 636, 3268, 3269), one line each, for error messages:
    the pid, the program and, for samba, the workdir it was started from (its current directory)."""
    inodes = _listening_inodes([LDAP_PORT, LDAPS_PORT, *GC_PORTS])
    seen: dict[tuple[int, str], set[int]] = {}
    for pid in _pids():
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            exe = os.readlink(f"/proc/{pid}/exe")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        ports = {inodes[link[8:-1]] for link in links if link.startswith("socket:[") and link[8:-1] in inodes}
        if ports:
            st = _stat(pid)
            group = int(st[2]) if st else pid
            seen.setdefault((group, f"{exe} (cwd {cwd})"), set()).update(ports)
    return [
        f"ports {', '.join(map(str, sorted(ports)))}: process group {group}, {what}"
        for (group, what), ports in sorted(seen.items())
    ]


def ports_free() -> bool:
    """True when nothing holds 127.0.0.1:389 and 127.0.0.1:636, so a DC can start on loopback."""
    return not _busy_ports([HOST], [LDAP_PORT, LDAPS_PORT])


def _tool(name: str) -> str:
    dirs = (os.path.join(d, name) for d in _TOOL_DIRS)
    found = shutil.which(name) or next((p for p in dirs if os.access(p, os.X_OK)), None)
    if found is None:
        raise SambaError(f"{name} not found: {INSTALL_HINT}")
    return found


def _run(argv: Sequence[str], what: str, *, timeout: float = 120.0) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise SambaError(f"{what} did not finish in {timeout:.0f} s") from e
    if res.returncode != 0:
        raise SambaError(f"{what} failed (exit {res.returncode}):\n{res.stderr}{res.stdout}".rstrip())
    return res.stdout + res.stderr  # samba-tool logs to stderr


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields from the state on (state is [0], pgrp is [2]), or None when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def _trailing_blanks(lines: list[str]) -> list[str]:
    n = len(lines)
    while n and not lines[n - 1].strip():
        n -= 1
    return lines[n:]


def _tail(path: Path, lines: int = _LOG_TAIL) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no {path})"
    return f"--- last {min(lines, len(text))} lines of {path} ---\n" + "\n".join(text[-lines:])


class Samba:
    """One throwaway Samba AD DC with its databases, config, logs and pid file in ``workdir``."""

    def __init__(
        self,
        workdir: str | Path,
        *,
        realm: str = "EXAMPLE.TEST",
        domain: str = "EXAMPLE",
        admin_password: str = "Adm1n-Passw0rd!",  # noqa: S107 - a throwaway test DC
        template_dir: str | Path | None = None,
    ) -> None:
        """Describe the DC; nothing happens until :meth:`start`.

        ``admin_password`` must satisfy Samba's default complexity rules, or provisioning fails.
        ``template_dir`` None means ``<tmp>/scim-bridge-samba-template-<REALM>``.
        """
        self.workdir = Path(workdir).resolve()
        self.realm = realm.upper()
        self.domain = domain.upper()
        if "." not in self.realm or not 1 <= len(self.domain) <= 15:
            raise SambaError(f"need a dotted realm and a 1-15 character domain, not {realm!r}/{domain!r}")
        self.password = admin_password
        default = Path(tempfile.gettempdir()) / f"scim-bridge-samba-template-{self.realm}"
        self.template_dir = Path(template_dir or default).resolve()
        if self.workdir == self.template_dir or self.template_dir in self.workdir.parents:
            raise SambaError(f"the workdir {self.workdir} must lie outside the template {self.template_dir}")
        self._info: SambaInfo | None = None

    @property
    def info(self) -> SambaInfo:
        """Connection details; raises :class:`SambaError` before the first start."""
        if self._info is None:
            raise SambaError("samba has not been started")
        return self._info

    @property
    def smb_conf(self) -> Path:
        """This DC's smb.conf, for ``samba-tool ... -s`` (with ``-H <workdir>/private/sam.ldb``)."""
        return self.workdir / "etc" / "smb.conf"

    def start(self) -> SambaInfo:
        """Start a fresh DC (a copy of the template: only the provisioned objects), wiping earlier data."""
        samba, ldapsearch = _tool("samba"), _tool("ldapsearch")
        self.stop()  # e.g. left behind by an earlier run in the same dir
        self._check_paths()
        busy = _busy_ports([HOST, "::1"], [LDAP_PORT, LDAPS_PORT, *GC_PORTS])
        if busy:
            holders = "".join(f"\n  {line}" for line in port_holders()) or " (by whom is not visible)"
            raise SambaError(
                f"cannot start a Samba DC: {', '.join(busy)} already in use{holders}\nIts ports are "
                "fixed, so only one DC fits on the loopback: stop the other DC or LDAP server first "
                "(for example `systemctl stop slapd samba-ad-dc`, or `kill` the process named above)"
            )
        template = self._ensure_template()
        self._wipe(template)
        params = json.loads((template / _PARAMS).read_text())
        shutil.copytree(
            template, self.workdir, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(_PARAMS)
        )
        self._write_conf(str(params["path"]))
        self._info = self._make_info()
        self._launch(samba, ldapsearch)
        return self.info

    def stop(self) -> None:
        """SIGTERM the DC's process group, wait until all of it is gone, SIGKILL after 10 s. Idempotent."""
        atexit.unregister(self.stop)
        pgid = self._pgid()
        if pgid is not None:
            self._signal(pgid, signal.SIGTERM)
            if not self._wait_gone(pgid, _STOP_GRACE):
                self._signal(pgid, signal.SIGKILL)
                self._wait_gone(pgid, 5.0)
        (self.workdir / "run" / "samba.pid").unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL every process of the DC at once, as a crash would; :meth:`restart` brings it back."""
        pgid = self._pgid()
        if pgid is not None:
            self._signal(pgid, signal.SIGKILL)
            self._wait_gone(pgid, 5.0)

    def restart(self) -> SambaInfo:
        """Start the DC again on its own databases, every entry kept, as a DC back from an outage (after
        :meth:`stop` or :meth:`kill`; a running one is stopped first). :meth:`start` would begin afresh."""
        info = self.info  # raises before the first start
        self.stop()
        self._launch(_tool("samba"), _tool("ldapsearch"))
        return info

    def __enter__(self) -> SambaInfo:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- processes ---------------------------------------------------------------------------

    def _ours(self, pid: int) -> bool:
        """A live samba process started from this workdir (samba rewrites its argv and environ,
        so the mark is its current directory, which :meth:`_launch` sets and samba keeps)."""
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return False
        # " (deleted)": the binary was upgraded, or the workdir removed, under a running DC
        exe, cwd = exe.removesuffix(" (deleted)"), cwd.removesuffix(" (deleted)")
        return os.path.basename(exe) == "samba" and Path(cwd) == self.workdir

    def _pgid(self) -> int | None:
        """The process group named by our pid file, while any process of ours is left in it."""
        try:
            pgid = int((self.workdir / "run" / "samba.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pgid if self._members(pgid) else None

    def _members(self, pgid: int) -> list[int]:
        """Live (non-zombie) processes of ours in the group ``pgid``."""
        found = []
        for pid in _pids():
            st = _stat(pid)
            if st is not None and st[0] != "Z" and st[2] == str(pgid) and self._ours(pid):
                found.append(pid)
        return found

    def _signal(self, pgid: int, signum: signal.Signals) -> None:
        leader = _stat(pgid)
        try:
            if leader is not None and leader[2] == str(pgid) and self._ours(pgid):
                os.killpg(pgid, signum)  # the root process leads its own group (samba -D calls setsid)
            else:  # the root process died and left workers: signal only those we recognise
                for pid in self._members(pgid):
                    os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def _wait_gone(self, pgid: int, timeout: float) -> bool:
        # A daemon's parent is PID 1, which may reap it late: a zombie counts as gone.
        deadline = time.monotonic() + timeout
        while self._members(pgid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- template and workdir ----------------------------------------------------------------

    def _check_paths(self) -> None:
        longest = self.workdir / "private" / "ldap_priv" / "ldapi"  # unix sockets: 107 bytes at most
        for sock in (longest, self.workdir / "msg.sock" / "4194304"):
            if len(os.fsencode(sock)) > 107:
                raise SambaError(f"workdir path too long for samba's unix sockets: {sock}")

    def _wanted_params(self) -> dict[str, object]:
        version = _run([_tool("samba"), "--version"], "samba --version").strip().splitlines()[0]
        return {
            "format": _TEMPLATE_FORMAT,
            "realm": self.realm,
            "domain": self.domain,
            "password": self.password,
            "samba": version,
        }

    def _ensure_template(self) -> Path:
        """Provision the template unless a complete one with the same parameters exists."""
        t = self.template_dir
        t.parent.mkdir(parents=True, exist_ok=True)
        wanted = self._wanted_params()
        with open(t.parent / f".{t.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one provision at a time, e.g. two test sessions
            try:
                have = json.loads((t / _PARAMS).read_text())
                if {k: have.get(k) for k in wanted} == wanted:
                    return t
            except (OSError, ValueError):
                pass
            for stale in t.parent.glob(f"{t.name}.new-*"):  # a provision that was killed
                shutil.rmtree(stale, ignore_errors=True)
            new = t.parent / f"{t.name}.new-{os.getpid()}"
            try:
                self._provision(new, wanted, final=t)
            except BaseException:
                shutil.rmtree(new, ignore_errors=True)
                raise
            shutil.rmtree(t, ignore_errors=True)
            new.rename(t)
        return t

    def _provision(self, target: Path, params: dict[str, object], *, final: Path) -> None:
        """Provision into ``target``, which is then renamed to ``final``."""
        target.mkdir(mode=0o700, parents=True)
        # An empty config, or provision copies the system's /etc/samba/smb.conf (homes, printers,
        # /var/log/samba, ...) into the new one.
        empty = target / "empty.conf"
        empty.write_text("")
        realm_lc = self.realm.lower()
        argv = [
            _tool("samba-tool"), "domain", "provision", "-s", str(empty), f"--targetdir={target}",
            f"--realm={self.realm}", f"--domain={self.domain}", "--server-role=dc",
            "--dns-backend=NONE", f"--adminpass={self.password}", f"--host-name={HOST_NAME}",
            "--option=interfaces=lo", "--option=bind interfaces only=yes",
            "--option=disable netbios=yes", "--option=server services=-dns -nbt -wrepl -dnsupdate",
        ]  # fmt: skip
        out = _run(argv, "samba-tool domain provision", timeout=300)
        empty.unlink()
        (target / "provision.log").write_text(out)
        conf = str(target / "etc" / "smb.conf")
        # Only the administrator's password never expires (maxPwdAge is 42 days): an old template
        # must still bind. Everyone else keeps the domain's default policy.
        _run(
            [_tool("samba-tool"), "user", "setexpiry", "Administrator", "--noexpiry",
             "-H", str(target / "private" / "sam.ldb"), "-s", conf],
            "samba-tool user setexpiry Administrator --noexpiry",
        )  # fmt: skip
        self._make_tls(target / "private" / "tls", realm_lc)
        # Only smb.conf holds absolute paths; each start replaces "path" with its workdir.
        smb_conf = target / "etc" / "smb.conf"
        smb_conf.write_text(smb_conf.read_text().replace(str(target), str(final)))
        (target / _PARAMS).write_text(json.dumps({**params, "path": str(final)}))  # marks it complete

    @staticmethod
    def _make_tls(tls: Path, realm_lc: str) -> None:
        """A test CA and a server certificate it signed, for every name a client may dial."""
        shutil.rmtree(tls, ignore_errors=True)
        tls.mkdir(mode=0o700, parents=True)
        openssl = _tool("openssl")
        host = f"{HOST_NAME.lower()}.{realm_lc}"
        ext = tls / "server.ext"
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            f"subjectAltName=DNS:{host},DNS:{realm_lc},DNS:localhost,IP:127.0.0.1,IP:::1\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        )
        files = {n: str(tls / f"{n}.pem") for n in ("ca", "ca-key", "cert", "key", "req")}
        _run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", f"/CN=scim-ldap-bridge test CA for {realm_lc}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", files["ca-key"], "-out", files["ca"]],
            "openssl (test CA)",
        )  # fmt: skip
        _run(
            [openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
             "-keyout", files["key"], "-out", files["req"]],
            "openssl (server key)",
        )  # fmt: skip
        _run(
            [openssl, "x509", "-req", "-in", files["req"], "-CA", files["ca"], "-CAkey", files["ca-key"],
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "3650",
             "-extfile", str(ext), "-out", files["cert"]],
            "openssl (server certificate)",
        )  # fmt: skip
        for name in ("ca-key", "req"):  # nothing more is ever signed
            Path(files[name]).unlink()
        ext.unlink()
        os.chmod(files["key"], 0o600)  # samba refuses a key file others can read

    def _wipe(self, template: Path) -> None:
        """Remove what an earlier start left here: the template's names, run/, log/ and samba's tdbs."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        names = {p.name for p in template.iterdir()} | {"run", "log", "msg.lock", "msg.sock"}
        names |= {p.name for p in self.workdir.glob("*.tdb")}
        for name in names - {_PARAMS}:
            p = self.workdir / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)

    def _write_conf(self, provisioned_at: str) -> None:
        """Point the copied smb.conf at the workdir and add this instance's own paths and TLS files."""
        w, tls = self.workdir, self.workdir / "private" / "tls"
        text = self.smb_conf.read_text().replace(provisioned_at, str(w))
        own = {
            "server services": "ldap",
            "pid directory": f"{w}/run",
            "log file": f"{w}/log/samba.log",
            "ncalrpc dir": f"{w}/run/ncalrpc",
            "winbindd socket directory": f"{w}/run/winbindd",
            "tls enabled": "yes",
            "tls keyfile": f"{tls}/key.pem",
            "tls certfile": f"{tls}/cert.pem",
            "tls cafile": f"{tls}/ca.pem",
            # The previous password stops binding at once after a reset (Samba's default: 60 minutes).
            "old password allowed period": "0",
        }
        ours = [f"\t{k} = {v}" for k, v in own.items()]
        out: list[str] = []
        in_global = False
        for line in text.splitlines():
            if line.strip().startswith("["):
                if in_global:  # end of [global]: ours go last (a later line wins), then a blank line
                    out = [*out[: len(out) - len(_trailing_blanks(out))], *ours, ""]
                in_global = line.strip().lower() == "[global]"
            elif in_global and line.split("=", 1)[0].strip().lower() in own:
                continue
            out.append(line)
        if in_global:
            out += ours
        self.smb_conf.write_text("\n".join(out) + "\n")
        for d in ("run", "log"):
            (w / d).mkdir(exist_ok=True)

    # -- start -------------------------------------------------------------------------------

    def _make_info(self) -> SambaInfo:
        realm_lc = self.realm.lower()
        base = ",".join(f"DC={part}" for part in realm_lc.split("."))
        return SambaInfo(
            ldaps_url=f"ldaps://{HOST}:{LDAPS_PORT}",
            starttls_url=f"ldap://{HOST}:{LDAP_PORT}",
            ca_file=str(self.workdir / "private" / "tls" / "ca.pem"),
            base=base,
            bind_dn=f"CN=Administrator,CN=Users,{base}",
            bind_upn=f"Administrator@{realm_lc}",
            password=self.password,
            realm=self.realm,
            domain=self.domain,
            workdir=str(self.workdir),
            users_container=f"CN=Users,{base}",
        )

    def _launch(self, samba: str, ldapsearch: str) -> None:
        """Start ``samba -D`` and wait until an LDAPS bind as the administrator works."""
        info, w = self.info, self.workdir
        log, out = w / "log" / "samba.log", w / "log" / "samba-start.out"
        argv = [
            samba, "-D", "-s", str(self.smb_conf), "--option=server services=ldap",
            f"--option=pid directory={w}/run", f"--option=log file={log}",
            f"--option=ncalrpc dir={w}/run/ncalrpc", f"--option=winbindd socket directory={w}/run/winbindd",
        ]  # fmt: skip
        deadline = time.monotonic() + _START_TIMEOUT
        with open(out, "wb") as fh:  # not a pipe: the daemon must not hold our end open
            # cwd=workdir marks every process of this DC (see _ours)
            started = subprocess.run(argv, cwd=w, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh, check=False)
        if started.returncode != 0:
            raise SambaError(f"samba -D failed (exit {started.returncode}):\n{_tail(out)}\n{_tail(log)}")
        atexit.register(self.stop)
        pidfile = w / "run" / "samba.pid"
        while self._pgid() is None:  # samba writes its pid file once it runs as a daemon
            if time.monotonic() > deadline:
                self.stop()
                raise SambaError(f"samba wrote no pid file {pidfile} or died at once:\n{_tail(log)}")
            time.sleep(0.01)
        env = {**os.environ, "LDAPTLS_CACERT": info.ca_file, "LDAPTLS_REQCERT": "demand"}
        probe = [ldapsearch, "-x", "-H", info.ldaps_url, "-D", info.bind_upn, "-w", info.password]
        probe += ["-b", info.base, "-s", "base", "-o", "nettimeout=5", "dn"]
        last = ""
        while True:
            try:
                res = subprocess.run(probe, capture_output=True, text=True, env=env, timeout=10, check=False)
                if res.returncode == 0:
                    return
                last = (res.stderr or res.stdout).strip()
            except subprocess.TimeoutExpired:
                last = "ldapsearch timed out"
            if self._pgid() is None or time.monotonic() > deadline:
                why = "died" if self._pgid() is None else f"did not answer in {_START_TIMEOUT:.0f} s"
                self.stop()
                raise SambaError(
                    f"samba {why}: no LDAPS bind as {info.bind_upn} on {info.ldaps_url} "
                    f"(last ldapsearch: {last})\n{_tail(log)}"
                )
            time.sleep(0.05)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bridge.testing.samba DIR``: run a throwaway AD DC until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(
        prog="python -m bridge.testing.samba", description="Run a throwaway Samba AD DC on loopback."
    )
    ap.add_argument("dir", help="work directory (databases, config, logs, pid file); its data is wiped")
    ap.add_argument("--realm", default="EXAMPLE.TEST", help="Kerberos realm (default: EXAMPLE.TEST)")
    ap.add_argument("--domain", default="EXAMPLE", help="NetBIOS domain (default: EXAMPLE)")
    ap.add_argument("--password", default="Adm1n-Passw0rd!", help="administrator password")
    ap.add_argument("--template-dir", help="provisioned template cache (default: in the temp dir)")
    args = ap.parse_args(argv)

    server = Samba(
        args.dir,
        realm=args.realm,
        domain=args.domain,
        admin_password=args.password,
        template_dir=args.template_dir,
    )
    return serve_until_stopped(server.start, server.stop, "samba", SambaError)


if __name__ == "__main__":
    sys.exit(main())
