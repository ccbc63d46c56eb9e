"""What the benchmarks share: a throwaway slapd loaded offline with users, and the bridge wired to it.

Every benchmark drives the bridge in-process through falcon.testing against a real slapd on loopback
(the test launcher, :mod:`bridge.testing.slapd`), with users added by slapadd while slapd is stopped:
creating 100,000 users over SCIM is not what any of them measures.
"""

from __future__ import annotations

import hashlib
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path

import falcon.testing
import ldap3

from bridge.app import create_app
from bridge.config import AuthConfig, LdapConfig, Secret, Settings, load_maps
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.testing.slapd import Slapd, SlapdInfo

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"  # a throwaway server on loopback


def user_name(n: int) -> str:
    """The uid (and SCIM userName) of the ``n``-th loaded user: ``u000042``."""
    return f"u{n:06d}"


def load_users(server: Slapd, info: SlapdInfo, stop: int, start: int = 0) -> None:
    """Add users ``start`` to ``stop - 1`` with slapadd while slapd is stopped (it generates entryUUID
    and the rest); users already there stay, so a directory can be grown in steps."""
    ldif = Path(info.workdir) / "users.ldif"
    with ldif.open("w") as out:
        for n in range(start, stop):
            out.write(
                f"dn: uid={user_name(n)},{info.user_base}\nobjectClass: inetOrgPerson\n"
                f"uid: {user_name(n)}\ncn: User {n}\nsn: {n}\n\n"
            )
    server.stop()
    subprocess.run(
        ["slapadd", "-q", "-F", f"{info.workdir}/slapd.d", "-b", info.suffix, "-l", str(ldif)], check=True
    )
    ldif.unlink()
    server.restart()


def user_ids(info: SlapdInfo) -> list[str]:
    """The entryUUID of every user, sorted, read straight from slapd with ldap3."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    entries = conn.extend.standard.paged_search(
        info.user_base,
        "(objectClass=inetOrgPerson)",
        attributes=["entryUUID"],
        paged_size=1000,
        generator=True,
    )
    ids = sorted(str(e["attributes"]["entryUUID"]) for e in entries if e.get("type") == "searchResEntry")
    conn.unbind()
    return ids


def client_for(info: SlapdInfo) -> tuple[falcon.testing.TestClient, ConnectionPool]:
    """The bridge (the OpenLDAP map, no TLS) as a falcon.testing client that sends the bearer token."""
    settings = Settings(
        auth=AuthConfig(("sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest(),)),
        ldap=LdapConfig(
            urls=(info.url,),
            bind_dn=info.bind_dn,
            user_base=info.user_base,
            group_base=info.group_base,
            tls="none",
        ),
        map=str(REPO / "config" / "maps" / "openldap.yaml"),
    )
    pool = ConnectionPool(settings.ldap, Secret(info.password))
    app = create_app(settings, LdapDirectory(pool), load_maps(settings.map))
    return falcon.testing.TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}), pool


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (0.5 is the median), interpolated between neighbours."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[round(fraction * 1000) - 1]
