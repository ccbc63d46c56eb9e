"""/Groups and /Groups/{id}."""

from __future__ import annotations

from typing import Any

import falcon

from bridge.http.media import read_json, read_message
from bridge.http.resources import Resources, asked_for, listed
from bridge.scim.filter import Filter
from bridge.scim.schemas import GROUP, PATCH_OP
from bridge.services.groups import GroupService, GroupView


class Groups(Resources):
    """/Groups and /Groups/{group_id}. Members are read only when they are to be returned: Entra
    always asks with ``excludedAttributes=members`` [D1][D13]."""

    endpoint = "Groups"

    def __init__(self, service: GroupService, **options: Any) -> None:
        super().__init__(**options)
        self._service = service

    def _render(self, req: falcon.Request, view: GroupView) -> dict[str, Any]:
        document = dict(view.document)
        if view.members is not None:
            base = self.base_url(req)
            document["members"] = [
                {"value": m.id, "$ref": f"{base}/{m.kind}s/{m.id}", "type": m.kind} for m in view.members
            ]
        return self._finish(req, GROUP, view, document)

    def search(
        self, req: falcon.Request, flt: Filter | None, start: int, count: int
    ) -> tuple[list[Any], int]:
        """The rendered groups of one page, and how many match in all."""
        with_members = asked_for(req, "members", by_default=True)
        page = self._service.list_groups(flt, start, count, with_members=with_members)
        return [self._render(req, view) for view in page.resources], page.total

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        view = self._service.create_group(read_json(req, self._max_body))
        self._send(resp, self._render(req, view), 201, view.version)
        resp.location = self._location(req, view.id)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, group_id: str) -> None:
        with_members = asked_for(req, "members", by_default=True)
        view = self._service.get_group(group_id, with_members=with_members)
        if not self._not_modified(req, resp, view.version):
            self._send(resp, self._render(req, view), 200, view.version)

    def on_put_item(self, req: falcon.Request, resp: falcon.Response, group_id: str) -> None:
        body = read_json(req, self._max_body)
        view = self._service.replace_group(group_id, body, if_match=self._if_match(req))
        self._send(resp, self._render(req, view), 200, view.version)

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, group_id: str) -> None:
        """204, as Entra prefers [D1]; 200 with the group when the request names the attributes to
        return (RFC 7644 3.5.2: "attributes" or "excludedAttributes" ask for the resource), read after
        the write, with members only when they are asked for."""
        self._service.patch_group(
            group_id, read_message(req, self._max_body, PATCH_OP), if_match=self._if_match(req)
        )
        if not (listed(req, "attributes") or listed(req, "excludedAttributes")):
            resp.status = falcon.HTTP_204
            return
        view = self._service.get_group(group_id, with_members=asked_for(req, "members", by_default=True))
        self._send(resp, self._render(req, view), 200, view.version)

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, group_id: str) -> None:
        self._service.delete_group(group_id, if_match=self._if_match(req))
        resp.status = falcon.HTTP_204


__all__ = ["Groups"]
