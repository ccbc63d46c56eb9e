"""The composition root: ``create_services`` makes the services over a Directory, ``create_app`` wires a
Falcon app around them; ``build_app`` makes the real one from settings (LDAP pool, audit, map)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import falcon

from bridge.config import ConfigError, Settings, read_bind_password
from bridge.directory.audit import AuditedDirectory
from bridge.directory.base import Directory, DirFilter, Eq
from bridge.directory.errors import DirectoryUnavailable
from bridge.directory.filterparse import parse_ldap_filter
from bridge.directory.ldap import render
from bridge.directory.metered import MeteredDirectory, Observer
from bridge.http import errors, media
from bridge.http.discovery import DiscoveryEndpoints, mapped
from bridge.http.groups import Groups
from bridge.http.metrics import Metrics
from bridge.http.middleware import AccessLog, BearerAuth, FailureLimit, RequestId
from bridge.http.oauth_endpoint import TokenEndpoint
from bridge.http.oauth_metrics import AuthMetrics
from bridge.http.observe import Health, MetricsEndpoint, Ready
from bridge.http.search import RootSearch
from bridge.http.users import Users
from bridge.mapping.engine import ResourceMapping, UserMapping
from bridge.mapping.load import load_maps
from bridge.mapping.model import MapSet, ResourceMap
from bridge.oauth import TOKEN_PATH
from bridge.oauth.keys import KeyFileError
from bridge.oauth.setup import OAuth, build_oauth
from bridge.scim.discovery import Discovery
from bridge.services.groups import GroupService
from bridge.services.members import Memberships
from bridge.services.recent import EntryCache, SharedEntries, local
from bridge.services.safety import Safety
from bridge.services.scope import Places, Scope
from bridge.services.unmapped import UnmappedPolicy
from bridge.services.users import ProvisioningService

logger = logging.getLogger(__name__)


def entry_uuid_filter(value: str) -> DirFilter:
    """The filter for an OpenLDAP entryUUID."""
    return Eq("entryUUID", value)


class Observers:
    """Whoever wants to hear of each directory operation (an app's metrics), subscribed after the
    services over that directory were made."""

    def __init__(self) -> None:
        self._each: list[Observer] = []

    def add(self, observer: Observer) -> None:
        self._each.append(observer)

    def __call__(self, operation: str, ok: bool, seconds: float) -> None:
        for observer in self._each:
            observer(operation, ok, seconds)


@dataclass(frozen=True, slots=True)
class Services:
    """The provisioning services over one directory, as ``settings`` configure them: users, and groups
    when they are served. ``directory`` is that directory as the services reach it (each operation told
    to ``observers``); ``clock`` measures the breaker's window, and the app's failure limits too."""

    settings: Settings
    users: ProvisioningService
    groups: GroupService | None
    maps: MapSet
    safety: Safety
    directory: MeteredDirectory
    clock: Callable[[], float]
    observers: Observers


def create_services(
    settings: Settings,
    directory: Directory,
    maps: ResourceMap | MapSet,
    *,
    id_filter: Callable[[str], DirFilter] = entry_uuid_filter,
    dn_attribute: str = "entryDN",
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    remember: Callable[[str], EntryCache] = local,
) -> Services:
    """The services the app serves, and ``sweep`` runs; every write goes through the audit log.

    Groups are served when the map has a ``group`` section and ``ldap.group_base`` is set. ``remember``
    gives each service the table of entries it writes from without reading them first (``bridge.recent``):
    its own, or one shared by worker processes.
    """
    maps = maps if isinstance(maps, MapSet) else MapSet(maps)
    observers = Observers()
    metered = MeteredDirectory(directory, observers)
    audited = AuditedDirectory(metered)
    users_mapping = UserMapping(maps.user)
    scope = Scope(
        user_base=settings.ldap.user_base,
        disabled_base=settings.deprovisioning.disabled_base,
        user_filter=parse_ldap_filter(settings.ldap.user_filter) if settings.ldap.user_filter else None,
        uniqueness=settings.ldap.uniqueness,
    )
    safety = Safety(audited, settings.safety, user_base=settings.ldap.user_base, clock=clock)
    unmapped = UnmappedPolicy(settings.scim.unmapped)
    memberships = None
    if maps.group is not None and settings.ldap.group_base:
        places = Places.of(audited, users_mapping, scope)
        bases, user_scope = places.bases, places.condition
        memberships = Memberships(
            audited,
            ResourceMapping(maps.group),
            users_mapping,
            group_base=settings.ldap.group_base,
            user_bases=bases,
            user_scope=user_scope,
            id_filter=id_filter,
            spelling=render,
            dn_attribute=dn_attribute,
        )
    service = ProvisioningService(
        audited,
        users_mapping,
        scope,
        settings.deprovisioning,
        id_filter=id_filter,
        memberships=memberships,
        dn_attribute=dn_attribute,
        safety=safety,
        now=now,
        remember=remember,
        unmapped=unmapped,
    )
    groups = None
    if memberships is not None:
        assert maps.group is not None
        groups = GroupService(
            audited,
            ResourceMapping(maps.group),
            memberships,
            id_filter,
            safety,
            unique_by_directory=settings.ldap.uniqueness == "directory",
            remember=remember,
            unmapped=unmapped,
        )
    return Services(settings, service, groups, maps, safety, metered, clock, observers)


def create_app(services: Services) -> falcon.App[falcon.Request, falcon.Response]:
    """A Falcon app serving SCIM through ``services``; every collaborator is passed in, nothing global."""
    settings, clock = services.settings, services.clock
    metrics = Metrics()
    services.observers.add(metrics.observe_directory)
    metrics.watch(
        breaker=lambda: services.safety.seen_tripped,
        read_only=settings.safety.read_only,
        pool=getattr(services.directory.inner, "pool", None),
        pool_size=settings.ldap.pool_size,
    )
    base = settings.server.base_path
    limit = FailureLimit(settings.auth.max_failures, settings.auth.failure_window, clock)
    oauth = _oauth(settings, clock)
    auth_metrics = AuthMetrics(metrics.registry)
    middleware: list[Any] = [
        RequestId(settings.server.trusted_proxies),
        BearerAuth(settings.auth.token_hashes, base, limit, jwts=oauth, failed=auth_metrics.failed),
        AccessLog(),
        metrics.middleware(),
    ]
    app = falcon.App(media_type=media.SCIM_JSON, middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    media.install(app)
    errors.register(app)
    options: dict[str, Any] = {
        "base_path": base,
        "public_url": settings.server.public_url,
        "max_body": settings.server.max_body_bytes,
        "max_results": settings.server.max_results,
        "max_matches": settings.server.max_matches,
    }
    users = Users(services.users, **options)
    app.add_route(f"{base}/Users", users)
    app.add_route(f"{base}/Users/.search", users, suffix="search")
    app.add_route(f"{base}/Users/{{user_id}}", users, suffix="item")
    groups = None
    if services.groups is not None:
        groups = Groups(services.groups, **options)
        app.add_route(f"{base}/Groups", groups)
        app.add_route(f"{base}/Groups/.search", groups, suffix="search")
        app.add_route(f"{base}/Groups/{{group_id}}", groups, suffix="item")
    app.add_route(f"{base}/.search", RootSearch(users, groups))
    # Offered by RFC 7644 but not by the bridge: 501 names the missing feature (3.7, 3.11, 3.12).
    bulk = "bulk operations are not supported (the ServiceProviderConfig says bulk.supported false)"
    app.add_route(f"{base}/Bulk", errors.NotImplementedEndpoint(f"{bulk}; send each operation on its own"))
    app.add_route(f"{base}/Me", errors.NotImplementedEndpoint("/Me is not supported: use /Users/{id}"))
    discovery = DiscoveryEndpoints(
        Discovery(
            mapped(services.maps.user),
            mapped(services.maps.group) if services.groups is not None and services.maps.group else None,
            settings.server.max_results,
        ),
        base_path=base,
        public_url=settings.server.public_url,
    )
    if oauth.serves_tokens:  # outside the base path, so BearerAuth leaves it to its own client checks
        app.add_route(TOKEN_PATH, TokenEndpoint(oauth, limit, auth_metrics))
    app.add_route("/healthz", Health())
    app.add_route("/readyz", Ready(services.directory.ping))
    app.add_route("/metrics", MetricsEndpoint(metrics))
    app.add_route(f"{base}/ServiceProviderConfig", discovery, suffix="config")
    app.add_route(f"{base}/ResourceTypes", discovery, suffix="types")
    app.add_route(f"{base}/ResourceTypes/{{name}}", discovery, suffix="type")
    app.add_route(f"{base}/Schemas", discovery, suffix="schemas")
    app.add_route(f"{base}/Schemas/{{urn}}", discovery, suffix="schema")
    return app


def _oauth(settings: Settings, clock: Callable[[], float]) -> OAuth:
    """The OAuth parts of ``auth.oauth``; a signing key that no longer loads (check-config loaded it) is
    a configuration problem, as at check-config."""
    try:
        return build_oauth(settings.auth.oauth, Path(settings.source).parent, clock=clock)
    except KeyFileError as exc:
        raise ConfigError(settings.source or "auth.oauth", [f"auth.oauth.signing_keys: {exc}"]) from None


@dataclass(frozen=True, slots=True)
class OpenDirectory:
    """The configured LDAP directory: the adapter, how its ids and DNs are looked up, and how to close it."""

    directory: Directory
    id_filter: Callable[[str], DirFilter]
    dn_attribute: str
    close: Callable[[], None]
    fill: Callable[[], int]


def open_directory(settings: Settings) -> OpenDirectory:
    """A pooled connection to the configured directory, with the flavour ``ldap.directory`` names."""
    from bridge.directory.ldap.adapter import LdapDirectory  # noqa: PLC0415 - keeps ldap3 out of tests that don't need it
    from bridge.directory.ldap.connection import ConnectionPool  # noqa: PLC0415
    from bridge.directory.ldap.flavors import FLAVORS  # noqa: PLC0415

    base_dir = Path(settings.source).parent
    pool = ConnectionPool(settings.ldap, read_bind_password(settings.ldap, base_dir), str(base_dir))
    flavor = FLAVORS[settings.ldap.directory]
    return OpenDirectory(
        LdapDirectory(pool, flavor), flavor.id_filter, flavor.dn_attribute, pool.close, pool.fill
    )


def _fill(opened: OpenDirectory) -> None:
    try:
        logger.info("opened %d directory connections", opened.fill())
    except DirectoryUnavailable as exc:
        logger.warning("could not open the directory connections at start: %s; they open on demand", exc)


def build_app(
    settings: Settings, shared: SharedEntries | None = None
) -> tuple[falcon.App[falcon.Request, falcon.Response], Callable[[], None]]:
    """The production app over LDAP, and a function that closes its connections; ``shared``: the table of
    remembered entries the worker processes share (``server.processes`` > 1)."""
    maps = load_maps(settings.map_path)
    opened = open_directory(settings)
    services = create_services(
        settings,
        opened.directory,
        maps,
        id_filter=opened.id_filter,
        dn_attribute=opened.dn_attribute,
        remember=local if shared is None else shared.view,
    )
    app = create_app(services)
    # Warm the pool beside the first requests, not before READY: a slow directory delays nothing.
    threading.Thread(target=_fill, args=(opened,), name="ldap-pool-fill", daemon=True).start()
    return app, opened.close
