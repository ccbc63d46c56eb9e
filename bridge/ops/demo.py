"""``scim-ldap-bridge demo``: the bridge against a throwaway directory on 127.0.0.1, for trying it out.

With ``--directory openldap`` (the default) it starts slapd (with the project's schema and a ppolicy
default policy); with ``--directory ad`` a Samba Active Directory domain controller (root only, and
ports 389 and 636 must be free). Either way it writes a config with a freshly generated token, serves
SCIM on 127.0.0.1, and prints what an admin pastes into Entra and what a script reads, one
``Name: value`` line each. Ctrl-C or SIGTERM stops both servers and removes their files.
"""

from __future__ import annotations

import argparse
import errno
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import waitress
import yaml

from bridge.app import build_app, open_directory
from bridge.config import LoggingConfig, load_settings
from bridge.hashes import new_token
from bridge.logs import setup_logging
from bridge.testing.samba import Samba, SambaError
from bridge.testing.slapd import Slapd, SlapdError, default_schema_path

REPO = Path(__file__).resolve().parents[2]
MAPS = REPO / "config" / "maps"
USER = "alice@example.org"


@dataclass
class DemoDirectory:
    """A started throwaway directory: what the config needs, what to print, and how to stop it."""

    ldap: dict[str, Any]
    map: Path
    url: str
    bind_dn: str
    password: str
    user_base: str
    group_base: str
    show: str  # the command that shows the demo user's entry
    stop: Callable[[], None]
    make_bases_under: str | None = None  # a fresh AD domain has no OUs for people and groups yet


def _openldap(workdir: Path, ldap_port: int | None) -> DemoDirectory:
    slapd = Slapd(workdir / "slapd", port=ldap_port, extra_schema=[default_schema_path()])
    info = slapd.start()
    show = (
        f"ldapsearch -x -LLL -H {info.url} -D {shlex.quote(info.bind_dn)} -w {shlex.quote(info.password)} "
        f"-b {shlex.quote(info.user_base)} {shlex.quote(f'(uid={USER})')} '*' entryUUID"
    )
    return DemoDirectory(
        ldap={"urls": [info.url], "tls": "none"},  # loopback only: the demo's slapd listens on 127.0.0.1
        map=MAPS / "openldap.yaml",
        url=info.url,
        bind_dn=info.bind_dn,
        password=info.password,
        user_base=info.user_base,
        group_base=info.group_base,
        show=show,
        stop=slapd.stop,
    )


def _active_directory(workdir: Path) -> DemoDirectory:
    samba = Samba(workdir / "samba")
    info = samba.start()
    user_base, group_base = info.base, info.base  # replaced by the OUs run_demo makes
    show = (
        f"LDAPTLS_CACERT={shlex.quote(info.ca_file)} ldapsearch -x -LLL -H {info.ldaps_url} "
        f"-D {shlex.quote(info.bind_dn)} -w {shlex.quote(info.password)} -b {shlex.quote(info.base)} "
        f"{shlex.quote(f'(userPrincipalName={USER})')} sAMAccountName userAccountControl objectGUID"
    )
    return DemoDirectory(
        ldap={
            "urls": [info.ldaps_url],
            "tls": "ldaps",
            "ca_file": info.ca_file,
            "directory": "active_directory",
        },
        map=MAPS / "active-directory.yaml",
        url=info.ldaps_url,
        bind_dn=info.bind_dn,
        password=info.password,
        user_base=user_base,
        group_base=group_base,
        show=show,
        stop=samba.stop,
        make_bases_under=info.base,
    )


def _write_config(path: Path, demo: DemoDirectory, port: int, token_hash: str) -> None:
    config = {
        "server": {"host": "127.0.0.1", "port": port, "threads": 4},
        "auth": {"token_hashes": [token_hash]},
        "ldap": {
            **demo.ldap,
            "bind_dn": demo.bind_dn,
            "bind_password_file": "bind-password",
            "user_base": demo.user_base,
            "group_base": demo.group_base,
        },
        "map": str(demo.map),
        "logging": {"level": "INFO"},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _example_user(user_name: str) -> str:
    return (
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
        f'"userName":"{user_name}","name":{{"givenName":"Alice","familyName":"Adams"}},'
        f'"displayName":"Alice Adams","emails":[{{"type":"work","value":"{user_name}","primary":true}}],'
        '"active":true}'
    )


def _os_problem(exc: OSError, port: int) -> str:
    """One line for what the machine refused the demo: its port taken, or no permission."""
    if exc.errno == errno.EADDRINUSE:
        holder = f"see which: ss -ltnp 'sport = :{port}'"
        return f"port {port} is in use by another process ({holder}): make demo PORT=<another>"
    return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"


def run_demo(
    port: int = 8080, ldap_port: int | None = None, directory: Literal["openldap", "ad"] = "openldap"
) -> int:
    """Run until interrupted; returns the exit code."""
    workdir = Path(tempfile.mkdtemp(prefix="scim-ldap-bridge-demo-"))
    demo: DemoDirectory | None = None
    close = None
    try:
        demo = _active_directory(workdir) if directory == "ad" else _openldap(workdir, ldap_port)
        token, token_hash = new_token()
        (workdir / "bind-password").write_text(demo.password + "\n", encoding="utf-8")
        config_path = workdir / "bridge.yaml"
        if demo.make_bases_under:
            _write_config(config_path, demo, port, token_hash)
            opened = open_directory(load_settings(config_path))
            try:
                ou = {"objectClass": ("organizationalUnit",)}
                demo.user_base, demo.group_base = (
                    opened.directory.add(demo.make_bases_under, ("ou", name), {**ou, "ou": (name,)}, ()).dn
                    for name in ("people", "groups")
                )
            finally:
                opened.close()
        _write_config(config_path, demo, port, token_hash)
        settings = load_settings(config_path)
        setup_logging(LoggingConfig(level="INFO"))
        app, close = build_app(settings)
        server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4, ident=None)
        tenant_url = f"http://127.0.0.1:{server.effective_port}{settings.server.base_path}"
        print(f"Tenant URL: {tenant_url}")
        print(f"Secret Token: {token}")
        print(f"LDAP URL: {demo.url}")
        print(f"LDAP bind DN: {demo.bind_dn}")
        print(f"LDAP password: {demo.password}")
        print(f"User base: {demo.user_base}")
        print(f"Group base: {demo.group_base}")
        print()
        print("Create a user:")
        print(
            f"  curl -s -X POST {tenant_url}/Users -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/scim+json' -d {shlex.quote(_example_user(USER))}"
        )
        print("See it in the directory:")
        print(f"  {demo.show}")
        print("Ctrl-C stops the bridge and the directory.", flush=True)

        def stop(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
        return 0
    except (
        SambaError,
        SlapdError,
    ) as exc:  # the throwaway directory did not start: said in full, no traceback
        print(f"scim-ldap-bridge demo: {exc}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(f"scim-ldap-bridge demo: {_os_problem(exc, port)}", file=sys.stderr, flush=True)
        return 1
    finally:
        if close is not None:
            close()
        if demo is not None:
            demo.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print("demo stopped", file=sys.stderr, flush=True)


def command(args: argparse.Namespace) -> int:
    """``scim-ldap-bridge demo``, with its ``--port``, ``--ldap-port`` and ``--directory``."""
    return run_demo(port=args.port, ldap_port=args.ldap_port, directory=args.directory)
