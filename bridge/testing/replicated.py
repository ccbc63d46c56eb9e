"""Two throwaway slapd providers replicating each other (multi-provider), for the high-availability tests.

``ReplicatedPair(workdir).start()`` starts providers ``a`` and ``b`` (``workdir/a``, ``workdir/b``) on
loopback, each a :class:`~bridge.testing.slapd.Slapd` with the same overlays as a single one, plus syncprov
and a refreshAndPersist syncrepl from the other (serverIDs 1 and 2): delta-syncrepl, each write logged by
the accesslog overlay and replayed by the peer, so that two changes of one entry made on different
providers (a member added on each, one while the other was down) are both kept, where whole entries would
replace one another. contextCSN is checkpointed at each write, so a provider killed with ``SIGKILL`` and
started again still offers its last writes to its peer. They share one self-signed TLS
certificate, so one ``ca_file`` trusts both. A write on either is on the other a few milliseconds later;
:meth:`ReplicatedPair.wait_converged` waits until both have the same ``contextCSN`` on the suffix: each
provider's latest change, by serverID, which a provider holds only once it has applied every change
before it. :meth:`ReplicatedPair.held` stops one provider pulling the other's changes for a while: the
replication lag of a busy or distant server, on demand.

``python -m bridge.testing.replicated DIR`` runs a pair until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.testing import serve_until_stopped
from bridge.testing.slapd import (
    Replication,
    Slapd,
    SlapdError,
    SlapdInfo,
    default_schema_path,
    find_free_port,
)

__all__ = ["PairInfo", "ReplicatedPair", "context_csn", "main"]


@dataclass(frozen=True, slots=True)
class PairInfo:
    """How to reach both providers; ``urls`` in the order every bridge instance should list them."""

    a: SlapdInfo
    b: SlapdInfo

    @property
    def urls(self) -> list[str]:
        return [self.a.url, self.b.url]


def context_csn(info: SlapdInfo) -> frozenset[str]:
    """The suffix's ``contextCSN`` values on one provider (one per serverID that ever wrote)."""
    out = _as_admin(
        "ldapsearch", info, "-LLL", "-s", "base", "-b", info.suffix, "(objectClass=*)", "contextCSN"
    )
    return frozenset(
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("contextCSN:")
    )


