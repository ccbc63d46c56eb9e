"""scim-ldap-bridge: provision users and groups from Entra ID, Okta or any SCIM 2.0 client into LDAP.

Exit codes: 0 success; 1 an operational error (printed as one line), a failed selftest flow, a
previewed request the bridge would refuse, a sweep stopped by the circuit breaker, or ``breaker status``
finding the breaker tripped; 2 bad usage or a configuration with problems (each printed on its own line
with its YAML path).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bridge import __version__
from bridge.ops.exits import EXIT_CONFIG, EXIT_OK, Stop

DEFAULT_CONFIG = "/etc/scim-ldap-bridge/bridge.yaml"

# Each command's implementation lives in bridge/ops/, beside the tool it runs, and is imported only when
# that command runs: `token new` loads neither ldap3 nor falcon, and `serve` not the demo's launchers.


def _serve(args: argparse.Namespace) -> int:
    from bridge.ops.serve import command  # noqa: PLC0415

    return command(args)


def _check_config(args: argparse.Namespace) -> int:
    from bridge.ops.check import check_config  # noqa: PLC0415

    return check_config(args)


def _dump_config(args: argparse.Namespace) -> int:
    from bridge.ops.check import dump_config  # noqa: PLC0415

    return dump_config(args)


def _token(args: argparse.Namespace) -> int:
    from bridge.ops.tokens import token_new  # noqa: PLC0415

    return token_new(args)


def _client_new(args: argparse.Namespace) -> int:
    from bridge.ops.tokens import client_new  # noqa: PLC0415

    return client_new(args)


def _secret_new(args: argparse.Namespace) -> int:
    from bridge.ops.tokens import secret_new  # noqa: PLC0415

    return secret_new(args)


def _key_new(args: argparse.Namespace) -> int:
    from bridge.ops.tokens import key_new  # noqa: PLC0415

    return key_new(args)


def _init(args: argparse.Namespace) -> int:
    from bridge.ops.init.command import run  # noqa: PLC0415

    return run(args)


def _demo(args: argparse.Namespace) -> int:
    try:
        from bridge.ops.demo import command  # noqa: PLC0415
    except ModuleNotFoundError as missing:
        if not (missing.name or "").startswith("bridge.testing"):
            raise
        # The Debian package leaves out bridge.testing, the throwaway slapd and Samba the demo runs on.
        print("demo is a development command: run `make demo` from a source checkout", file=sys.stderr)
        return EXIT_CONFIG
    return command(args)


def _selftest(args: argparse.Namespace) -> int:
    from bridge.ops.selftest.sandbox import command  # noqa: PLC0415

    return command(args)


def _preview(args: argparse.Namespace) -> int:
    from bridge.ops.preview import command  # noqa: PLC0415

    return command(args)


def _sweep(args: argparse.Namespace) -> int:
    from bridge.ops.sweep import command  # noqa: PLC0415

    return command(args)


def _report(args: argparse.Namespace) -> int:
    from bridge.ops.report import command  # noqa: PLC0415

    return command(args)


def _breaker(args: argparse.Namespace) -> int:
    from bridge.ops.breaker import command  # noqa: PLC0415

    return command(args)


def _version(args: argparse.Namespace) -> int:
    print(f"scim-ldap-bridge {__version__}")
    return EXIT_OK


def _config_argument(command: argparse.ArgumentParser, what: str = "the configuration file") -> None:
    command.add_argument("--config", default=DEFAULT_CONFIG, help=f"{what} (default {DEFAULT_CONFIG})")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(
        prog="scim-ldap-bridge", description=__doc__.split("\n")[0] if __doc__ else None
    )
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the SCIM server")
    _config_argument(serve)
    serve.set_defaults(run=_serve)
    check = commands.add_parser("check-config", help="validate the config and its attribute map")
    _config_argument(check)
    check.add_argument(
        "--probe",
        action="store_true",
        help="also check the live directory: bind, bases, write rights, overlays, schema and indexes",
    )
    check.set_defaults(run=_check_config)
    dump = commands.add_parser("dump-config", help="print the effective configuration, defaults included")
    _config_argument(dump)
    dump.set_defaults(run=_dump_config)
    token = commands.add_parser(
        "token", help="make bearer tokens, OAuth clients, client secrets and signing keys"
    )
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_commands.add_parser("new", help="print a fresh token and its config line").set_defaults(run=_token)
    client = token_commands.add_parser("client", help="OAuth clients of the token endpoint")
    client_new = client.add_subparsers(dest="client_command", required=True).add_parser(
        "new", help="print a fresh client identifier and secret (once) and the client's config lines"
    )
    client_new.add_argument("--id", help="the client identifier (default: entra- and 8 random hex digits)")
    client_new.set_defaults(run=_client_new)
    secret = token_commands.add_parser("secret", help="OAuth client secrets")
    secret.add_subparsers(dest="secret_command", required=True).add_parser(
        "new", help="print a fresh client secret (once) and its hash, to rotate a client's secret"
    ).set_defaults(run=_secret_new)
    key = token_commands.add_parser("key", help="keys that sign OAuth access tokens")
    key_new = key.add_subparsers(dest="key_command", required=True).add_parser(
        "new", help="write a fresh signing key to a new file and print its config line"
    )
    key_new.add_argument("path", help="the PEM file to write; it must not exist")
    key_new.add_argument(
        "--type",
        choices=("ed25519", "rsa"),
        default="ed25519",
        help="ed25519 (signs with EdDSA) or rsa (3072 bits, RS256) (default ed25519)",
    )
    key_new.set_defaults(run=_key_new)
    init = commands.add_parser(
        "init",
        help="write a working config from the directory itself: map, bind password, token",
        description="Ask for (or take as flags) the directory URL, bind DN, password and TLS settings, "
        "probe the directory, and write the config, its attribute map and the bind password; print a "
        "fresh token once and the next steps.",
    )
    init.add_argument(
        "--config", default=DEFAULT_CONFIG, help=f"config file to write (default {DEFAULT_CONFIG})"
    )
    init.add_argument(
        "--force", action="store_true", help="replace a config (and map) that exists and is not the example"
    )
    init.add_argument(
        "--non-interactive", action="store_true", help="ask nothing: fail on what the flags do not give"
    )
    init.add_argument(
        "--url", action="append", help="directory URL, ldap:// or ldaps:// (repeat for failover)"
    )
    init.add_argument("--bind-dn", help="DN (or AD user principal name) the bridge binds as")
    init.add_argument(
        "--bind-password-file",
        help="file whose first line is the bind password (- for standard input); else it is asked",
    )
    init.add_argument(
        "--tls", choices=("starttls", "ldaps", "none"), help="default: ldaps for ldaps:// URLs, else starttls"
    )
    init.add_argument("--ca-file", help="PEM file of the CA that signed the directory's certificate")
    init.add_argument(
        "--directory",
        choices=("auto", "openldap", "active_directory"),
        default="auto",
        help="the kind of directory (default auto: from its root DSE)",
    )
    init.add_argument("--user-base", help="DN of the users' base (default: the best one found)")
    init.add_argument("--group-base", help="DN of the groups' base (default: the best one found)")
    init.add_argument("--no-groups", action="store_true", help="serve no groups")
    init.add_argument("--port", type=int, default=8080, help="server.port, on 127.0.0.1 (default 8080)")
    init.add_argument("--public-url", help="server.public_url, the Tenant URL behind the reverse proxy")
    init.add_argument(
        "--password-store",
        choices=("credential", "file"),
        help=f"bind_password_credential (default for {DEFAULT_CONFIG}, which the unit reads) or "
        "bind_password_file (default elsewhere)",
    )
    init.set_defaults(run=_init)
    demo = commands.add_parser("demo", help="run the bridge against a throwaway local OpenLDAP")
    demo.add_argument("--port", type=int, default=8080, help="bridge port on 127.0.0.1 (default 8080)")
    demo.add_argument("--ldap-port", type=int, default=None, help="slapd port (default: a free one)")
    demo.add_argument(
        "--directory",
        choices=("openldap", "ad"),
        default="openldap",
        help="a throwaway OpenLDAP (default) or Samba Active Directory DC (root; ports 389 and 636 free)",
    )
    demo.set_defaults(run=_demo)
    selftest = commands.add_parser(
        "selftest", help="replay Entra's flows against this configuration in a sandbox OU, then remove it"
    )
    _config_argument(selftest)
    selftest.add_argument(
        "--base", required=True, help="DN under which the sandbox OU is created and removed"
    )
    selftest.set_defaults(run=_selftest)
    preview = commands.add_parser(
        "preview", help="show the directory operations a SCIM request would perform, without writing"
    )
    _config_argument(preview)
    preview.add_argument("method", help="GET, POST, PUT, PATCH or DELETE")
    preview.add_argument("path", help="e.g. /Users/<id> or 'Users?filter=userName eq \"x\"'")
    preview.add_argument("--body", help="a file holding the JSON body, or - for standard input")
    preview.set_defaults(run=_preview)
    sweep = commands.add_parser(
        "sweep", help="delete users disabled longer ago than deprovisioning.delete_after_days"
    )
    _config_argument(sweep)
    sweep.add_argument("--dry-run", action="store_true", help="list them, delete nothing")
    sweep.set_defaults(run=_sweep)
    report = commands.add_parser("report", help="summarise provisioning activity from the audit log")
    _config_argument(report, "the configuration file, for logging.audit_file")
    report.add_argument(
        "--file",
        help="an audit log file, or - for standard input (default: logging.audit_file, else the journal)",
    )
    report.add_argument("--since", default="1d", help="30m, 12h, 1d, 2w or a date (default 1d)")
    report.add_argument("--user", help="only this user's (or group's) events: userName, displayName or id")
    report.add_argument(
        "--op", help="only events of this kind: create, update, rename, disable, enable, delete, members"
    )
    report.add_argument("--details", action="store_true", help="list every event, not only the counts")
    report.add_argument(
        "--unit",
        default="scim-ldap-bridge",
        help="the systemd unit whose journal is read (default scim-ldap-bridge)",
    )
    report.set_defaults(run=_report)
    breaker = commands.add_parser("breaker", help="show or release the deprovisioning circuit breaker")
    breaker_commands = breaker.add_subparsers(dest="breaker_command", required=True)
    for name, text in (("status", "say whether it is tripped (exit 1 if so)"), ("release", "release it")):
        command = breaker_commands.add_parser(name, help=text)
        _config_argument(command)
        command.set_defaults(run=_breaker)
    commands.add_parser("version", help="print the version").set_defaults(run=_version)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m bridge``."""
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Stop as stop:
        return stop.code
    except KeyboardInterrupt:
        return EXIT_OK
