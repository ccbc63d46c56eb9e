"""Thin responders: parse the request, call one service method, set the response."""

from __future__ import annotations

from typing import Any

import falcon

from bridge.http.media import SCIM_JSON, read_json
from bridge.scim.errors import InvalidValue
from bridge.scim.filter import parse_filter
from bridge.scim.render import list_response, project, resource
from bridge.scim.schemas import USER
from bridge.service import ProvisioningService, UserView

DEFAULT_COUNT = 100
MAX_COUNT = 1000


def _integer(req: falcon.Request, name: str, default: int) -> int:
    raw = req.get_param(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError as exc:
        raise InvalidValue(f"{name} must be an integer, not {raw!r}") from exc


def _names(req: falcon.Request, name: str) -> list[str]:
    raw = req.get_param(name)
    return [part.strip() for part in raw.split(",") if part.strip()] if raw else []


class Users:
    """/Users and /Users/{user_id}."""

    def __init__(
        self, service: ProvisioningService, *, base_path: str, public_url: str | None, max_body: int
    ) -> None:
        self._service = service
        self._base_path = base_path
        self._public_url = public_url.rstrip("/") if public_url else None
        self._max_body = max_body

    def _location(self, req: falcon.Request, user_id: str) -> str:
        """meta.location: the configured public URL, else what this request was addressed to."""
        base = self._public_url or f"{req.prefix}{self._base_path}"
        return f"{base}/Users/{user_id}"

    def _render(self, req: falcon.Request, view: UserView) -> dict[str, Any]:
        body = resource(
            USER,
            "User",
            view.id,
            view.document,
            location=self._location(req, view.id),
            created=view.created,
            last_modified=view.last_modified,
        )
        return project(body, _names(req, "attributes"), _names(req, "excludedAttributes"))

    def _send(self, req: falcon.Request, resp: falcon.Response, view: UserView | None, status: int) -> None:
        if view is None:
            resp.status = falcon.HTTP_204  # the policy deleted the user: there is nothing to show
            return
        resp.status = status
        resp.content_type = SCIM_JSON
        resp.media = self._render(req, view)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        text = req.get_param("filter")
        flt = parse_filter(text) if text is not None and text.strip() else None
        start = max(1, _integer(req, "startIndex", 1))
        count = min(max(0, _integer(req, "count", DEFAULT_COUNT)), MAX_COUNT)
        page = self._service.list_users(flt, start, count)
        resp.content_type = SCIM_JSON
        resp.media = list_response([self._render(req, view) for view in page.users], page.total, start)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        view = self._service.create_user(read_json(req, self._max_body))
        self._send(req, resp, view, 201)
        resp.location = self._location(req, view.id)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._send(req, resp, self._service.get_user(user_id), 200)

    def on_put_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._send(req, resp, self._service.replace_user(user_id, read_json(req, self._max_body)), 200)

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._send(req, resp, self._service.patch_user(user_id, read_json(req, self._max_body)), 200)

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._service.delete_user(user_id)
        resp.status = falcon.HTTP_204
