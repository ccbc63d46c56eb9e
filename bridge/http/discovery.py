"""The discovery endpoints (RFC 7644 section 4), over the documents ``bridge.scim.discovery`` makes from
what the maps store (``mapped``)."""

from __future__ import annotations

from typing import Any

import falcon

from bridge.http.resources import Endpoint
from bridge.mapping.model import ResourceMap
from bridge.scim.discovery import Discovery, Mapped, Stored, with_location
from bridge.scim.errors import NotFound
from bridge.scim.render import list_response


class DiscoveryEndpoints(Endpoint):
    """GET /ServiceProviderConfig, /ResourceTypes[/{name}] and /Schemas[/{urn}] (RFC 7644 section 4).
    Other methods answer 405 through the error handler, as the RFC asks."""

    def __init__(self, discovery: Discovery, *, base_path: str, public_url: str | None) -> None:
        super().__init__(base_path=base_path, public_url=public_url)
        self._discovery = discovery

    def _url(self, req: falcon.Request, *parts: str) -> str:
        return "/".join((self.base_url(req), *parts))

    def _schemas(self, req: falcon.Request) -> list[dict[str, Any]]:
        return [with_location(s, self._url(req, "Schemas", s["id"])) for s in self._discovery.schemas()]

    def _types(self, req: falcon.Request) -> list[dict[str, Any]]:
        return [
            with_location(t, self._url(req, "ResourceTypes", t["id"]))
            for t in self._discovery.resource_types()
        ]

    def on_get_config(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = with_location(
            self._discovery.service_provider_config(), self._url(req, "ServiceProviderConfig")
        )

    def on_get_types(self, req: falcon.Request, resp: falcon.Response) -> None:
        found = self._types(req)
        resp.media = list_response(found, len(found), 1)

    def on_get_type(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = _one(self._types(req), name, "ResourceType")

    def on_get_schemas(self, req: falcon.Request, resp: falcon.Response) -> None:
        found = self._schemas(req)
        resp.media = list_response(found, len(found), 1)

    def on_get_schema(self, req: falcon.Request, resp: falcon.Response, urn: str) -> None:
        resp.media = _one(self._schemas(req), urn, "Schema")


def _one(documents: list[dict[str, Any]], wanted: str, kind: str) -> dict[str, Any]:
    found = next((d for d in documents if d["id"].lower() == wanted.lower()), None)
    if found is None:
        known = ", ".join(d["id"] for d in documents)
        raise NotFound(f"no {kind} {wanted!r}; this server has {known}")
    return found


def mapped(resource_map: ResourceMap) -> Mapped:
    """What ``resource_map`` stores, as discovery describes it."""
    stored = tuple(
        Stored(
            rule.target.urn,
            rule.target.attribute.name,
            rule.target.sub.name if rule.target.sub is not None else "",
            rule.ldap,
            rule.target.type,
            always=bool(rule.default),
        )
        for rule in (resource_map.rdn, *resource_map.rules)
    )
    active = resource_map.active.attribute if resource_map.active is not None else None
    members = resource_map.members.attribute if resource_map.members is not None else None
    return Mapped(stored, active, members)


__all__ = ["DiscoveryEndpoints", "mapped"]
