"""POST /.search: one query over users and groups."""

from __future__ import annotations

from typing import Any

import falcon

from bridge.http.groups import Groups
from bridge.http.media import SCIM_JSON
from bridge.http.resources import read_search
from bridge.http.users import Users
from bridge.scim.errors import InvalidFilter
from bridge.scim.render import list_response


class RootSearch:
    """POST /.search (RFC 7644 3.4.3): one query over every resource type, users first, then groups,
    paged across both. A filter on an attribute only one type has matches nothing of the other."""

    def __init__(self, users: Users, groups: Groups | None) -> None:
        self._users, self._groups = users, groups

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        read_search(req, self._users.max_body)
        flt, start, count = self._users.query(req)
        refused: list[InvalidFilter] = []
        found: list[Any] = []
        total = 0
        for kind in (self._users, self._groups):
            if kind is None:
                continue
            try:
                # Past the users, the groups' page starts where the users ran out.
                page, matched = kind.search(req, flt, max(1, start - total), max(0, count - len(found)))
            except InvalidFilter as exc:
                refused.append(exc)
                continue
            found += page
            total += matched
        if refused and len(refused) == (2 if self._groups is not None else 1):
            raise refused[0]
        self._users.check_matches(total)
        resp.content_type = SCIM_JSON
        resp.media = list_response(found, total, start)


__all__ = ["RootSearch"]
