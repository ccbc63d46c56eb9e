"""``scim-ldap-bridge demo``: the bridge against a throwaway OpenLDAP on 127.0.0.1, for trying it out.

It starts slapd (with the project's schema and a ppolicy default policy) in a temporary folder,
writes a config with a freshly generated token, serves SCIM on 127.0.0.1, and prints what an admin
pastes into Entra and what a script reads, one ``Name: value`` line each. Ctrl-C or SIGTERM stops
both servers and removes the folder.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

import waitress
import yaml

from bridge.app import build_app
from bridge.cli import new_token
from bridge.config import LoggingConfig, load_settings
from bridge.logs import setup_logging
from bridge.testing.slapd import Slapd, default_schema_path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MAP = REPO / "config" / "maps" / "openldap.yaml"


def _example_user(userName: str) -> str:
    return (
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
        f'"userName":"{userName}","name":{{"givenName":"Alice","familyName":"Adams"}},'
        f'"emails":[{{"type":"work","value":"{userName}","primary":true}}],"active":true}}'
    )


def run_demo(port: int = 8080, ldap_port: int | None = None) -> int:
    """Run until interrupted; returns the exit code."""
    workdir = Path(tempfile.mkdtemp(prefix="scim-ldap-bridge-demo-"))
    slapd = Slapd(workdir / "slapd", port=ldap_port, extra_schema=[default_schema_path()])
    close = None
    try:
        info = slapd.start()
        token, token_hash = new_token()
        (workdir / "bind-password").write_text(info.password + "\n", encoding="utf-8")
        config = {
            "server": {"host": "127.0.0.1", "port": port, "threads": 4},
            "auth": {"token_hashes": [token_hash]},
            "ldap": {
                "urls": [info.url],
                "tls": "none",  # loopback only: the demo's slapd listens on 127.0.0.1
                "bind_dn": info.bind_dn,
                "bind_password_file": "bind-password",
                "user_base": info.user_base,
                "group_base": info.group_base,
            },
            "map": str(DEFAULT_MAP),
            "logging": {"level": "INFO"},
        }
        config_path = workdir / "bridge.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        settings = load_settings(config_path)
        setup_logging(LoggingConfig(level="INFO"))
        app, close = build_app(settings)
        server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4, ident=None)
        tenant_url = f"http://127.0.0.1:{server.effective_port}{settings.server.base_path}"
        user = "alice@example.org"
        print(f"Tenant URL: {tenant_url}")
        print(f"Secret Token: {token}")
        print(f"LDAP URL: {info.url}")
        print(f"LDAP bind DN: {info.bind_dn}")
        print(f"LDAP password: {info.password}")
        print(f"User base: {info.user_base}")
        print(f"Group base: {info.group_base}")
        print()
        print("Create a user:")
        print(
            f"  curl -s -X POST {tenant_url}/Users -H 'Authorization: Bearer {token}' "
            f"-H 'Content-Type: application/scim+json' -d {shlex.quote(_example_user(user))}"
        )
        print("See it in the directory:")
        print(
            f"  ldapsearch -x -LLL -H {info.url} -D {shlex.quote(info.bind_dn)} "
            f"-w {shlex.quote(info.password)} -b {shlex.quote(info.user_base)} "
            f"{shlex.quote(f'(uid={user})')} '*' entryUUID"
        )
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
    finally:
        if close is not None:
            close()
        slapd.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print("demo stopped", file=sys.stderr, flush=True)
