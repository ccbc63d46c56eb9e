"""scim-ldap-bridge: provision users and groups from Entra ID, Okta or any SCIM 2.0 client into LDAP.

Exit codes: 0 success; 1 an operational error (printed as one line), a failed selftest flow, a
previewed request the bridge would refuse, a sweep stopped by the circuit breaker, or ``breaker status``
finding the breaker tripped; 2 bad usage or a configuration with problems (each printed on its own line
with its YAML path).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge import __version__, yamlfile
from bridge.config import ConfigError, Settings, load_maps, load_settings
from bridge.hashes import hash_secret, new_secret, new_token
from bridge.mapping.load import MapError
from bridge.mapping.model import MapSet

if TYPE_CHECKING:
    from bridge.recent import SharedEntries

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
DEFAULT_CONFIG = "/etc/scim-ldap-bridge/bridge.yaml"
logger = logging.getLogger(__name__)


def _token(args: argparse.Namespace) -> int:
    token, token_hash = new_token()
    print(f"Secret Token: {token}")
    print("Paste the token into Entra's 'Secret Token' field; it is shown only this once.")
    print("Add this line under auth.token_hashes in the bridge's config:")
    print(f'  - "{token_hash}"')
    return EXIT_OK


def _token_client(args: argparse.Namespace) -> int:
    """A fresh OAuth client: an identifier, a secret (printed once) and the config lines with its hash."""
    from bridge.oauth.clients import CLIENT_ID, new_client_id  # noqa: PLC0415

    client_id = args.id or new_client_id()
    if not CLIENT_ID.match(client_id):
        print(
            f"scim-ldap-bridge: --id {client_id!r}: use up to 64 letters, digits and . _ ~ -", file=sys.stderr
        )
        return EXIT_CONFIG
    secret = new_secret()
    print(f"Client identifier: {client_id}")
    print(f"Client secret: {secret}")
    print(
        "Paste both into Entra (Authentication Method 'OAuth2 client credentials grant'); the secret is "
        "shown only this once."
    )
    print("Add this client under auth.oauth.clients in the bridge's config:")
    print(f"  - id: {client_id}")
    print("    secret_hashes:")
    print(f'      - "{hash_secret(secret)}"')
    print(
        "The token endpoint also needs a key under auth.oauth.signing_keys: `scim-ldap-bridge token key new`."
    )
    return EXIT_OK


def _token_secret(args: argparse.Namespace) -> int:
    """A fresh secret for an OAuth client (rotation), printed once, and its hash."""

    secret = new_secret()
    print(f"Client secret: {secret}")
    print("It is shown only this once. Add this line under the client's secret_hashes, beside the old one")
    print("until Entra has the new secret:")
    print(f'  - "{hash_secret(secret)}"')
    return EXIT_OK


def _token_key(args: argparse.Namespace) -> int:
    """Write a fresh key that signs access tokens, readable by the service, and print its config line."""
    from bridge.init.write import service_gid  # noqa: PLC0415
    from bridge.oauth.keys import load_signing_key, new_key_pem  # noqa: PLC0415

    path = Path(args.path)
    gid = service_gid()
    mode = 0o600 if gid is None else 0o640
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        print(f"scim-ldap-bridge: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    with os.fdopen(descriptor, "wb") as out:
        if gid is not None:
            os.fchown(out.fileno(), -1, gid)
        os.fchmod(out.fileno(), mode)  # whatever the umask
        out.write(new_key_pem(args.type))
    key = load_signing_key(path)
    kind = "an Ed25519" if args.type == "ed25519" else "a 3072-bit RSA"
    owner = "group scim-ldap-bridge, mode 0640" if gid is not None else "mode 0600"
    print(f"Wrote {path}: {kind} key ({owner}); it signs with {key.algorithm}, key id {key.kid}")
    print(
        "List it under auth.oauth.signing_keys in the bridge's config (the first signs, every one verifies);"
    )
    print("every instance of the bridge needs the same file:")
    print(f'  - "{path.resolve()}"')
    return EXIT_OK


class _Stop(Exception):
    """Ends a command with an exit code; what went wrong has been printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _settings(path: str) -> Settings:
    """The settings at ``path``; their problems are printed, and end the command with exit code 2."""
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise _Stop(EXIT_CONFIG) from exc


