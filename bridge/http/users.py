"""/Users and /Users/{id}."""

from __future__ import annotations

from typing import Any

import falcon

from bridge.http.media import read_json, read_message
from bridge.http.resources import Resources, asked_for
from bridge.scim.filter import Filter
from bridge.scim.schemas import ENTERPRISE_USER, PATCH_OP, USER
from bridge.services.users import ProvisioningService, UserView


class Users(Resources):
    """/Users and /Users/{user_id}."""

    endpoint = "Users"

    def __init__(self, service: ProvisioningService, **options: Any) -> None:
        super().__init__(**options)
        self._service = service

    def _render(self, req: falcon.Request, view: UserView | None) -> dict[str, Any] | None:
        if view is None:
            return None
        document = dict(view.document)
        manager = document.get(ENTERPRISE_USER, {}).get("manager")
        if isinstance(manager, dict) and manager.get("value"):
            # Entra sends a plain id but expects the object back [I15][I16].
            extension = dict(document[ENTERPRISE_USER])
            extension["manager"] = {**manager, "$ref": f"{self.base_url(req)}/Users/{manager['value']}"}
            document[ENTERPRISE_USER] = extension
        if view.groups is not None:
            groups_url = f"{self.base_url(req)}/Groups"
            document["groups"] = [
                {
                    "value": gid,
                    "$ref": f"{groups_url}/{gid}",
                    **({"display": name} if name else {}),
                    "type": "direct",
                }
                for gid, name in view.groups
            ]
        return self._finish(req, USER, view, document)

    def search(
        self, req: falcon.Request, flt: Filter | None, start: int, count: int
    ) -> tuple[list[Any], int]:
        """The rendered users of one page, and how many match in all."""
        with_groups = asked_for(req, "groups", by_default=False)
        page = self._service.list_users(flt, start, count, with_groups=with_groups)
        return [self._render(req, view) or {} for view in page.resources], page.total

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        view = self._service.create_user(read_json(req, self._max_body))
        self._send(resp, self._render(req, view), 201, view.version)
        resp.location = self._location(req, view.id)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        with_groups = asked_for(req, "groups", by_default=False)
        view = self._service.get_user(user_id, with_groups=with_groups)
        if not self._not_modified(req, resp, view.version):
            self._send(resp, self._render(req, view), 200, view.version)

    def on_put_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        body = read_json(req, self._max_body)
        view = self._service.replace_user(user_id, body, if_match=self._if_match(req))
        self._send(resp, self._render(req, view), 200, view.version if view else "")

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        body = read_message(req, self._max_body, PATCH_OP)
        view = self._service.patch_user(user_id, body, if_match=self._if_match(req))
        self._send(resp, self._render(req, view), 200, view.version if view else "")

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, user_id: str) -> None:
        self._service.delete_user(user_id, if_match=self._if_match(req))
        resp.status = falcon.HTTP_204


__all__ = ["Users"]