class ReplicatedPair:
    """Providers ``a`` and ``b`` in multi-provider replication; ``slapd_options`` go to both."""

    def __init__(self, workdir: str | Path, **slapd_options: Any) -> None:
        self.workdir = Path(workdir).resolve()
        self._options = {"ldaps_port": 0, **slapd_options}  # TLS on: StartTLS needs the certificate
        self.a: Slapd | None = None
        self.b: Slapd | None = None

    @property
    def info(self) -> PairInfo:
        if self.a is None or self.b is None:
            raise SlapdError("the replicated pair has not been started")
        return PairInfo(self.a.info, self.b.info)

    def start(self) -> PairInfo:
        """Start both providers, wiping earlier data, and return once they have converged."""
        port_a, port_b = find_free_port(), find_free_port()
        while port_b == port_a:
            port_b = find_free_port()
        url_a, url_b = f"ldap://127.0.0.1:{port_a}", f"ldap://127.0.0.1:{port_b}"
        self.a = Slapd(self.workdir / "a", port=port_a, replication=Replication(1, (url_b,)), **self._options)
        self.b = Slapd(self.workdir / "b", port=port_b, replication=Replication(2, (url_a,)), **self._options)
        try:
            self.a.start()
            self._share_certificate()
            self.b.start()
            self._handshake()
        except BaseException:
            self.stop()
            raise
        return self.info

    def stop(self) -> None:
        for server in (self.a, self.b):
            if server is not None:
                server.stop()

    def converged(self) -> bool:
        """Whether both providers hold the same ``contextCSN``, so each has applied the other's changes."""
        return context_csn(self.info.a) == context_csn(self.info.b)

    def wait_converged(self, timeout: float = 10.0) -> float:
        """Seconds until :meth:`converged`; raises :class:`SlapdError` after ``timeout``."""
        start = time.monotonic()
        while not self.converged():
            if time.monotonic() - start > timeout:
                raise SlapdError(
                    f"the providers did not converge within {timeout} s: "
                    f"a {sorted(context_csn(self.info.a))}, b {sorted(context_csn(self.info.b))}"
                )
            time.sleep(0.01)
        return time.monotonic() - start

    @contextmanager
    def held(self, name: str) -> Iterator[None]:
        """Provider ``name`` ("a" or "b") pulls nothing from its peer until the block ends, then catches up:
        its syncrepl is taken out of its cn=config (over ldapi, as root) and put back."""
        server = {"a": self.a, "b": self.b}[name]
        assert server is not None
        ldapi = server.info.ldapi_url
        found = _ldap_tool(
            "ldapsearch",
            ldapi,
            "-LLL",
            "-o",
            "ldif-wrap=no",
            "-b",
            "cn=config",
            "(olcSyncrepl=*)",
            "olcSyncrepl",
        )
        lines = found.splitlines()
        database = lines[0].removeprefix("dn: ")
        syncrepl = next(line for line in lines if line.startswith("olcSyncrepl: ")).split("}", 1)[1]
        head = f"dn: {database}\nchangetype: modify\n"
        multiprovider = "replace: olcMultiProvider\nolcMultiProvider: {}\n"  # needs a syncrepl when TRUE
        _ldap_tool(
            "ldapmodify", ldapi, stdin=f"{head}{multiprovider.format('FALSE')}-\ndelete: olcSyncrepl\n"
        )
        try:
            yield
        finally:
            back = f"{head}add: olcSyncrepl\nolcSyncrepl: {syncrepl}\n-\n{multiprovider.format('TRUE')}"
            _ldap_tool("ldapmodify", ldapi, stdin=back)

    def __enter__(self) -> PairInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handshake(self) -> None:
        """Return once each provider has pulled a change of the other's. a started first, when b was not
        up yet, so its syncrepl waits for its retry (a second): better at the start than in a test."""
        for name, info in (("a", self.info.a), ("b", self.info.b)):
            change = f"dn: {info.suffix}\nchangetype: modify\nreplace: description\n"
            change += f"description: replicated pair: a change on {name}\n"
            _as_admin("ldapmodify", info, stdin=change)
        self.wait_converged()

    def _share_certificate(self) -> None:
        """b serves a's certificate (its launcher keeps one it finds), so one ca_file trusts both."""
        assert self.a is not None and self.b is not None
        target = self.b.workdir / "tls"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self.a.workdir / "tls", target)


def _as_admin(name: str, info: SlapdInfo, *args: str, stdin: str | None = None) -> str:
    """Run an OpenLDAP client bound as the provider's admin (the test slapd's own throwaway password,
    so the argument list may hold it); its output, or SlapdError. The tools, not ldap3: only
    ``bridge/directory/ldap`` imports ldap3."""
    argv = [shutil.which(name) or name, "-x", "-H", info.url, "-D", info.bind_dn, "-w", info.password, *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=10)
    if done.returncode != 0:
        raise SlapdError(f"{name} on {info.url} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _ldap_tool(name: str, ldapi: str, *args: str, stdin: str | None = None) -> str:
    """Run an OpenLDAP client as root over ``ldapi`` (SASL EXTERNAL); its output, or SlapdError."""
    argv = [shutil.which(name) or name, "-Q", "-Y", "EXTERNAL", "-H", ldapi, *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=10)
    if done.returncode != 0:
        raise SlapdError(f"{name} on {ldapi} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    """``python -m bridge.testing.replicated DIR``: run a replicated pair until SIGTERM/SIGINT."""
    ap = argparse.ArgumentParser(prog="python -m bridge.testing.replicated", description=__doc__)
    ap.add_argument("dir", help="work directory (a/ and b/ below it); its data is wiped")
    args = ap.parse_args(argv)
    pair = ReplicatedPair(args.dir, extra_schema=[default_schema_path()])
    return serve_until_stopped(pair.start, pair.stop, "replicated slapd", SlapdError)


if __name__ == "__main__":
    sys.exit(main())
