"""Users and groups as plain dicts, and what each request should do to them (RFC 7644 section 3).

:meth:`Model.expect` reads a request as a server following the RFC would, over what the map stores
(:mod:`.stored`), and returns the :class:`Outcome`: the status, the body, which resources to read back
afterwards, and the change to make to the model once the bridge has answered (with the new id, for a
POST). A PATCH that removes a required attribute is ``400 mutability`` (RFC 7644 3.5.2.2), where
``active`` and the map's rows with templates are required as docs/scim.md says. The documented rules
beyond the RFC: ``userName`` and a group's ``displayName`` are unique ignoring case (``409
uniqueness``); a member id that names no user or group is ``400 invalidValue``; a PUT without
``active`` keeps it; a deleted user leaves every group, and a deleted group every group that held it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.testing.scim_model.patch import apply_patch, coerce_boolean
from bridge.testing.scim_model.schema import GROUP, USER, Schema
from bridge.testing.scim_model.stored import Refusal, StoredMap

_IGNORED = ("schemas", "id", "meta")  # RFC 7643 3.1: id and meta are the server's; schemas only label


@dataclass(frozen=True, slots=True)
class Step:
    """One request of a sequence, and a line that says what it means to do."""

    method: str
    path: str  # below the SCIM base: /Users, /Groups/<id>
    body: Any = None
    note: str = ""

    def describe(self) -> str:
        head = f"{self.method} {self.path}" + (f"   ({self.note})" if self.note else "")
        if self.body is None:
            return head
        return head + "\n" + json.dumps(self.body, indent=1, ensure_ascii=False)


@dataclass
class User:
    document: dict[str, Any]  # the stored attributes, as a GET shows them (no schemas, no active)
    active: bool
    order: int


@dataclass
class Group:
    document: dict[str, Any]  # displayName, externalId
    members: list[str]
    order: int


def _nothing(_: str | None) -> None:
    return None


@dataclass
class Outcome:
    """What the bridge should answer, which resources to read back, and the change to the model."""

    statuses: tuple[int, ...]
    scim_type: str | None = None
    body: dict[str, Any] | None = None  # without id and meta
    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    commit: Callable[[str | None], None] = _nothing
    why: str = ""


class Model:
    """Every user and group the sequence made, by id, as the bridge should hold them."""

    def __init__(self, stored: StoredMap) -> None:
        self.stored = stored
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self.deleted: list[str] = []
        self._created = 0

    # --- views -----------------------------------------------------------------------------------

    def user_view(self, user_id: str) -> dict[str, Any]:
        user = self.users[user_id]
        return self.stored.user_view(user.document, user.active)

    def group_view(self, group_id: str) -> dict[str, Any]:
        group = self.groups[group_id]
        return self.stored.group_view(group.document, [self._member(m) for m in group.members])

    def groups_of(self, member_id: str) -> list[str]:
        """The groups that hold ``member_id`` directly (a user's ``groups``, RFC 7643 4.1.2)."""
        return [gid for gid, group in self.groups.items() if member_id in group.members]

    def _member(self, member_id: str) -> dict[str, str]:
        return {"value": member_id, "type": "User" if member_id in self.users else "Group"}

    # --- requests --------------------------------------------------------------------------------

    def expect(self, step: Step) -> Outcome:
        """The outcome of ``step``; a refusal changes nothing (RFC 7644 3.5.2: PATCH is atomic)."""
        kind, _, target = step.path.strip("/").partition("/")
        handlers: dict[tuple[str, str, bool], Callable[[str, Any], Outcome]] = {
            ("POST", "Users", False): lambda _, body: self._post_user(body),
            ("PUT", "Users", True): self._put_user,
            ("PATCH", "Users", True): self._patch_user,
            ("DELETE", "Users", True): lambda uid, _: self._delete_user(uid),
            ("GET", "Users", True): lambda uid, _: Outcome((200,), body=self.user_view(uid)),
            ("POST", "Groups", False): lambda _, body: self._post_group(body),
            ("PUT", "Groups", True): self._put_group,
            ("PATCH", "Groups", True): self._patch_group,
            ("DELETE", "Groups", True): lambda gid, _: self._delete_group(gid),
            ("GET", "Groups", True): lambda gid, _: Outcome((200,), body=self.group_view(gid)),
        }
        known = self.users if kind == "Users" else self.groups
        if target and target not in known:
            return Outcome((404,), why=f"no {kind[:-1].lower()} has the id {target}")
        try:
            return handlers[(step.method, kind, bool(target))](target, step.body)
        except Refusal as refusal:
            return Outcome((refusal.status,), refusal.scim_type, why=refusal.why)

    def _post_user(self, body: Any) -> Outcome:
        document, active = _split_active(normalize_body(body, USER))
        view = self._user_write(None, document, True if active is None else active)

        def commit(new_id: str | None) -> None:
            assert new_id is not None
            self.users[new_id] = User(_stored_part(view), view["active"], self._next())

        return Outcome((201,), body=view, commit=commit)

    def _put_user(self, user_id: str, body: Any) -> Outcome:
        document, active = _split_active(normalize_body(body, USER))
        current = self.users[user_id]
        view = self._user_write(user_id, document, current.active if active is None else active)
        return self._user_updated(user_id, view, (200,))

    def _patch_user(self, user_id: str, body: Any) -> Outcome:
        current = self.users[user_id]
        document, active = _split_active(
            apply_patch({**current.document, "active": current.active}, body, USER)
        )
        # An account is always enabled or disabled: active is required (docs/scim.md), like the rows it fills.
        cleared = (("active",) if active is None else ()) + self.stored.cleared_required(
            current.document, document
        )
        if active is None or cleared:
            raise Refusal(400, "mutability", f"{', '.join(cleared)} is required and cannot be removed")
        view = self._user_write(user_id, document, active)
        return self._user_updated(user_id, view, (200, 204))

    def _user_write(self, user_id: str | None, document: dict[str, Any], active: bool) -> dict[str, Any]:
        view = self.stored.user_view(document, active)
        name = view.get("userName")
        if not name:
            raise Refusal(400, "invalidValue", "userName is required")
        for other_id, other in self.users.items():
            if other_id != user_id and str(other.document.get("userName", "")).lower() == name.lower():
                raise Refusal(409, "uniqueness", f"user {other_id} is named {other.document['userName']!r}")
        return view

    def _user_updated(self, user_id: str, view: dict[str, Any], statuses: tuple[int, ...]) -> Outcome:
        renamed = view["userName"] != self.users[user_id].document["userName"]

        def commit(_: str | None) -> None:
            user = self.users[user_id]
            user.document, user.active = _stored_part(view), view["active"]

        groups = set(self.groups_of(user_id)) if renamed else set()
        return Outcome(statuses, body=view, users={user_id}, groups=groups, commit=commit)

    def _delete_user(self, user_id: str) -> Outcome:
        holders = set(self.groups_of(user_id))

        def commit(_: str | None) -> None:
            del self.users[user_id]
            self.deleted.append(user_id)
            for gid in holders:
                self.groups[gid].members.remove(user_id)

        return Outcome((204,), users={user_id}, groups=holders, commit=commit)

    def _post_group(self, body: Any) -> Outcome:
        document = normalize_body(body, GROUP)
        members = self._member_ids(None, document.pop("members", []), [])
        view = self._group_write(None, document, members)

        def commit(new_id: str | None) -> None:
            assert new_id is not None
            self.groups[new_id] = Group(_group_part(view), members, self._next())

        return Outcome((201,), body=view, users=self._users_among(members), commit=commit)

    def _put_group(self, group_id: str, body: Any) -> Outcome:
        document = normalize_body(body, GROUP)
        current = self.groups[group_id]
        members = self._member_ids(group_id, document.pop("members", []), current.members)
        return self._group_updated(group_id, document, members, (200,))

    def _patch_group(self, group_id: str, body: Any) -> Outcome:
        current = self.groups[group_id]
        for operation in body["Operations"]:  # each add names members that exist (docs/groups.md)
            self._member_ids(group_id, _members_given(operation), current.members)
        before = {**current.document, "members": [{"value": m} for m in current.members]}
        document = apply_patch(before, body, GROUP)
        members = self._member_ids(group_id, document.pop("members", []), current.members)
        outcome = self._group_updated(group_id, document, members, (204, 200))
        # Every user an operation named is read back: "add A, remove A" must leave A out of the group.
        outcome.users |= self._users_among([i for op in body["Operations"] for i in _members_named(op)])
        return outcome

    def _group_updated(
        self, group_id: str, document: dict[str, Any], members: list[str], statuses: tuple[int, ...]
    ) -> Outcome:
        current = self.groups[group_id]
        view = self._group_write(group_id, document, members)
        renamed = view["displayName"] != current.document["displayName"]
        changed = set(members) ^ set(current.members)
        users = self._users_among(set(members) | set(current.members) if renamed else changed)
        parents = set(self.groups_of(group_id)) if renamed else set()

        def commit(_: str | None) -> None:
            group = self.groups[group_id]
            group.document, group.members = _group_part(view), members

        return Outcome(statuses, body=view, users=users, groups={group_id, *parents}, commit=commit)

    def _group_write(
        self, group_id: str | None, document: dict[str, Any], members: list[str]
    ) -> dict[str, Any]:
        view = self.stored.group_view(document, [self._member(m) for m in members])
        name = view.get("displayName")
        if not name:
            raise Refusal(400, "invalidValue", "displayName is required")
        for other_id, other in self.groups.items():
            if other_id != group_id and other.document["displayName"].lower() == name.lower():
                raise Refusal(
                    409, "uniqueness", f"group {other_id} is named {other.document['displayName']!r}"
                )
        return view

    def _member_ids(
        self, group_id: str | None, elements: list[dict[str, Any]], current: list[str]
    ) -> list[str]:
        """The member ids of ``elements``, each once; an id that is neither a user nor a group is refused."""
        ids: list[str] = []
        for element in elements:
            member = str(element.get("value", "")).lower()
            if member not in self.users and member not in self.groups and member not in current:
                raise Refusal(400, "invalidValue", f"no user or group has the id {member!r}")
            if member == group_id:
                raise ValueError("the sequences never make a group a member of itself")
            if member not in ids:
                ids.append(member)
        return ids

    def _users_among(self, ids: set[str] | list[str]) -> set[str]:
        return {i for i in ids if i in self.users}

    def _delete_group(self, group_id: str) -> Outcome:
        parents = set(self.groups_of(group_id))
        members = self._users_among(self.groups[group_id].members)

        def commit(_: str | None) -> None:
            del self.groups[group_id]
            self.deleted.append(group_id)
            for gid in parents:
                self.groups[gid].members.remove(group_id)

        return Outcome((204,), users=members, groups={group_id, *parents}, commit=commit)

    def _next(self) -> int:
        self._created += 1
        return self._created


def normalize_body(body: Any, schema: Schema) -> dict[str, Any]:
    """A POST or PUT body as a document: canonical names (RFC 7643 2.1: names ignore case), no nulls,
    extension attributes under the extension's URN; ``schemas``, ``id`` and ``meta`` left out."""
    document: dict[str, Any] = {}
    for key, value in dict(body).items():
        if key.lower() in _IGNORED or value is None:
            continue
        if schema.is_extension(key):
            assert schema.extension is not None
            extension = {
                attr.name: item
                for name, item in dict(value).items()
                if item is not None and (attr := schema.find(schema.extension, name)) is not None
            }
            if extension:
                document[schema.extension] = extension
            continue
        attr = schema.find(None, key)
        if attr is None:
            raise ValueError(f"the sequences only send attributes of the schema, not {key!r}")
        if attr.multi:
            items = value if isinstance(value, list) else [value]
            document[attr.name] = [_canonical(attr.sub, item) for item in items]
        elif attr.subs:
            document[attr.name] = _canonical(attr.sub, value)
        else:
            document[attr.name] = value
    return document


def _members_given(operation: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The members an add or replace operation gives, with a path or without."""
    if str(operation["op"]).lower() == "remove":
        return []
    path, value = operation.get("path"), operation.get("value")
    if not path and isinstance(value, Mapping):
        value = next((v for k, v in value.items() if k.lower() == "members"), None)
    elif str(path).lower() != "members":
        return []
    return [dict(v) for v in (value if isinstance(value, list) else [value]) if isinstance(v, Mapping)]


def _members_named(operation: Mapping[str, Any]) -> list[str]:
    """The member ids an operation adds, sets or removes (by a value list or a value filter)."""
    named = [str(m.get("value")).lower() for m in _members_given(operation)]
    path = str(operation.get("path") or "")
    if str(operation["op"]).lower() == "remove" and path.lower().startswith("members"):
        if "[" in path:
            named.append(path.split('"')[1].lower())
        value = operation.get("value")
        named += [str(m.get("value")).lower() for m in value or [] if isinstance(m, Mapping)]
    return named


def _canonical(sub: Callable[[str], str | None], value: Mapping[str, Any]) -> dict[str, Any]:
    return {sub(k) or k: v for k, v in value.items() if v is not None}


def _split_active(document: dict[str, Any]) -> tuple[dict[str, Any], bool | None]:
    active = document.pop("active", None)
    return document, None if active is None else coerce_boolean(active)


def _stored_part(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("schemas", "active")}


def _group_part(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k not in ("schemas", "members")}
