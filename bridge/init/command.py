"""``scim-ldap-bridge init``: the prompts and flags, the order of the steps, and what is printed.

1. Refuse early what cannot end well: a configuration that exists and is not the shipped example (without
   ``--force``), a folder init may not write.
2. The directory URL, bind DN, TLS mode and CA file, from flags or prompts; the bind password from
   ``--bind-password-file`` (its first line) or a prompt that does not echo (getpass), never from a flag.
   ``--non-interactive`` asks nothing and fails on what is missing.
3. Bind and learn what the directory is (:mod:`bridge.init.discover`): a failure (unreachable, a refused
   bind, TLS) is one line with a hint, and nothing is written.
4. The user and group bases: the flags, else the best candidates found (asked, with them as the default).
   The bind DN must be able to write there: a probe entry is added and deleted, as by check-config.
5. The map (:mod:`bridge.init.maps`), a fresh token (its SHA-256 hash in the configuration, the token
   printed once as ``Secret Token: ...``), the files (:mod:`bridge.init.write`), which must then load as
   ``check-config`` loads them; and the next steps.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import re
import shlex
import sys
import textwrap
import typing
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bridge.config import ConfigError, LdapConfig, Secret, load_maps, load_settings
from bridge.directory.errors import DirectoryError, NoSuchEntry
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.render import normalize_dn
from bridge.directory.ldap.survey import read_root
from bridge.hashes import new_token
from bridge.init import EXIT_USAGE, InitError, maps, write
from bridge.init.discover import (
    Base,
    Discovery,
    Kind,
    can_write,
    discover,
    exists,
)
from bridge.init.maps import MapPlan
from bridge.init.write import CREDENTIAL, PASSWORD_FILE, UNIT_CONFIG, Layout, service_gid
from bridge.mapping.load import MapError
from bridge.oauth import TOKEN_PATH

EXIT_OK = 0
# On AD, what the bridge never modifies, disables or deletes: the domain's critical system objects
# (Administrator, krbtgt, Guest, Domain Admins and the other built-in groups) and the accounts and groups
# that AD protects as administrative (adminCount).
AD_PROTECTED = "(|(isCriticalSystemObject=TRUE)(adminCount=1))"
_TLS_MARKERS = ("SSL", "TLS", "certificate")
# What discover counts, in words (bridge.init.discover.user_filter and group_filter).
ENTRIES = {
    ("openldap", "users"): "inetOrgPerson",
    ("openldap", "groups"): "groupOfNames",
    ("active_directory", "users"): "user (person)",
    ("active_directory", "groups"): "group",
}


class Prompts:
    """Asks on the terminal; with ``interactive`` False, every question is a missing flag instead."""

    def __init__(self, interactive: bool, ask: Callable[[str], str] = input) -> None:
        self.interactive = interactive
        self._ask = ask

    def value(self, question: str, flag: str, default: str | None = None, *, optional: bool = False) -> str:
        """An answer, ``default`` for an empty one; without a terminal, ``default`` or a usage error."""
        if not self.interactive:
            if default is not None or optional:
                return default or ""
            raise InitError(
                f"{flag} is needed with --non-interactive", "see scim-ldap-bridge init --help", EXIT_USAGE
            )
        shown = f"{question} [{default}]: " if default else f"{question}: "
        while True:
            answer = self._ask(shown).strip()
            if answer or default is not None or optional:
                return answer or default or ""

    def secret(self, question: str) -> str:
        """A secret typed without echo."""
        if not self.interactive:
            raise InitError(
                "--bind-password-file is needed with --non-interactive",
                "a file holding the password (its first line); never a flag value",
                EXIT_USAGE,
            )
        return getpass.getpass(f"{question}: ")


def run(args: argparse.Namespace) -> int:
    """The command; every failure an admin can cause is one line on stderr and exit code 1 or 2."""
    logging.getLogger().addHandler(logging.NullHandler())  # the pool's warnings: said here as one line
    try:
        return _init(args, Prompts(not args.non_interactive))
    except InitError as exc:
        print(exc.line(), file=sys.stderr)
        return exc.code
    except (KeyboardInterrupt, EOFError):
        print("\nscim-ldap-bridge init: stopped", file=sys.stderr)
        return 1


def _init(args: argparse.Namespace, ask: Prompts) -> int:
    where = write.layout(Path(args.config), args.password_store)
    write.check_may_write(where, args.force)
    if not 0 < args.port < 65536:
        raise InitError(f"--port {args.port} is not a TCP port", "between 1 and 65535", EXIT_USAGE)
    if ask.interactive and not sys.stdin.isatty():
        raise InitError(
            "no terminal to ask on",
            "pass --non-interactive with --url, --bind-dn and --bind-password-file",
            EXIT_USAGE,
        )
    urls = list(args.url or [ask.value("Directory URL (ldap://host or ldaps://host)", "--url")])
    bind_dn = args.bind_dn or ask.value("Bind DN (the account the bridge binds as)", "--bind-dn")
    tls = args.tls or ask.value(
        "TLS: starttls, ldaps or none",
        "--tls",
        "ldaps" if urls[0].lower().startswith("ldaps://") else "starttls",
    )
    ca_file = args.ca_file
    if ca_file is None and tls != "none":
        ca_file = ask.value(
            "CA file that signed the directory's certificate (empty: the system's CAs)",
            "--ca-file",
            optional=True,
        )
    ca_file = _check_connection(urls, tls, ca_file or None)
    password = _password(args.bind_password_file, ask)

    found, pool = _connect(urls, bind_dn, password, tls=tls, ca_file=ca_file, kind=args.directory)
    try:

        def run_read(work: Callable[[Any], Any]) -> Any:
            return pool.execute(work, idempotent=True)

        _show(found, urls[0], bind_dn)
        if found.kind == "active_directory" and tls == "none":
            raise InitError(
                "Active Directory refuses password changes without TLS",
                "use ldaps:// or --tls starttls",
                EXIT_USAGE,
            )
        user_base = _base(
            "users", args.user_base, candidates=found.user_bases, found=found, ask=ask, run=run_read
        )
        assert user_base is not None  # _base raises when users have no base
        group_base = None
        if not args.no_groups:
            group_base = _base(
                "groups", args.group_base, candidates=found.group_bases, found=found, ask=ask, run=run_read
            )
        for base in dict.fromkeys(b for b in (user_base, group_base) if b):
            refused = can_write(pool.execute, base, found.kind)
            if refused is not None:
                raise InitError(
                    refused, "grant the bind DN the right to add, modify and delete entries there"
                )
            print(f"Write rights: the bind DN may add and delete entries under {base}")
    except DirectoryError as exc:  # the directory went away, or refused a read
        raise _unavailable(urls[0], bind_dn, exc) from None
    finally:
        pool.close()
    plan = maps.plan_map(found, maps.shipped_map(found.kind))
    target = where.map_file(plan.name)
    write.check_map(target, plan.text, args.force)
    _notes(found, plan)

    token, token_hash = new_token()
    text = _config_text(
        where,
        kind=found.kind,
        urls=urls,
        tls=tls,
        ca_file=ca_file,
        bind_dn=bind_dn,
        user_base=user_base,
        group_base=group_base,
        map_name=plan.name,
        token_hash=token_hash,
        port=args.port,
        public_url=args.public_url,
        found=found,
    )
    # A map that is there already as it would be written (the Debian package's conffile) stays untouched.
    there = target.is_file() and target.read_bytes() == plan.text.encode("utf-8")
    written = write.write_all(where, plan.name, None if there else plan.text, password, text)
    _verify(where.config)
    _report(where, written, plan=plan, token=token, args=args, user_base=user_base)
    return EXIT_OK


def _check_connection(urls: Sequence[str], tls: str, ca_file: str | None) -> str | None:
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


def _password(path: str | None, ask: Prompts) -> str:
    """The bind password: the first line of ``path``, or typed without echo."""
    if path is None:
        password = ask.secret("Bind password")
    else:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise InitError(f"cannot read --bind-password-file {path}: {reason}", "", EXIT_USAGE) from exc
        password = text.splitlines()[0] if text else ""
    if not password:
        raise InitError(
            "the bind password is empty", "an empty password is an anonymous bind in LDAP", EXIT_USAGE
        )
    return password


def _connect(
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
                raise _unavailable(url, bind_dn, exc) from None
        first = pools[0]
        try:
            chosen = typing.cast(Kind, kind) if kind in ("openldap", "active_directory") else None
            found = discover(lambda work: first.execute(work, idempotent=True), chosen)
        except ValueError as exc:
            raise InitError(f"{urls[0]}: {exc}", "the bridge serves OpenLDAP and Active Directory") from None
        except DirectoryError as exc:
            raise _unavailable(urls[0], bind_dn, exc) from None
    except BaseException:
        for pool in pools:
            pool.close()
        raise
    for pool in pools[1:]:
        pool.close()
    return found, pools[0]


def _unavailable(url: str, bind_dn: str, exc: DirectoryError) -> InitError:
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


def _show(found: Discovery, url: str, bind_dn: str) -> None:
    print(f"Directory: {found.vendor} at {url}, bound as {bind_dn}")
    print(f"Naming contexts: {', '.join(found.naming_contexts) or '(none shown)'}")
    if found.kind == "openldap":
        shown = []
        for name in ("ppolicy", "memberof", "refint", "sssvlv", "dynlist", "unique", "assertion"):
            state = found.feature(name)
            shown.append(f"{name} {'yes' if state else 'no' if state is False else 'unknown'}")
        print(f"Overlays and controls: {', '.join(shown)}")
        if found.overlays is None:
            print(
                "  (the bind DN may not read cn=config: memberof, refint, dynlist and unique cannot be seen)"
            )
        schema = "loaded" if found.bridge_schema else "not loaded"
        print(f"Bridge schema (scim-bridge.schema: scimBridgeObject, scimExternalId, ...): {schema}")
    else:
        sorting = "yes" if found.feature("sssvlv") else "no"
        print(f"Controls: server-side sorting and virtual list view {sorting}; AD keeps memberOf itself")


def _base(
    what: str,
    flag: str | None,
    *,
    candidates: Sequence[Base],
    found: Discovery,
    ask: Prompts,
    run: Callable[[Any], Any],
) -> str | None:
    """The base for ``what`` (users or groups): the flag, else a candidate (asked when interactive). For
    users one is needed; groups may have none (then they are not served)."""
    kind = ENTRIES[found.kind, what]
    if flag is None and candidates:
        counted = "" if found.counted_all else ", of the first counted"
        print(f"Where {what} are ({kind} entries held directly{counted}):")
        for number, base in enumerate(candidates[:8], 1):
            print(f"  {number}. {base.dn} ({base.count})")
    default = candidates[0].dn if candidates else None
    question = "User base" if what == "users" else "Group base (empty: groups are not served)"
    if flag is not None:
        chosen: str | None = flag
    elif ask.interactive:
        answer = ask.value(question, f"--{what[:-1]}-base", default, optional=what == "groups")
        chosen = (
            candidates[int(answer) - 1].dn
            if answer.isdigit() and 0 < int(answer) <= len(candidates[:8])
            else answer
        )
    else:
        chosen = default
    if not chosen:
        if what == "users":
            raise InitError(
                f"found no place for users: no {kind} entries, and no OU named people, users, ...",
                "create one (e.g. ou=people under the naming context), or pass --user-base",
            )
        print("Groups: not served (no group base found; --group-base sets one)")
        return None
    try:
        normalize_dn(chosen)
    except NoSuchEntry:
        raise InitError(f"{chosen!r} is not a DN", "e.g. ou=people,dc=example,dc=org", EXIT_USAGE) from None
    if not exists(run, chosen):
        raise InitError(
            f"the {what[:-1]} base {chosen} does not exist, or the bind DN cannot see it",
            f"create it, or pass another --{what[:-1]}-base",
        )
    print(f"{'User' if what == 'users' else 'Group'} base: {chosen}")
    return chosen


def _notes(found: Discovery, plan: MapPlan) -> None:
    if found.kind == "openldap" and found.feature("ppolicy") and found.lockout_policy is not True:
        print(
            "warning: no password policy with pwdLockout: TRUE is visible to the bind DN: a disabled "
            "account's lock (pwdAccountLockedTime) refuses binds only where such a policy applies "
            "(docs/deprovisioning.md: Disable methods)"
        )
    if plan.changes:
        print(f"Map: maps/{plan.name}, derived from the shipped {plan.source.name}:")
        for change in plan.changes:
            print(f"  - {change}")
    else:
        print(f"Map: maps/{plan.name}, the shipped map")


def _config_text(
    where: Layout,
    *,
    kind: Kind,
    urls: Sequence[str],
    tls: str,
    ca_file: str | None,
    bind_dn: str,
    user_base: str,
    group_base: str | None,
    map_name: str,
    token_hash: str,
    port: int,
    public_url: str | None,
    found: Discovery,
) -> str:
    server: dict[str, Any] = {"host": "127.0.0.1", "port": port}
    if public_url:
        server["public_url"] = public_url
    ldap: dict[str, Any] = {"directory": kind, "urls": list(urls), "tls": tls}
    if ca_file:
        ldap["ca_file"] = ca_file
    ldap["bind_dn"] = bind_dn
    if where.store == "credential":
        ldap["bind_password_credential"] = CREDENTIAL
    else:
        ldap["bind_password_file"] = PASSWORD_FILE
    ldap["user_base"] = user_base
    if group_base:
        ldap["group_base"] = group_base
    config: dict[str, Any] = {
        "server": server,
        "auth": {"token_hashes": [token_hash]},
        "ldap": ldap,
        "map": f"maps/{map_name}",
        "deprovisioning": {"on_deactivate": "disable", "on_delete": "delete"},
    }
    if kind == "active_directory":
        config["safety"] = {"protected_filter": AD_PROTECTED}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if where.store == "credential":
        secret = (
            f"the bind password is in {where.password}, loaded as the systemd credential {CREDENTIAL} "
            "(LoadCredential=)"
        )
    else:
        secret = f"the bind password is in {where.password} (first line)"
    lines = [
        f"scim-ldap-bridge configuration, written by `scim-ldap-bridge init` on {when}",
        f"for {found.vendor} at {urls[0]}; {secret}.",
        "The token's SHA-256 hash is under auth.token_hashes (`token new` makes more, for rotation).",
    ]
    if kind == "active_directory":
        lines.append("safety.protected_filter keeps the bridge off AD's critical and administrative objects.")
    lines.append("Every key is described in the configuration reference, docs/configuration.md.")
    wrapped = [part for line in lines for part in textwrap.wrap(line, 100, break_on_hyphens=False)]
    header = "".join(f"# {line}\n" for line in wrapped) + "\n"
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110)


def _verify(config: Path) -> None:
    """The files load as check-config loads them (anything else is a bug of init's)."""
    try:
        load_maps(load_settings(config).map_path)
    except (ConfigError, MapError) as exc:
        problems = "; ".join(exc.problems)
        raise InitError(f"{exc.source} does not load: {problems}", "a flag given may be wrong") from exc


def token_endpoint(tenant_url: str, base_path: str = "/scim/v2") -> str:
    """The token endpoint beside the Tenant URL: its path in place of the SCIM base path (a proxy that
    forwards paths unchanged serves both), else at the root of the Tenant URL's origin."""
    trimmed = tenant_url.rstrip("/")
    if trimmed.endswith(base_path):
        return trimmed.removesuffix(base_path) + TOKEN_PATH
    parts = urlsplit(trimmed)
    return f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"


def _report(
    where: Layout,
    written: Sequence[Path],
    *,
    plan: MapPlan,
    token: str,
    args: argparse.Namespace,
    user_base: str,
) -> None:
    config = shlex.quote(str(where.config))
    unit = where.config == UNIT_CONFIG
    print()
    for path in written:
        print(f"Wrote {path}")
    if not any(path.name == plan.name for path in written):
        print(f"Kept {where.map_file(plan.name)}, which is already the map init would write")
    local = f"http://127.0.0.1:{args.port}/scim/v2"
    print()
    print(f"Tenant URL: {args.public_url or local}")
    print(f"Secret Token: {token}")
    print("The token is shown only this once; the configuration keeps only its SHA-256 hash.")
    if not args.public_url:
        print(
            f"(The bridge listens on {local}; Entra and Okta need the public HTTPS URL of your reverse "
            "proxy in front of it: docs/reverse-proxy.md.)"
        )
    if unit and service_gid() is None:
        print(
            "warning: there is no group scim-ldap-bridge (the Debian package creates it with the "
            "service's user): the unit, which runs as that user, could not read the configuration"
        )
    print()
    print("Next steps:")
    print(f"  1. Check it against the directory:  scim-ldap-bridge check-config --config {config} --probe")
    if unit:
        print("  2. Start the bridge:  systemctl enable --now scim-ldap-bridge")
    else:
        print(
            f"  2. Start the bridge:  scim-ldap-bridge serve --config {config}   "
            f"(the systemd unit reads {UNIT_CONFIG})"
        )
    print(
        f"  3. Replay Entra's flows in a sandbox OU that it removes again:  scim-ldap-bridge selftest "
        f"--config {config} --base {shlex.quote(user_base)}"
    )
    print(
        "  4. Entra: Enterprise application > Provisioning > Automatic: Tenant URL and Secret Token as "
        "above, then Test Connection (docs/entra.md)."
    )
    print(
        "     Okta: SCIM connector base URL = the Tenant URL, unique identifier field userName, "
        "Authentication Mode HTTP Header with the Secret Token, then Test Connector Configuration "
        "(docs/okta.md)."
    )
    print(
        f"     No long-lived secret instead: OAuth client credentials or federation, Token endpoint "
        f"{token_endpoint(args.public_url or local)} (`scim-ldap-bridge token client new`; docs/entra.md)."
    )
