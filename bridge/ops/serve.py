"""``scim-ldap-bridge serve``: the SCIM server, until SIGTERM; SIGHUP reloads the configuration and the map.

One process serves the port itself; with ``server.processes`` > 1 this process binds the socket and
supervises that many workers (:mod:`bridge.ops.workers`), each serving it as a single process would.
Either way each serving process is a systemd service of its own making (:mod:`bridge.ops.systemd`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridge.config import ConfigError, Settings, load_settings
from bridge.mapping.load import MapError
from bridge.ops.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from bridge.services.recent import SharedEntries

logger = logging.getLogger(__name__)


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


def command(args: argparse.Namespace) -> int:
    """Serve until SIGTERM (or Ctrl-C), then answer the requests in progress and exit; SIGHUP reloads the
    configuration and the map. Under systemd (Type=notify) it says READY=1 once the socket listens and
    pings the watchdog (bridge/ops/systemd.py). With ``server.processes`` > 1 this process binds the socket
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

    from bridge.ops.workers import Workers  # noqa: PLC0415
    from bridge.services.recent import SharedEntries  # noqa: PLC0415

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            server.host, server.port, type=socket.SOCK_STREAM
        )[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(1024)
    except OSError as exc:
        print(_cannot_listen(server.host, server.port, exc), file=sys.stderr)
        return EXIT_FAILED
    where = f"http://{server.host}:{listener.getsockname()[1]}{server.base_path}"
    shared = SharedEntries()  # before the fork: every worker maps the same memory
    workers = Workers(
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
    from bridge.app import build_app  # noqa: PLC0415
    from bridge.http.connections import create_server  # noqa: PLC0415 - only the server needs waitress
    from bridge.logs import setup_logging  # noqa: PLC0415
    from bridge.ops.systemd import ReloadableApp, Service  # noqa: PLC0415

    try:
        app = ReloadableApp(*build_app(settings, shared))
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

    try:
        server = create_server(app, server_settings, **listen)
    except OSError as exc:
        app.close()
        print(_cannot_listen(server_settings.host, server_settings.port, exc), file=sys.stderr)
        return EXIT_FAILED
    service = Service(server, reload=reload, environ=environ)
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