def _configuration(path: str) -> tuple[Settings, MapSet]:
    """The settings at ``path`` and their attribute map, or their problems printed and exit code 2: the
    map's too when the settings have some, so that one run names everything to fix."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        _print_map_problems(_named_map(path))
        raise _Stop(EXIT_CONFIG) from exc
    if _print_map_problems(settings.map_path):
        raise _Stop(EXIT_CONFIG)
    return settings, load_maps(settings.map_path)


def _named_map(path: str) -> Path | None:
    """The map file a configuration names, found without the rest of it being valid."""
    try:
        data = yamlfile.read(path).data
    except yamlfile.YamlError:
        return None
    name = data.get("map") if isinstance(data, dict) else None
    return (Path(path).resolve().parent / name) if isinstance(name, str) else None


def _print_map_problems(map_path: Path | None) -> bool:
    """Print the problems of the map at ``map_path`` (none when there is no such file); True if any."""
    if map_path is None or not map_path.is_file():
        return False
    try:
        load_maps(map_path)
    except MapError as exc:
        print(str(exc), file=sys.stderr)
        return True
    return False


def _check_config(args: argparse.Namespace) -> int:
    settings, maps = _configuration(args.config)
    print(f"{args.config}: configuration is valid (map {settings.map_path})")
    print(f"Users: served from {settings.ldap.user_base}")
    if maps.group is None:
        print("Groups: not served (the map has no group section)")
    elif not settings.ldap.group_base:
        print("Groups: not served (ldap.group_base is not set); switch off group provisioning in Entra")
    else:
        print(f"Groups: served from {settings.ldap.group_base}")
    return _probe(settings, maps) if args.probe else EXIT_OK


def _probe(settings: Settings, maps: MapSet) -> int:
    """check-config --probe: the live directory, as the bind DN (see bridge.directory.ldap.probe)."""
    from bridge.app import open_directory  # noqa: PLC0415 - ldap3 only where needed
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415
    from bridge.directory.ldap.flavors import FLAVORS  # noqa: PLC0415
    from bridge.directory.ldap.probe import probe  # noqa: PLC0415

    try:
        opened = open_directory(settings)
    except ConfigError as exc:  # the bind password cannot be read: said the way check-config says it
        print(f"problem: {'; '.join(exc.problems)} ({exc.source})")
        return EXIT_FAILED
    problems = 0
    try:
        opened.directory.ping()
        for finding in probe(settings, maps, opened.directory.pool, FLAVORS[settings.ldap.directory]):  # type: ignore[attr-defined]
            problems += finding.level == "problem"
            print(f"{finding.level}: {finding.text}")
    except DirectoryError as exc:
        print(f"problem: {exc.reason}")
        return EXIT_FAILED
    finally:
        opened.close()
    return EXIT_FAILED if problems else EXIT_OK


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    """One line for a port the server cannot take, with what to do about it."""
    if exc.errno == errno.EADDRINUSE:
        hint = f"another process holds it (see which: ss -ltnp 'sport = :{port}'); stop it or set server.port"
    elif exc.errno == errno.EACCES:
        hint = "ports below 1024 need root or CAP_NET_BIND_SERVICE; keep a high port behind the reverse proxy"
    elif exc.errno == errno.EADDRNOTAVAIL:
        hint = "no interface of this machine has that address; check server.host"
    else:
        hint = exc.strerror or str(exc)
    return f"scim-ldap-bridge: cannot listen on {host}:{port}: {hint}"


def _serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM (or Ctrl-C), then answer the requests in progress and exit; SIGHUP reloads the
    configuration and the map. Under systemd (Type=notify) it says READY=1 once the socket listens and
    pings the watchdog (bridge/systemd.py). With ``server.processes`` > 1 this process binds the socket
    and supervises that many worker processes, each serving it as a single process would."""
    from bridge.logs import setup_logging  # noqa: PLC0415

    try:
        settings = load_settings(args.config)
        setup_logging(settings.logging)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    server = settings.server
    if server.processes <= 1:
        return _serve_one(args, settings, {"host": server.host, "port": server.port}, os.environ)

    from bridge import systemd  # noqa: PLC0415
    from bridge.recent import SharedEntries  # noqa: PLC0415

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            server.host, server.port, type=socket.SOCK_STREAM
        )[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(1024)
        listener.setblocking(False)
    except OSError as exc:
        print(_cannot_listen(server.host, server.port, exc), file=sys.stderr)
        return EXIT_FAILED
    where = f"http://{server.host}:{listener.getsockname()[1]}{server.base_path}"
    shared = SharedEntries()  # before the fork: every worker maps the same memory
    workers = systemd.Workers(
        server.processes,
        lambda index, environ: _serve_one(args, settings, {"sockets": [listener]}, environ, shared),
    )
    signal.signal(signal.SIGTERM, workers.request_stop)
    signal.signal(signal.SIGINT, workers.request_stop)
    signal.signal(signal.SIGHUP, workers.request_reload)
    # /metrics sums every worker's values: prometheus-client's multiprocess mode, files in a directory of
    # this run's own, named before any worker imports the library (bridge/http/observe.py).
    metrics_dir = tempfile.mkdtemp(prefix=f"scim-ldap-bridge-metrics-{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        code = workers.run(status=f"serving SCIM on {where} with {server.processes} processes")
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    listener.close()
    logger.info("stopped")
    return code


def _serve_one(
    args: argparse.Namespace,
    settings: Settings,
    listen: dict[str, Any],
    environ: Mapping[str, str],
    shared: SharedEntries | None = None,
) -> int:
    """One process serving on ``listen`` (host and port, or sockets bound by the parent of workers, with
    the ``shared`` table of remembered entries)."""
    from bridge import systemd  # noqa: PLC0415
    from bridge.app import build_app  # noqa: PLC0415
    from bridge.http.connections import create_server  # noqa: PLC0415 - only the server needs waitress
    from bridge.logs import setup_logging  # noqa: PLC0415

    try:
        app = systemd.ReloadableApp(*build_app(settings, shared))
    except (ConfigError, MapError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    server_settings = settings.server

    def reload() -> None:
        fresh = load_settings(args.config)
        # A bad map or bind password raises here: nothing changed.
        fresh_app, fresh_close = build_app(fresh, shared)
        setup_logging(fresh.logging)
        app.replace(fresh_app, fresh_close)
        logger.info("reloaded %s", args.config)
        restart_only = [
            f"server.{name}"
            for name in (
                "host",
                "port",
                "threads",
                "processes",
                "connection_limit",
                "channel_timeout",
                "read_timeout",
            )
            if getattr(fresh.server, name) != getattr(server_settings, name)
        ]
        if restart_only:
            logger.warning("%s changed: only a restart applies it", ", ".join(restart_only))

    sockets: dict[int, object] = {}
    try:
        server = create_server(app, sockets, server_settings, **listen)
    except OSError as exc:
        app.close()
        print(_cannot_listen(server_settings.host, server_settings.port, exc), file=sys.stderr)
        return EXIT_FAILED
    service = systemd.Service(server, sockets, reload=reload, environ=environ)
    signal.signal(signal.SIGTERM, service.request_stop)
    if "sockets" not in listen:  # a worker ignores Ctrl-C: its parent relays it as SIGTERM
        signal.signal(signal.SIGINT, service.request_stop)
    signal.signal(signal.SIGHUP, service.request_reload)
    where = ", ".join(f"http://{host}:{port}{server_settings.base_path}" for host, port in service.addresses)
    logger.info("serving SCIM on %s", where)
    try:
        service.run(status=f"serving SCIM on {where}")
    finally:
        app.close()
        logger.info("stopped")
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from bridge.init.command import run  # noqa: PLC0415 - ldap3 only for the commands that need it

    return run(args)


def _demo(args: argparse.Namespace) -> int:
    from bridge.demo import run_demo  # noqa: PLC0415

    return run_demo(port=args.port, ldap_port=args.ldap_port, directory=args.directory)


def _selftest(args: argparse.Namespace) -> int:
    from bridge.selftest.sandbox import run  # noqa: PLC0415 - ldap3 only for the commands that need it

    settings = _settings(args.config)
    try:
        return run(settings, args.base)
    except (ConfigError, MapError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG


def _preview(args: argparse.Namespace) -> int:
    """Print what one SCIM request would do to the directory, without writing."""
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415 - ldap3 only where needed
    from bridge.preview import render, run_preview  # noqa: PLC0415

    settings = _settings(args.config)
    try:
        body = None
        if args.body is not None:
            text = sys.stdin.read() if args.body == "-" else Path(args.body).read_text(encoding="utf-8")
            body = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"scim-ldap-bridge: cannot read the body: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        preview = run_preview(settings, args.method, args.path, body)
    except DirectoryError as exc:
        print(f"scim-ldap-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    print(render(preview))
    return EXIT_OK if preview.status < 400 else EXIT_FAILED


def _sweep(args: argparse.Namespace) -> int:
    """Delete the users disabled longer ago than deprovisioning.delete_after_days."""
    from bridge.app import create_services, open_directory  # noqa: PLC0415 - ldap3 only where needed
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415
    from bridge.logs import setup_logging  # noqa: PLC0415
    from bridge.scim.errors import ScimError  # noqa: PLC0415
    from bridge.service import iso_time  # noqa: PLC0415

    settings, maps = _configuration(args.config)
    days = settings.deprovisioning.delete_after_days
    if days is None:
        print("deprovisioning.delete_after_days is not set: disabled users stay, nothing to sweep")
        return EXIT_OK
    setup_logging(settings.logging)  # the audit log records each delete, as when serving
    opened = open_directory(settings)
    try:
        services = create_services(
            settings, opened.directory, maps, id_filter=opened.id_filter, dn_attribute=opened.dn_attribute
        )
        result = services.users.sweep(timedelta(days=days), dry_run=args.dry_run)
    except ScimError as exc:
        print(f"scim-ldap-bridge: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED
    except DirectoryError as exc:
        print(f"scim-ldap-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        opened.close()
    verb = "would delete" if args.dry_run else "deleted"
    for dn, since in result.deleted:
        print(f"{verb} {dn} (disabled since {iso_time(since)})")
    print(f"{len(result.deleted)} user(s) disabled more than {days} day(s) ago {verb}")
    if result.stopped:
        print(f"scim-ldap-bridge: the sweep stopped: {result.stopped}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    """Summarise provisioning activity from the audit log: a file, standard input, or the journal."""

    from bridge.report import build, parse_since, render  # noqa: PLC0415

    try:
        since = parse_since(args.since, datetime.now(UTC))
    except ValueError as exc:
        print(f"scim-ldap-bridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    source = args.file
    if source is None:
        source = _settings(args.config).logging.audit_file
    try:
        if source == "-":
            report, name = build(sys.stdin, since, user=args.user, op=args.op), "standard input"
        elif source:
            with Path(source).open(encoding="utf-8") as audit:  # read line by line: audit files grow large
                report, name = build(audit, since, user=args.user, op=args.op), source
        elif shutil.which("journalctl"):
            argv = [
                "journalctl",
                "-u",
                args.unit,
                "-o",
                "cat",
                "--no-pager",
                f"--since=@{int(since.timestamp())}",
            ]
            done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
            report = build(done.stdout.splitlines(), since, user=args.user, op=args.op)
            name = f"the journal of {args.unit}"
        else:
            print("scim-ldap-bridge: no audit file configured and no journalctl: use --file", file=sys.stderr)
            return EXIT_FAILED
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"scim-ldap-bridge: cannot read the audit log: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in render(report, name, details=bool(args.user or args.op or args.details)):
        print(line)
    return EXIT_OK


def _breaker(args: argparse.Namespace) -> int:
    """Show or release the deprovisioning circuit breaker, which lives in the directory."""
    from bridge.app import open_directory  # noqa: PLC0415 - ldap3 only for the commands that need it
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415
    from bridge.safety import Safety  # noqa: PLC0415

    settings = _settings(args.config)
    opened = open_directory(settings)
    safety = Safety(opened.directory, settings.safety, user_base=settings.ldap.user_base)
    try:
        if args.breaker_command == "release":
            released = safety.release()
            print("Circuit breaker: released" if released else "Circuit breaker: was not tripped")
            return EXIT_OK
        reason = safety.tripped()
    except DirectoryError as exc:
        print(f"scim-ldap-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        opened.close()
    if reason is None:
        print("Circuit breaker: not tripped")
        return EXIT_OK
    print(f"Circuit breaker: tripped ({reason}); entry {safety.breaker_dn}")
    return EXIT_FAILED


def _dump_config(args: argparse.Namespace) -> int:
    """Print the effective configuration, defaults included (no secret is in it)."""
    import yaml  # noqa: PLC0415

    from bridge.config import dump_settings  # noqa: PLC0415

    settings = _settings(args.config)
    print(yaml.safe_dump(dump_settings(settings), sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK


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
    client_new.set_defaults(run=_token_client)
    secret = token_commands.add_parser("secret", help="OAuth client secrets")
    secret.add_subparsers(dest="secret_command", required=True).add_parser(
        "new", help="print a fresh client secret (once) and its hash, to rotate a client's secret"
    ).set_defaults(run=_token_secret)
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
    key_new.set_defaults(run=_token_key)
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
    except _Stop as stop:
        return stop.code
    except KeyboardInterrupt:
        return EXIT_OK
