"""The composition root: ``create_app`` wires a Falcon app around a Directory; ``build_app`` makes the
real one from settings (LDAP pool, audit, map)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import falcon

from bridge.config import Settings, load_user_map, read_bind_password
from bridge.directory.audit import AuditedDirectory
from bridge.directory.base import Directory, DirFilter, Eq
from bridge.directory.filterparse import parse_ldap_filter
from bridge.http import errors, media
from bridge.http.middleware import AccessLog, BearerAuth, RequestId
from bridge.http.resources import Users
from bridge.mapping.engine import UserMapping
from bridge.mapping.model import ResourceMap
from bridge.service import ProvisioningService, Scope


def entry_uuid_filter(value: str) -> DirFilter:
    """The filter for an OpenLDAP entryUUID."""
    return Eq("entryUUID", value)


def create_app(
    settings: Settings,
    directory: Directory,
    user_map: ResourceMap,
    *,
    id_filter: Callable[[str], DirFilter] = entry_uuid_filter,
) -> falcon.App[falcon.Request, falcon.Response]:
    """A Falcon app serving SCIM over ``directory``; every collaborator is passed in, nothing global."""
    scope = Scope(
        user_base=settings.ldap.user_base,
        disabled_base=settings.deprovisioning.disabled_base,
        user_filter=parse_ldap_filter(settings.ldap.user_filter) if settings.ldap.user_filter else None,
    )
    service = ProvisioningService(
        AuditedDirectory(directory),
        UserMapping(user_map),
        scope,
        settings.deprovisioning,
        id_filter=id_filter,
    )
    base = settings.server.base_path
    middleware: list[Any] = [RequestId(), BearerAuth(settings.auth.token_hashes, base), AccessLog()]
    app = falcon.App(media_type=media.SCIM_JSON, middleware=middleware)
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    media.install(app)
    errors.register(app)
    users = Users(
        service,
        base_path=base,
        public_url=settings.server.public_url,
        max_body=settings.server.max_body_bytes,
    )
    app.add_route(f"{base}/Users", users)
    app.add_route(f"{base}/Users/{{user_id}}", users, suffix="item")
    return app


def build_app(settings: Settings) -> tuple[falcon.App[falcon.Request, falcon.Response], Callable[[], None]]:
    """The production app over LDAP, and a function that closes its connections."""
    from bridge.directory.ldap.adapter import LdapDirectory  # noqa: PLC0415 - keeps ldap3 out of tests that don't need it
    from bridge.directory.ldap.connection import ConnectionPool  # noqa: PLC0415

    base_dir = Path(settings.source).parent
    password = read_bind_password(settings.ldap, base_dir)
    pool = ConnectionPool(settings.ldap, password, str(base_dir))
    app = create_app(settings, LdapDirectory(pool), load_user_map(settings.map_path))
    return app, pool.close
