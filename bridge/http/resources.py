"""What the SCIM resource endpoints share: the query (filter, paging, attributes, a SearchRequest body),
where the base is, and how a resource is sent (``meta``, ``ETag``, conditional requests).

The responders are thin: parse the request, call one service method, set the response; one module per
resource (``bridge.http.users``, ``bridge.http.groups``), the root search and discovery beside them."""

from __future__ import annotations

from typing import Any

import falcon

from bridge.http.media import SCIM_JSON, read_json
from bridge.scim.errors import InvalidSyntax, InvalidValue, TooMany
from bridge.scim.filter import Filter, parse_filter
from bridge.scim.render import entity_tag, list_response, project, resource
from bridge.scim.schemas import USER, ResourceSchema

DEFAULT_COUNT = 100
MAX_COUNT = 1000


SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
_SEARCH_KEYS = {
    "schemas",
    "attributes",
    "excludedattributes",
    "filter",
    "sortby",
    "sortorder",
    "startindex",
    "count",
}


def _param(req: falcon.Request, name: str) -> str | None:
    """A query parameter, or the same member of a ``POST .search`` body (RFC 7644 3.4.3)."""
    search: dict[str, str] | None = getattr(req.context, "search", None)
    return search.get(name) if search is not None else req.get_param(name)


