"""How ``init`` reaches the directory: the connection flags checked as check-config would check them, a
bind to every URL, the directory learnt through the first, and every failure (unreachable, a refused
bind, TLS, a timeout) said as one line with what to check. No line holds the password.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Sequence
from pathlib import Path

from bridge.config import LdapConfig, Secret
from bridge.directory.errors import DirectoryError
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.survey import read_root
from bridge.ops.init import EXIT_USAGE, InitError
from bridge.ops.init.discover import Discovery, Kind, discover

_TLS_MARKERS = ("SSL", "TLS", "certificate")


def check_connection(urls: Sequence[str], tls: str, ca_file: str | None) -> str | None:
    """Usage errors in the connection settings, as check-config would report them; the CA file's absolute
    path."""
    if tls not in ("starttls", "ldaps", "none"):
        raise InitError(f"--tls must be starttls, ldaps or none, not {tls!r}", "", EXIT_USAGE)
    for url in urls:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("ldap", "ldaps"):
            raise InitError(
                f"{url!r} is not an ldap:// or ldaps:// URL", "e.g. ldaps://dc1.example.com", EXIT_USAGE
            )
        if (scheme == "ldaps") != (tls == "ldaps"):
            raise InitError(
                f"--tls {tls} does not go with {url}",
                "ldaps:// URLs take --tls ldaps, ldap:// ones starttls",
                EXIT_USAGE,
            )
    if ca_file is None:
        return None
    path = Path(ca_file).expanduser()
    if not path.is_file():
        raise InitError(
            f"no such CA file: {path}",
            "the PEM file of the CA that signed the directory's certificate",
            EXIT_USAGE,
        )
    return str(path.resolve())


def connect(
    urls: Sequence[str], bind_dn: str, password: str, *, tls: str, ca_file: str | None, kind: str
) -> tuple[Discovery, ConnectionPool]:
    """Bind to each URL (each failure named), then learn the directory through the first; the pool is
    the caller's to close."""
    pools: list[ConnectionPool] = []
    try:
        for url in urls:
            config = LdapConfig(
                urls=(url,),
                bind_dn=bind_dn,
                user_base="",
                tls=tls,  # type: ignore[arg-type]
                ca_file=ca_file,
                pool_size=1,
                operation_timeout=60.0,
            )
            pool = ConnectionPool(config, Secret(password))
            pools.append(pool)
            try:
                pool.execute(read_root, idempotent=True)
            except DirectoryError as exc:
                raise unavailable(url, bind_dn, exc) from None
        first = pools[0]
        try:
            chosen = typing.cast(Kind, kind) if kind in ("openldap", "active_directory") else None
            found = discover(lambda work: first.execute(work, idempotent=True), chosen)
        except ValueError as exc:
            raise InitError(f"{urls[0]}: {exc}", "the bridge serves OpenLDAP and Active Directory") from None
        except DirectoryError as exc:
            raise unavailable(urls[0], bind_dn, exc) from None
    except BaseException:
        for pool in pools:
            pool.close()
        raise
    for pool in pools[1:]:
        pool.close()
    return found, pools[0]


def unavailable(url: str, bind_dn: str, exc: DirectoryError) -> InitError:
    """One line for a directory that cannot be used, with what to check. The reason holds no password."""
    reason = str(exc.reason)
    refused = re.search(r"refused the bind as .* \((\w+), code (\d+)\)", reason)
    if refused:
        if refused.group(1) == "strongerAuthRequired":
            return InitError(
                f"{url} refuses a simple bind without TLS",
                "use --tls starttls (ldap://) or ldaps:// with --tls ldaps",
            )
        return InitError(
            f"{url} refused the bind as {bind_dn} ({refused.group(1)})",
            "check the bind DN and its password (Active Directory takes a UPN such as svc@example.com too)",
        )
    detail = _plain(reason)
    if any(marker in reason for marker in _TLS_MARKERS):
        return InitError(
            f"TLS with {url} failed ({detail})",
            "check --tls and --ca-file (the CA that signed the directory's certificate, which must name the "
            "URL's host)",
        )
    if getattr(exc, "why", "") == "timeout":
        return InitError(
            f"{url} did not answer in time ({detail})", "check the host, the port and the firewall"
        )
    return InitError(
        f"cannot reach {url} ({detail})", "check the URL and its port, and that the directory runs"
    )


def _plain(reason: str) -> str:
    """ldap3's error without its wrapping: the class name, nested tuples and quotes."""
    text = re.sub(r"^cannot reach \S+: ", "", reason)
    text = re.sub(r"^LDAP\w+Error: ", "", text)
    named = re.search(r"\[(?:SSL: \w+|Errno \d+)\][^'\"()]*", text)  # the OpenSSL or OS error itself
    if named:
        return named.group(0).strip()
    return re.sub(r"[()'\",]+(?=\s|$)|^[(\"']+", "", text).strip()
