"""A throwaway OpenLDAP ``slapd`` on loopback, for the demo and the tests.

``Slapd(workdir).start()`` writes ``workdir/slapd.conf``, loads the base entries with
``slapadd``, converts the config to cn=config with ``slaptest`` (``workdir/slapd.d``) and
starts ``slapd``, which daemonises and writes ``workdir/slapd.pid``. The tree is
``dc=example,dc=org`` with ``ou=people``, ``ou=groups`` and ``ou=policies``; the rootdn is
``cn=admin,dc=example,dc=org``. Overlays: memberof, refint and ppolicy (a default policy with
``pwdLockout: TRUE``, so ``pwdAccountLockedTime`` locks accounts). Root may manage cn=config
with SASL EXTERNAL over the ldapi socket ``workdir/ldapi``. A start takes 0.1-0.2 s.

Needs the Debian packages ``slapd`` and ``ldap-utils`` (and ``openssl`` for ldaps); it never
skips: a missing binary raises :class:`SlapdError`. Only the process named in the pid file,
and only if its command line mentions the workdir, is ever signalled.

With ``replication`` it is one provider of a multi-provider pair (syncprov, syncrepl refreshAndPersist to
each peer, its own serverID); :mod:`bridge.testing.replicated` starts such a pair.

``python -m bridge.testing.slapd [--port N] [--ldaps-port N] DIR`` runs one until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import hashlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from bridge.testing import serve_until_stopped

__all__ = [
    "Replication",
    "Slapd",
    "SlapdError",
    "SlapdInfo",
    "default_schema_path",
    "find_free_port",
    "main",
]

SUFFIX = "dc=example,dc=org"
_SCHEMA_DIR = "/etc/ldap/schema"
_TOOL_DIRS = ("/usr/sbin", "/usr/bin")  # root's PATH may lack sbin
_WIPE = ("slapd.d", "db", "accesslog", "slapd.conf", "base.ldif", "slapd.pid", "slapd.args", "ldapi")
_ADDR_IN_USE = "Address already in use"

_CONF = """\
{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
{modules}
pidfile "{w}/slapd.pid"
argsfile "{w}/slapd.args"
{tls}
database config
rootdn "cn=admin,cn=config"
rootpw {config_pw}
access to * by dn.exact={peer} manage by * break

database mdb
maxsize 1073741824
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw {data_pw}
directory "{w}/db"
# Store big member lists as separate records (back-mdb, OpenLDAP 2.5+), so one member added to or
# removed from a group of 100,000 does not rewrite the whole entry.
multival member,uniqueMember,memberUid 100,10
index objectClass eq
index uid,cn,sn,givenName,mail,displayName eq,sub
index member,uniqueMember,memberUid eq
index entryUUID,entryCSN eq
index uidNumber,gidNumber eq
# Keep member values sorted, so adding or deleting one in a group of 100,000 is a binary search.
sortvals member uniqueMember memberUid
{indexes}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by self write by users read by anonymous auth

{overlays}{monitor}{accesslog}"""
_MONITOR = """
# The monitor backend (opt-in): operation and connection counters under cn=Monitor, readable by the rootdn.
database monitor
access to dn.subtree="cn=Monitor" by dn.exact="cn=admin,{suffix}" read by * none
"""
_MEMBEROF = """\
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
memberof-dangling ignore

"""
_DYNLIST = """
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf
"""
_UNIQUE = """
overlay unique
unique_uri ldap:///{suffix}?uid?sub
unique_uri ldap:///{suffix}?cn?sub?(objectClass=groupOfNames)
"""
_PPOLICY = """
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{suffix}"
ppolicy_hash_cleartext
ppolicy_use_lockout
"""


# Replication: the provider's own changes are offered by syncprov (checkpointing contextCSN often, so a
# restart resumes close to where it stopped); each peer's are pulled and kept pulled (refreshAndPersist),
# retried every second forever, so a peer that comes back is caught up within about a second.
# Delta-syncrepl: each write is also logged (accesslog, in a database of its own) and the peers replay the
# logged changes rather than copy whole entries, so that two writes to one entry on different providers,
# a member added on each, both survive (a whole entry would replace the other's).
# contextCSN is checkpointed at every write, before its answer: a provider killed and restarted starts
# from the one its database holds, and one older than its last writes would keep them from its peers.
_SYNCREPL = """\
syncrepl rid={rid:03d} provider={peer} bindmethod=simple binddn="cn=admin,{suffix}" credentials={password}
  searchbase="{suffix}" type=refreshAndPersist retry="1 +" timeout=1 network-timeout=1
  logbase="cn=accesslog" logfilter="(&(objectClass=auditWriteObject)(reqResult=0))" syncdata=accesslog
"""
_SYNCPROV = """\
overlay syncprov
syncprov-checkpoint 1 1

overlay accesslog
logdb cn=accesslog
logops writes
logsuccess TRUE
logpurge 07+00:00 01+00:00

"""
_ACCESSLOG_DB = """
# The log of the writes, which the peers replay (delta-syncrepl); never replicated itself.
database mdb
maxsize 1073741824
suffix "cn=accesslog"
rootdn "cn=admin,{suffix}"
directory "{w}/accesslog"
index entryCSN,objectClass,reqEnd,reqResult,reqStart,reqDN eq
access to * by * none
overlay syncprov
syncprov-nopresent TRUE
syncprov-reloadhint TRUE
syncprov-checkpoint 1 1
"""
# The base entries of replicated providers are loaded into each with the same entryUUID and entryCSN, so
# that they start identical (separate loads would give the same DNs different ids, which syncrepl cannot
# reconcile) and the first refresh has nothing to do.
_BASE_CSN = "20000101000000.000000Z#000000#000#000000"


class SlapdError(RuntimeError):
    """slapd could not be prepared, started or found; the message carries slapd's own output."""


@dataclass(frozen=True, slots=True)
class SlapdInfo:
    """How to reach a running test slapd."""

    url: str  # "ldap://127.0.0.1:PORT"
    ldaps_url: str | None
    ca_file: str | None  # the self-signed server certificate, when ldaps is on
    suffix: str
    bind_dn: str
    password: str
    user_base: str
    group_base: str
    workdir: str
    ldapi_url: str  # %-encoded; root binding with SASL EXTERNAL here may manage cn=config


@dataclass(frozen=True, slots=True)
class Replication:
    """This slapd as one provider of a multi-provider set: its serverID and the other providers' URLs."""

    server_id: int  # 1-4095, distinct for each provider
    peers: tuple[str, ...]  # "ldap://127.0.0.1:PORT" of each other provider


# Below Linux's ephemeral range (32768-60999 by default): a port from bind(0) is one the kernel also hands
# to outgoing connections, and one of those (a bridge's own LDAP connections) can take it before the
# server it was chosen for listens on it.
_PORTS = range(20000, 32768)


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now, outside the ephemeral range."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in random.sample(_PORTS, 64):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(family, socket.SOCK_STREAM) as s:  # a crowded range: let the kernel choose
        s.bind((host, 0))
        return int(s.getsockname()[1])


def default_schema_path() -> Path:
    """The repository's ``config/schema/scim-bridge.schema`` (slapd.conf include syntax)."""
    path = Path(__file__).resolve().parents[2] / "config" / "schema" / "scim-bridge.schema"
    if not path.is_file():
        raise SlapdError(f"the scim-bridge schema is missing: expected it at {path}")
    return path


def _tool(name: str) -> str:
    dirs = (os.path.join(d, name) for d in _TOOL_DIRS)
    found = shutil.which(name) or next((p for p in dirs if os.access(p, os.X_OK)), None)
    if found is None:
        raise SlapdError(
            f"{name} not found; install the Debian packages: apt-get install slapd ldap-utils openssl"
        )
    return found


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt, usedforsecurity=False).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _proc_state(pid: int) -> str | None:
    """The /proc state letter of ``pid``, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    # A daemonised slapd's parent is PID 1, which may reap it late: a zombie is dead.
    return _proc_state(pid) not in (None, "Z")


def _run(argv: Sequence[str], what: str, stdin: str | None = None) -> None:
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SlapdError(f"{what} failed (exit {res.returncode}):\n{res.stderr}{res.stdout}".rstrip())


def _with_fixed_ids(ldif: str) -> str:
    """``ldif`` with an entryUUID derived from each DN and the one base entryCSN (see ``_BASE_CSN``)."""
    entries = []
    for entry in ldif.strip().split("\n\n"):
        dn = entry.split("\n", 1)[0].removeprefix("dn: ")
        entries.append(f"{entry}\nentryUUID: {uuid.uuid5(uuid.NAMESPACE_X500, dn)}\nentryCSN: {_BASE_CSN}\n")
    return "\n".join(entries)


def _answers(probe: list[str], deadline: float) -> bool:
    try:  # a stuck (e.g. paused) slapd accepts the connection and never answers: time out
        timeout = max(0.2, deadline - time.monotonic())
        return subprocess.run(probe, capture_output=True, check=False, timeout=timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


class Slapd:
    """One throwaway slapd with its config, data, socket and pid file in ``workdir``."""

    def __init__(
        self,
        workdir: str | Path,
        *,
        port: int | None = None,
        ldaps_port: int | None = None,
        password: str = "admin",  # noqa: S107 - a throwaway test server
        extra_schema: Sequence[str | Path] = (),
        memberof: bool = True,
        refint: bool = True,
        ppolicy: bool = True,
        refint_nothing: str | None = None,
        host: str = "127.0.0.1",
        rfc2307bis: bool = False,
        sssvlv: bool = True,
        modules: Sequence[str] = (),
        password_hash: str | None = None,
        monitor: bool = False,
        dynlist: bool = False,
        unique: bool = False,
        replication: Replication | None = None,
    ) -> None:
        """Describe the server; nothing happens until :meth:`start`.

        ``port`` None picks a free port (kept for :meth:`restart`); ``ldaps_port`` None means no
        TLS, 0 picks a free port. ``extra_schema`` are slapd.conf-syntax schema files included
        after core, cosine, inetorgperson and nis. ``rfc2307bis`` loads nis with posixGroup made
        AUXILIARY, as RFC 2307bis directories have it, so a group can be groupOfNames and posixGroup.
        ``sssvlv`` loads the server-side sort and virtual list view overlay, which the bridge uses to
        serve a page of a large list without reading the whole list.
        ``modules`` are more modules from /usr/lib/ldap to load (``pw-sha2``, ``argon2``), and
        ``password_hash`` is slapd's ``password-hash`` (``{ARGON2}``): the scheme ppolicy's
        hash_cleartext, which is always on with ppolicy, hashes cleartext passwords with.
        ``monitor`` adds slapd's monitor backend (``cn=Monitor``: operations initiated and completed
        per type, connections), readable by the rootdn, for benchmarks that count LDAP operations.
        ``dynlist`` loads the dynlist overlay and dyngroup.schema, so a groupOfURLs shows as its
        ``member`` the entries its memberURL finds: the group shape that keeps membership on the members
        (``scimMemberOf``), and ``memberOf`` on those members.
        ``unique`` loads the unique overlay, which refuses a second entry with the same uid anywhere in
        the tree, or a second groupOfNames (groupOfURLs, with dynlist) with the same cn: for
        ``ldap.uniqueness: directory``. (slapd checks only the attributes an add sends, not a value
        that is only in the DN.)
        ``replication`` makes it a provider of a multi-provider set (fix ``port``: the peers name it).
        """
        self.workdir = Path(workdir).resolve()
        self._port, self._auto_port = port, port is None
        self._ldaps_port, self._auto_ldaps = ldaps_port, ldaps_port == 0
        self._password = password
        self._schemas = [Path(s).resolve() for s in extra_schema]
        self._memberof, self._refint, self._ppolicy = memberof, refint, ppolicy
        self._refint_nothing = refint_nothing
        self._host = host
        self._rfc2307bis = rfc2307bis
        self._sssvlv = sssvlv
        self._modules, self._password_hash = tuple(modules), password_hash
        self._monitor = monitor
        self._dynlist = dynlist
        self._unique = unique
        self._replication = replication
        self._info: SlapdInfo | None = None

    @property
    def info(self) -> SlapdInfo:
        """Connection details; raises :class:`SlapdError` before the first start."""
        if self._info is None:
            raise SlapdError("slapd has not been started")
        return self._info

    def start(self) -> SlapdInfo:
        """Start a fresh slapd with an empty tree (only the base entries), wiping earlier data."""
        self._kill_stale()
        for name in _WIPE:
            p = self.workdir / name
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
        (self.workdir / "db").mkdir(parents=True)
        (self.workdir / "slapd.d").mkdir()
        if self._replication:
            (self.workdir / "accesslog").mkdir()
        self._prepare()
        for attempt in range(3):
            if self._auto_port and (attempt or self._port is None):
                self._port = find_free_port(self._host)
            if self._auto_ldaps and (attempt or not self._ldaps_port):
                self._ldaps_port = find_free_port(self._host)
            self._info = self._make_info()
            try:
                self._launch()
            except SlapdError as e:  # a free port can be taken before slapd binds it: pick again
                if attempt == 2 or _ADDR_IN_USE not in str(e) or not (self._auto_port or self._auto_ldaps):
                    raise
                continue
            break
        return self.info

    def stop(self) -> None:
        """SIGTERM, wait until it is gone (a zombie counts), SIGKILL after 5 s. Idempotent."""
        atexit.unregister(self.stop)
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)  # a paused slapd must run to see the SIGTERM
            if not self._wait_dead(pid, 5.0):
                os.kill(pid, signal.SIGKILL)
                self._wait_dead(pid, 5.0)
        (self.workdir / "slapd.pid").unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL at once (LMDB is crash-safe); :meth:`restart` brings it back with its data."""
        pid = self._pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            self._wait_dead(pid, 5.0)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers."""
        os.kill(self._pid_or_raise(), signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        os.kill(self._pid_or_raise(), signal.SIGCONT)

    def restart(self) -> None:
        """Stop, then start slapd again on the same data, config and ports (nothing is wiped)."""
        self.info  # noqa: B018 - raises when never started
        self.stop()
        self._launch()

    def __enter__(self) -> SlapdInfo:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------

    def _pid(self) -> int | None:
        """The live slapd from our pid file whose command line mentions our workdir, else None."""
        try:
            pid = int((self.workdir / "slapd.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        ours = os.path.basename(cmdline[0]) == b"slapd" and any(
            os.fsencode(self.workdir) in a for a in cmdline
        )
        return pid if ours and _alive(pid) else None

    def _pid_or_raise(self) -> int:
        pid = self._pid()
        if pid is None:
            raise SlapdError(f"no slapd is running for {self.workdir}")
        return pid

    def _kill_stale(self) -> None:
        pid = self._pid()  # e.g. left behind by an earlier test run in the same dir
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            self._wait_dead(pid, 5.0)

    @staticmethod
    def _wait_dead(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _prepare(self) -> None:
        """Write slapd.conf and base.ldif, load the base with slapadd, convert to slapd.d with slaptest."""
        w, tls = self.workdir, ""
        if len(os.fsencode(w / "ldapi")) > 107:  # sun_path holds 108 bytes with the NUL
            raise SlapdError(f"workdir path too long for the ldapi unix socket: {w / 'ldapi'}")
        if self._ldaps_port is not None:
            cert, key = w / "tls" / "cert.pem", w / "tls" / "key.pem"
            if not (cert.is_file() and key.is_file()):
                self._make_cert(cert, key)
            tls = f'TLSCertificateFile "{cert}"\nTLSCertificateKeyFile "{key}"\n'
        (w / "slapd.conf").write_text(self._conf(tls))
        (w / "base.ldif").write_text(self._base_ldif())
        conf = str(w / "slapd.conf")
        slapadd = [_tool("slapadd"), "-f", conf, "-b", SUFFIX, "-l", str(w / "base.ldif"), "-q"]
        # -w: a replicated provider starts with the contextCSN of its base entries, as its peers do
        _run([*slapadd, "-w"] if self._replication else slapadd, "slapadd")
        if self._replication:  # an empty log database, which slaptest can open
            _run([_tool("slapadd"), "-f", conf, "-b", "cn=accesslog", "-l", os.devnull, "-q"], "slapadd")
        # slaptest must come after slapadd: it opens the mdb read-only and fails on an empty dir
        _run([_tool("slaptest"), "-Q", "-f", conf, "-F", str(w / "slapd.d")], "slaptest")

    def _make_info(self) -> SlapdInfo:
        w, host = self.workdir, (f"[{self._host}]" if ":" in self._host else self._host)
        tls = self._ldaps_port is not None
        return SlapdInfo(
            url=f"ldap://{host}:{self._port}",
            ldaps_url=f"ldaps://{host}:{self._ldaps_port}" if tls else None,
            ca_file=str(w / "tls" / "cert.pem") if tls else None,
            suffix=SUFFIX,
            bind_dn=f"cn=admin,{SUFFIX}",
            password=self._password,
            user_base=f"ou=people,{SUFFIX}",
            group_base=f"ou=groups,{SUFFIX}",
            workdir=str(w),
            ldapi_url="ldapi://" + quote(str(w / "ldapi"), safe=""),
        )

    def _launch(self) -> None:
        """Start the daemon on the prepared slapd.d and wait until the rootdn can bind."""
        info, slapd = self.info, _tool("slapd")
        urls = " ".join(u + "/" for u in (info.url, info.ldaps_url) if u) + " " + info.ldapi_url
        argv = [slapd, "-F", str(self.workdir / "slapd.d"), "-h", urls]
        res = subprocess.run([*argv, "-s", "0"], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SlapdError(f"slapd failed to start on {urls}:\n{self._diagnose(argv) or res.stderr}")
        atexit.register(self.stop)
        probe = [_tool("ldapsearch"), "-x", "-H", info.url, "-D", info.bind_dn, "-w", info.password]
        probe += ["-b", info.suffix, "-s", "base", "dn"]
        deadline = time.monotonic() + 10.0
        while not _answers(probe, deadline):
            if self._pid() is None or time.monotonic() > deadline:
                self.stop()
                raise SlapdError(f"slapd did not answer a bind on {info.url} (see {self.workdir})")
            time.sleep(0.025)

    def _diagnose(self, argv: list[str]) -> str:
        """slapd says nothing when it fails as a daemon: rerun it in the foreground to hear why."""
        with subprocess.Popen([*argv, "-d", "32768"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as p:
            try:
                out, _ = p.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()  # it started this time (our own child): the failure was transient
                out, _ = p.communicate()
        return out.decode(errors="replace")

    @staticmethod
    def _make_cert(cert: Path, key: Path) -> None:
        cert.parent.mkdir(parents=True, exist_ok=True)
        _run(
            [_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
             "-keyout", str(key), "-out", str(cert)],
            "openssl (self-signed certificate)",
        )  # fmt: skip

    def _conf(self, tls: str) -> str:
        for p in self._schemas:
            if not p.is_file():
                raise SlapdError(f"extra schema not found: {p}")
        std = [f"{_SCHEMA_DIR}/{n}.schema" for n in ("core", "cosine", "inetorgperson", "nis")]
        if self._rfc2307bis:
            std[-1] = str(self._rfc2307bis_schema())
        std += [f"{_SCHEMA_DIR}/dyngroup.schema"] if self._dynlist else []
        scim = any(
            "scim-bridge" in p.name or "scimexternalid" in p.read_text().lower() for p in self._schemas
        )
        on = {
            "memberof": self._memberof,
            "refint": self._refint,
            "ppolicy": self._ppolicy,
            "sssvlv": self._sssvlv,
            "dynlist": self._dynlist,
            "unique": self._unique,
        }
        indexes = "index memberOf eq\n" if self._memberof else ""
        member_of = any("name 'scimmemberof'" in p.read_text().lower() for p in self._schemas)
        indexes += "index scimExternalId,scimUserName eq,sub\n" if scim else ""
        indexes += "index scimMemberOf eq\n" if member_of else ""
        overlays, replication = _MEMBEROF if self._memberof else "", ""
        if self._replication:
            on["syncprov"] = on["accesslog"] = True
            overlays = _SYNCPROV + overlays
            replication = "".join(
                _SYNCREPL.format(rid=rid, peer=peer, suffix=SUFFIX, password=self._password)
                for rid, peer in enumerate(self._replication.peers, start=1)
            )
            replication += "multiprovider on\n"
        if self._refint:
            overlays += "overlay refint\nrefint_attributes member manager owner"
            overlays += " memberOf" if self._memberof else ""
            overlays += " scimMemberOf\n" if member_of else "\n"
            overlays += f'refint_nothing "{self._refint_nothing}"\n' if self._refint_nothing else ""
        overlays += _PPOLICY.format(suffix=SUFFIX) if self._ppolicy else ""
        overlays += "overlay sssvlv\n" if self._sssvlv else ""
        overlays += _DYNLIST if self._dynlist else ""
        overlays += _UNIQUE.format(suffix=SUFFIX) if self._unique else ""
        if self._unique and self._dynlist:  # a filter naming an unknown class is refused at each add
            overlays += f"unique_uri ldap:///{SUFFIX}?cn?sub?(objectClass=groupOfURLs)\n"
        return _CONF.format(
            includes="".join(f'include "{p}"\n' for p in [*std, *self._schemas]),
            modules="".join(f"moduleload {name}\n" for name, yes in on.items() if yes)
            + "".join(f"moduleload {name}\n" for name in self._modules)
            + (f"password-hash {self._password_hash}\n" if self._password_hash else "")
            + (f"serverID {self._replication.server_id}\n" if self._replication else ""),
            w=self.workdir,
            tls=tls,
            config_pw=_ssha(self._password),
            data_pw=_ssha(self._password),
            suffix=SUFFIX,
            peer=f"gidNumber={os.getgid()}+uidNumber={os.getuid()},cn=peercred,cn=external,cn=auth",
            indexes=indexes + replication,
            overlays=overlays,
            monitor=_MONITOR.format(suffix=SUFFIX) if self._monitor else "",
            accesslog=_ACCESSLOG_DB.format(suffix=SUFFIX, w=self.workdir) if self._replication else "",
        )

    def _rfc2307bis_schema(self) -> Path:
        """Debian's nis.schema with the one change RFC 2307bis makes to groups: posixGroup becomes
        AUXILIARY (MUST gidNumber), so it can be added to a groupOfNames."""
        text = Path(f"{_SCHEMA_DIR}/nis.schema").read_text(encoding="utf-8")
        structural = "SUP top STRUCTURAL\n\tMUST ( cn $ gidNumber )"
        if structural not in text:
            raise SlapdError("nis.schema's posixGroup is not the one this launcher knows how to adapt")
        path = self.workdir / "rfc2307bis.schema"
        path.write_text(text.replace(structural, "SUP top AUXILIARY\n\tMUST gidNumber"), encoding="utf-8")
        return path

    def _base_ldif(self) -> str:
        text = f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
        for ou in ("people", "groups", "policies"):
            text += f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        if self._ppolicy:
            text += (
                f"dn: cn=default,ou=policies,{SUFFIX}\nobjectClass: device\nobjectClass: pwdPolicy\n"
                "cn: default\npwdAttribute: userPassword\npwdLockout: TRUE\npwdMaxFailure: 0\n"
                "pwdLockoutDuration: 0\npwdAllowUserChange: TRUE\npwdMustChange: FALSE\npwdCheckQuality: 0\n"
            )
        return _with_fixed_ids(text) if self._replication else text


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bridge.testing.slapd [--port N] [--ldaps-port N] DIR``: run until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(
        prog="python -m bridge.testing.slapd", description="Run a throwaway OpenLDAP slapd."
    )
    ap.add_argument("dir", help="work directory (config, data, socket, pid file); its data is wiped")
    ap.add_argument("--port", type=int, help="ldap:// port (default: a free one)")
    ap.add_argument("--ldaps-port", type=int, help="also serve ldaps:// here (0: a free port)")
    ap.add_argument("--password", default="admin", help="rootdn password (default: admin)")
    ap.add_argument("--no-scim-schema", action="store_true", help="do not load scim-bridge.schema")
    args = ap.parse_args(argv)
    schemas = [] if args.no_scim_schema else [default_schema_path()]
    server = Slapd(
        args.dir, port=args.port, ldaps_port=args.ldaps_port, password=args.password, extra_schema=schemas
    )
    return serve_until_stopped(server.start, server.stop, "slapd", SlapdError)


if __name__ == "__main__":
    sys.exit(main())