def read_search(req: falcon.Request, max_body: int) -> None:
    """Read a SearchRequest body into ``req.context.search``, so that the query helpers read it as they
    read a query string. Sorting is not supported (ServiceProviderConfig says so), so sortBy and
    sortOrder are ignored, as RFC 7644 3.4.2.3 allows."""
    body = read_json(req, max_body)
    if not isinstance(body, dict):
        raise InvalidSyntax("a SearchRequest is a JSON object")
    schemas = body.get("schemas", [SEARCH_REQUEST])
    if not isinstance(schemas, list) or SEARCH_REQUEST.lower() not in {str(s).lower() for s in schemas}:
        raise InvalidSyntax(f"a SearchRequest names the schema {SEARCH_REQUEST}")
    unknown = sorted(key for key in body if key.lower() not in _SEARCH_KEYS)
    if unknown:
        raise InvalidSyntax(f"a SearchRequest has no member {', '.join(unknown)}")
    search: dict[str, str] = {}
    for key, value in body.items():
        lowered = key.lower()
        if lowered in ("attributes", "excludedattributes"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidSyntax(f"{key} is a list of attribute names")
            search["attributes" if lowered == "attributes" else "excludedAttributes"] = ",".join(value)
        elif lowered == "filter":
            if not isinstance(value, str):
                raise InvalidSyntax("filter is a string")
            search["filter"] = value
        elif lowered in ("startindex", "count"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidValue(f"{key} must be an integer, not {value!r}")
            search["startIndex" if lowered == "startindex" else "count"] = str(value)
    req.context.search = search


def _integer(req: falcon.Request, name: str, default: int) -> int:
    raw = _param(req, name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise InvalidValue(f"{name} must be an integer, not {raw!r}") from exc


def listed(req: falcon.Request, name: str) -> list[str]:
    raw = _param(req, name)
    return [part.strip() for part in raw.split(",") if part.strip()] if raw else []


def asked_for(req: falcon.Request, name: str, *, by_default: bool) -> bool:
    """Whether attribute ``name`` is to be returned under ``attributes``/``excludedAttributes`` (3.9)."""
    wanted = [n.lower().rsplit(":", 1)[-1].split(".")[0] for n in listed(req, "attributes")]
    excluded = [n.lower().rsplit(":", 1)[-1].split(".")[0] for n in listed(req, "excludedAttributes")]
    if wanted:
        return name.lower() in wanted
    return by_default and name.lower() not in excluded


class Endpoint:
    """Where the SCIM base is, as clients reach it (for ``meta.location``)."""

    def __init__(self, *, base_path: str, public_url: str | None) -> None:
        self._base_path = base_path
        self._public_url = public_url.rstrip("/") if public_url else None

    def base_url(self, req: falcon.Request) -> str:
        """The configured public URL, else what this request was addressed to: as a trusted reverse
        proxy forwarded it (X-Forwarded-Proto and -Host), or as it reached the bridge."""
        origin = getattr(req.context, "origin", None) or req.prefix
        return self._public_url or f"{origin}{self._base_path}"


class Resources(Endpoint):
    """What /Users and /Groups share: paging, filters, locations and projection."""

    endpoint = ""

    def __init__(
        self,
        *,
        base_path: str,
        public_url: str | None,
        max_body: int,
        max_results: int = MAX_COUNT,
        max_matches: int | None = None,
    ) -> None:
        super().__init__(base_path=base_path, public_url=public_url)
        self._max_body = max_body
        self._max_results = max_results
        self._max_matches = max_matches

    @property
    def max_body(self) -> int:
        return self._max_body

    def check_matches(self, total: int) -> None:
        """Refuse a query that matched more than ``server.max_matches`` resources (RFC 7644 3.12)."""
        if self._max_matches is not None and total > self._max_matches:
            raise TooMany(
                f"the query matches {total} resources, more than the {self._max_matches} this service "
                "lists at once; narrow the filter"
            )

    def _location(self, req: falcon.Request, resource_id: str) -> str:
        return f"{self.base_url(req)}/{self.endpoint}/{resource_id}"

    def query(self, req: falcon.Request) -> tuple[Filter | None, int, int]:
        """filter, startIndex and count from the query string. Falcon decodes ``+`` as a space, as Entra
        encodes them [I16] (Q15); parameters the bridge does not know, such as the Tenant URL's
        ``aadOptscim062020`` flag, are ignored [D2] (Q25)."""
        text = _param(req, "filter")
        flt = parse_filter(text) if text is not None and text.strip() else None
        start = max(1, _integer(req, "startIndex", 1))
        count = min(max(0, _integer(req, "count", DEFAULT_COUNT)), self._max_results)
        return flt, start, count

    def _project(self, req: falcon.Request, body: dict[str, Any]) -> dict[str, Any]:
        return project(body, listed(req, "attributes"), listed(req, "excludedAttributes"))

    def _finish(
        self, req: falcon.Request, schema: ResourceSchema, view: Any, document: dict[str, Any]
    ) -> dict[str, Any]:
        """The resource body for a user or group view, with meta, projected as the request asks."""
        kind = "User" if schema is USER else "Group"
        body = resource(
            schema,
            kind,
            view.id,
            document,
            location=self._location(req, view.id),
            created=view.created,
            last_modified=view.last_modified,
            version=view.version,
        )
        return self._project(req, body)

    def search(
        self, req: falcon.Request, flt: Filter | None, start: int, count: int
    ) -> tuple[list[Any], int]:
        """The rendered resources of one page, and how many match in all."""
        raise NotImplementedError

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        flt, start, count = self.query(req)
        resources, total = self.search(req, flt, start, count)
        self.check_matches(total)
        self._send(resp, list_response(resources, total, start), 200)

    def on_post_search(self, req: falcon.Request, resp: falcon.Response) -> None:
        """POST /Users/.search or /Groups/.search: the GET with the query in the body (RFC 7644 3.4.3)."""
        read_search(req, self._max_body)
        self.on_get(req, resp)

    @staticmethod
    def _send(resp: falcon.Response, body: dict[str, Any] | None, status: int, version: str = "") -> None:
        if body is None:
            resp.status = falcon.HTTP_204  # the policy deleted it, or a PATCH that answers without a body
            return
        resp.status = status
        resp.content_type = SCIM_JSON
        resp.media = body
        if version:
            resp.set_header("ETag", entity_tag(version))

    @staticmethod
    def _if_match(req: falcon.Request) -> tuple[str, ...] | None:
        """The opaque values of the ``If-Match`` entity tags (weak or strong alike: the bridge's tags
        are all weak, RFC 7644 3.14), ``("*",)``, or None without the header."""
        tags = req.if_match
        return None if tags is None else tuple(str(tag) for tag in tags)

    @staticmethod
    def _not_modified(req: falcon.Request, resp: falcon.Response, version: str) -> bool:
        """Answer 304 when ``If-None-Match`` names the current version (RFC 7232 3.2, weak comparison)."""
        tags = req.if_none_match
        if tags is None or not version or not ("*" in tags or any(str(tag) == version for tag in tags)):
            return False
        resp.status = falcon.HTTP_304
        resp.set_header("ETag", entity_tag(version))
        return True


__all__ = ["DEFAULT_COUNT", "MAX_COUNT", "Endpoint", "Resources", "asked_for", "listed", "read_search"]
