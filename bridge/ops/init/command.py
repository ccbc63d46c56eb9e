"""``scim-ldap-bridge init``: the order of the steps, and the choice of the bases.

1. Refuse early what cannot end well: a configuration that exists and is not the shipped example (without
   ``--force``), a folder init may not write.
2. The directory URL, bind DN, TLS mode and CA file, from flags or prompts; the bind password from
   ``--bind-password-file`` (its first line) or a prompt that does not echo (getpass), never from a flag.
   ``--non-interactive`` asks nothing and fails on what is missing.
3. Bind and learn what the directory is (:mod:`bridge.ops.init.discover`): a failure (unreachable, a refused
   bind, TLS) is one line with a hint, and nothing is written.
4. The user and group bases: the flags, else the best candidates found (asked, with them as the default).
   The bind DN must be able to write there: a probe entry is added and deleted, as by check-config.
5. The map (:mod:`bridge.ops.init.maps`), a fresh token (its SHA-256 hash in the configuration, the token
   printed once as ``Secret Token: ...``), the files (:mod:`bridge.ops.init.write`), which must then load as
   ``check-config`` loads them; and the next steps.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bridge.config import ConfigError, load_settings
from bridge.directory.dn import normalize_dn
from bridge.directory.errors import DirectoryError, NoSuchEntry
from bridge.hashes import new_token
from bridge.mapping.load import MapError, load_maps
from bridge.ops.exits import EXIT_OK
from bridge.ops.init import EXIT_USAGE, InitError, maps, write
from bridge.ops.init.configfile import config_text
from bridge.ops.init.connect import check_connection, connect, unavailable
from bridge.ops.init.discover import Base, Discovery, can_write, exists
from bridge.ops.init.prompts import Prompts, read_password
from bridge.ops.init.summary import show_directory, show_map, show_result

# What discover counts, in words (bridge.ops.init.discover.user_filter and group_filter).
ENTRIES = {
    ("openldap", "users"): "inetOrgPerson",
    ("openldap", "groups"): "groupOfNames",
    ("active_directory", "users"): "user (person)",
    ("active_directory", "groups"): "group",
}


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
    ca_file = check_connection(urls, tls, ca_file or None)
    password = read_password(args.bind_password_file, ask)

    found, pool = connect(urls, bind_dn, password, tls=tls, ca_file=ca_file, kind=args.directory)
    try:

        def run_read(work: Callable[[Any], Any]) -> Any:
            return pool.execute(work, idempotent=True)

        show_directory(found, urls[0], bind_dn)
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
        raise unavailable(urls[0], bind_dn, exc) from None
    finally:
        pool.close()
    plan = maps.plan_map(found, maps.shipped_map(found.kind))
    target = where.map_file(plan.name)
    write.check_map(target, plan.text, args.force)
    show_map(found, plan)

    token, token_hash = new_token()
    text = config_text(
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
    show_result(where, written, plan=plan, token=token, args=args, user_base=user_base)
    return EXIT_OK


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


def _verify(config: Path) -> None:
    """The files load as check-config loads them (anything else is a bug of init's)."""
    try:
        load_maps(load_settings(config).map_path)
    except (ConfigError, MapError) as exc:
        problems = "; ".join(exc.problems)
        raise InitError(f"{exc.source} does not load: {problems}", "a flag given may be wrong") from exc
