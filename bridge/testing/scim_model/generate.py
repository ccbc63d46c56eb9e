"""Random requests over the users and groups a model holds: POST, PUT, PATCH, GET and DELETE, seeded.

Each PATCH holds one to four operations drawn from every form RFC 7644 section 3.5.2 and Entra use on
the default map's attributes: core and sub-attributes, value filters with and without a sub-attribute,
extension attributes by URN, the extension URN alone with an object, path-less values with plain,
dotted and URN keys, ``active`` in its documented spellings, renames, and attributes the map does not
store. On purpose, and often enough that every seed meets most of them: adds of nothing (``[]``, ``{}``),
a filtered replace that matches no element, untyped elements beside typed ones, removals of ``active``
and of the name parts the map fills, renames and deletes of nested groups, several member operations on
one member in one PATCH, renames of former members. Some requests are meant to fail (a namesake, two
work emails, an unknown member id, an object where a string belongs, a removal of something required):
the model says how. Targets are picked by position, not id, so one seed gives the same sequence on every
directory.
"""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Callable
from typing import Any

from bridge.testing.scim_model import values
from bridge.testing.scim_model.model import Model, Step
from bridge.testing.scim_model.patch import apply_patch
from bridge.testing.scim_model.schema import CORE_GROUP, CORE_USER, ENTERPRISE, PATCH_OP, USER
from bridge.testing.scim_model.stored import Refusal

Op = dict[str, Any]
TYPES = {
    "emails": ("work", "work", "work", "home"),
    "phoneNumbers": ("work", "mobile", "fax", "home"),
    "addresses": ("work", "work", "work", "home"),
}
ADDRESS_PARTS = ("streetAddress", "locality", "region", "postalCode", "formatted", "country")
NAME_PARTS = ("givenName", "familyName", "formatted", "middleName")
SIMPLE = ("displayName", "title", "preferredLanguage", "externalId", "nickName", "userType")
ENTERPRISE_PARTS = ("employeeNumber", "department", "organization", "costCenter", "division")


class Generator:
    """The next request of a sequence, given what the model holds now."""

    def __init__(self, rng: random.Random, model: Model) -> None:
        self.rng = rng
        self.model = model
        self._memberships: set[tuple[str, str]] = set()
        self._departed: set[str] = set()  # users and groups that left a group that still exists
        self._last_group = ""
        self._last_named: set[str] = set()
        self._document: dict[str, Any] = {}  # the user a PATCH is being drawn for, as its operations leave it
        self._steps: list[tuple[float, Callable[[], Step | None]]] = [
            (10, self.post_user),
            (8, self.put_user),
            (36, self.patch_user),
            (4, self.delete_user),
            (4, self.get_user),
            (6, self.post_group),
            (4, self.put_group),
            (20, self.patch_group),
            (3, self.delete_group),
            (2, self.get_group),
        ]

    def next_step(self) -> Step:
        self._note_departures()
        if len(self.model.users) < 2:
            return self.post_user()
        if not self.model.groups and self.rng.random() < 0.3:
            return self.post_group()
        while True:
            weights = [w for w, _ in self._steps]
            make = self.rng.choices([m for _, m in self._steps], weights)[0]
            step = make()
            if step is not None:
                return step

    def _note_departures(self) -> None:
        """Remember the users and groups that left a group that still exists, to rename them now and then:
        a directory that keeps reverse memberships (memberOf) must not bring them back."""
        pairs = {(m, gid) for gid, group in self.model.groups.items() for m in group.members}
        # Named by a member operation of the last step and not a member now: added and removed again.
        named = {(m, self._last_group) for m in self._last_named}
        for member, group_id in (self._memberships | named) - pairs:
            if group_id in self.model.groups:
                self._departed.add(member)
        self._departed &= set(self.model.users) | set(self.model.groups)
        self._memberships = pairs
        self._last_named = set()

    # --- helpers ---------------------------------------------------------------------------------

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _user(self) -> str:
        return self.rng.choice(list(self.model.users))

    def _target_user(self) -> str:
        """The user a PUT or PATCH changes: now and then a former member (see ``_note_departures``)."""
        departed = [u for u in self.model.users if u in self._departed]  # by position, not by id
        return self.rng.choice(departed) if departed and self._chance(0.15) else self._user()

    def _group(self) -> str | None:
        return self.rng.choice(list(self.model.groups)) if self.model.groups else None

    def _target_group(self) -> str | None:
        """The group a PUT, PATCH or DELETE changes: now and then a nested one, or a former member."""
        held = {m for group in self.model.groups.values() for m in group.members}
        nested = [g for g in self.model.groups if g in held]  # by position, not by id
        departed = [g for g in self.model.groups if g in self._departed]
        roll = self.rng.random()
        if nested and roll < 0.15:
            return self.rng.choice(nested)
        if departed and roll < 0.25:
            return self.rng.choice(departed)
        return self._group()

    def _unknown_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _op(self, op: str) -> str:
        """Entra capitalises ops (docs/scim.md): ``Add``, ``Replace``, ``Remove``."""
        return op.capitalize() if self._chance(0.2) else op

    def _attr_case(self, name: str) -> str:
        """Attribute names ignore case (RFC 7643 2.1)."""
        return name[0].upper() + name[1:] if self._chance(0.1) else name

    def _clear(self, path: str) -> Op:
        """``remove``, or the documented ``replace`` with ``""`` or ``null``."""
        roll = self.rng.random()
        if roll < 0.6:
            return {"op": self._op("remove"), "path": path}
        return {"op": self._op("replace"), "path": path, "value": "" if roll < 0.8 else None}

    def _user_name(self, user_id: str | None) -> str:
        """A fresh name; or (on purpose) one differing only in case from this user's, or another's."""
        names = {uid: str(u.document["userName"]) for uid, u in self.model.users.items()}
        roll = self.rng.random()
        if user_id is not None and roll < 0.15:
            return values.case_variant(self.rng, names[user_id])
        others = [n for uid, n in names.items() if uid != user_id]
        if others and 0.15 <= roll < 0.22:
            return values.case_variant(self.rng, self.rng.choice(others))
        return values.name(self.rng, "u")

    def _group_name(self, group_id: str | None) -> str:
        names = {gid: str(g.document["displayName"]) for gid, g in self.model.groups.items()}
        roll = self.rng.random()
        if group_id is not None and roll < 0.15:
            return values.case_variant(self.rng, names[group_id])
        others = [n for gid, n in names.items() if gid != group_id]
        if others and 0.15 <= roll < 0.22:
            return values.case_variant(self.rng, self.rng.choice(others))
        return values.name(self.rng, "grp ")

    # --- values of the map's attributes ----------------------------------------------------------

    def _simple_value(self, attr: str) -> str:
        if attr == "preferredLanguage":
            return values.language(self.rng)
        return values.text(self.rng)

    def _element_value(self, attr: str, sub: str = "value") -> str:
        if attr == "emails":
            return values.email(self.rng)
        if attr == "phoneNumbers":
            return values.phone(self.rng)
        if sub == "postalCode":
            return values.postal_code(self.rng)
        if sub == "formatted":
            return values.formatted_address(self.rng)
        return values.text(self.rng, 2)

    def _element(self, attr: str, kind: str | None) -> dict[str, Any]:
        element: dict[str, Any] = {} if kind is None else {"type": kind}
        if attr == "addresses":
            for part in self.rng.sample(ADDRESS_PARTS, self.rng.randint(1, 3)):
                element[part] = self._element_value(attr, part)
        else:
            element["value"] = self._element_value(attr)
        if self._chance(0.2):
            element["primary"] = True
        return element

    def _elements(self, attr: str) -> list[dict[str, Any]]:
        """Elements of distinct types (the map keeps one per type); now and then one without a type, alone
        or beside typed ones (where it is dropped when its type, the map's first, is taken)."""
        if attr != "addresses" and self._chance(0.1):
            return [self._element(attr, None)]
        kinds = sorted(set(TYPES[attr]))
        elements = [self._element(attr, k) for k in self.rng.sample(kinds, self.rng.randint(0, len(kinds)))]
        if attr != "addresses" and elements and self._chance(0.2):
            elements.insert(self.rng.randint(0, len(elements)), self._element(attr, None))
        return elements

    def _name(self) -> dict[str, str]:
        return {p: values.text(self.rng, 2) for p in self.rng.sample(NAME_PARTS, self.rng.randint(0, 3))}

    def _enterprise(self) -> dict[str, str]:
        parts = self.rng.sample(ENTERPRISE_PARTS, self.rng.randint(1, 4))
        return {
            p: values.employee_number(self.rng) if p == "employeeNumber" else values.text(self.rng)
            for p in parts
        }

    def _user_body(self, user_name: str) -> dict[str, Any]:
        body: dict[str, Any] = {"userName": user_name}
        if self._chance(0.5):
            body["schemas"] = [CORE_USER, ENTERPRISE]
        for attr in SIMPLE:
            if self._chance(0.35):
                body[attr] = self._simple_value(attr)
        if self._chance(0.6):
            body["name"] = self._name()
        for attr in TYPES:
            if self._chance(0.45):
                body[attr] = self._elements(attr)
        if self._chance(0.5):
            body[ENTERPRISE] = self._enterprise()
        if self._chance(0.5):
            body["active"] = self.rng.choice((True, False, "True", "False", "false"))
        if self._chance(0.1):
            body["roles"] = []
        if self._chance(0.1):
            body["meta"] = {"resourceType": "User"}
        return body

    # --- users -----------------------------------------------------------------------------------

    def post_user(self) -> Step:
        return Step("POST", "/Users", self._user_body(self._user_name(None)), "create a user")

    def put_user(self) -> Step:
        user_id = self._target_user()
        current = self.model.users[user_id].document["userName"]
        user_name = current if self._chance(0.6) else self._user_name(user_id)
        return Step("PUT", f"/Users/{user_id}", self._user_body(user_name), "replace the user whole")

    def delete_user(self) -> Step | None:
        if len(self.model.users) < 3:
            return None
        return Step("DELETE", f"/Users/{self._user()}", note="delete a user")

    def get_user(self) -> Step:
        gone = self.model.deleted and self._chance(0.25)
        user_id = self.rng.choice(self.model.deleted) if gone else self._user()
        return Step("GET", f"/Users/{user_id}", note="read a user")

    def patch_user(self) -> Step:
        user_id = self._target_user()
        makers = [
            (6, self._op_simple),
            (4, self._op_name_part),
            (2, self._op_name_whole),
            (8, self._op_typed_part),
            (3, self._op_typed_element),
            (4, self._op_multi_whole),
            (4, self._op_enterprise_attr),
            (3, self._op_enterprise_object),
            (5, self._op_pathless),
            (4, self._op_active),
            (3, self._op_user_name),
        ]
        user = self.model.users[user_id]
        self._document = {**user.document, "active": user.active}  # as the operations so far leave it
        ops: list[Op] = []
        notes: list[str] = []
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3, 4))):
            make = self.rng.choices([m for _, m in makers], [w for w, _ in makers])[0]
            op = make(user_id)
            with contextlib.suppress(Refusal):  # the whole PATCH will be refused; later operations vary
                self._document = apply_patch(self._document, {"Operations": [op]}, USER)
            ops.append(op)
            notes.append(make.__name__.removeprefix("_op_"))
        body = {"schemas": [PATCH_OP], "Operations": ops}
        return Step("PATCH", f"/Users/{user_id}", body, "patch a user: " + ", ".join(notes))

    def _op_simple(self, _: str) -> Op:
        attr = self.rng.choice(SIMPLE)
        path = self._attr_case(attr)
        if self._chance(0.3):
            return self._clear(path)
        if self._chance(0.04):  # an object where a string belongs: 400 invalidValue
            return {"op": self._op(self.rng.choice(("add", "replace"))), "path": path, "value": {}}
        return {
            "op": self._op(self.rng.choice(("add", "replace"))),
            "path": path,
            "value": self._simple_value(attr),
        }

    def _op_name_part(self, _: str) -> Op:
        path = f"{self._attr_case('name')}.{self.rng.choice(NAME_PARTS)}"
        if self._chance(0.35):
            return self._clear(path)
        return {
            "op": self._op(self.rng.choice(("add", "replace"))),
            "path": path,
            "value": values.text(self.rng, 2),
        }

    def _op_name_whole(self, _: str) -> Op:
        """``name`` whole: set some parts, add or replace ``{}`` (nothing changes), or clear it (refused
        while the map fills familyName and formatted)."""
        roll = self.rng.random()
        if roll < 0.25:
            return self._clear(self._attr_case("name"))
        op = self._op(self.rng.choice(("add", "replace")))
        return {"op": op, "path": "name", "value": {} if roll < 0.45 else self._name()}

    def _op_typed_part(self, _: str) -> Op:
        """``emails[type eq "work"].value`` and its kin: set (creating the element) or clear."""
        attr = self.rng.choice(("emails", "emails", "phoneNumbers", "phoneNumbers", "addresses"))
        kind = self.rng.choice(TYPES[attr])
        sub = self.rng.choice(ADDRESS_PARTS) if attr == "addresses" else "value"
        path = f'{self._attr_case(attr)}[type eq "{kind}"].{sub}'
        if self._chance(0.3):
            return self._clear(path)
        value = self._element_value(attr, sub)
        return {"op": self._op(self.rng.choice(("add", "replace"))), "path": path, "value": value}

    def _op_typed_element(self, _: str) -> Op:
        """``phoneNumbers[type eq "mobile"]``: remove the element, or replace it whole; a replace that
        matches no element creates the one the filter describes (docs/scim.md), so its value may leave out the
        type then."""
        attr = self.rng.choice(tuple(TYPES))
        kind = self.rng.choice(TYPES[attr])
        path = f'{attr}[type eq "{kind}"]'
        if self._chance(0.4):
            return {"op": self._op("remove"), "path": path}
        held = self._document.get(attr) or []
        matches = any(str(e.get("type", "")).lower() == kind for e in held)
        value = self._element(attr, None if not matches and self._chance(0.4) else kind)
        return {"op": self._op("replace"), "path": path, "value": value}

    def _op_multi_whole(self, user_id: str) -> Op:
        attr = self.rng.choice(tuple(TYPES))
        roll = self.rng.random()
        if roll < 0.25:
            return {"op": self._op("replace"), "path": attr, "value": self._elements(attr)}
        if roll < 0.45:
            # A second work email while one is there is refused (docs/attribute-map.md: one value per type).
            kind = self.rng.choice(TYPES[attr])
            return {"op": self._op("add"), "path": attr, "value": [self._element(attr, kind)]}
        if roll < 0.6 and attr != "addresses":
            # Without a type: the map's first type when no element holds it, else dropped.
            return {"op": self._op("add"), "path": attr, "value": [self._element(attr, None)]}
        if roll < 0.7:
            return {"op": self._op("add"), "path": attr, "value": []}  # adds nothing (3.5.2.1)
        if roll < 0.8:
            return {"op": self._op("remove"), "path": attr}
        attr = self.rng.choice(("emails", "phoneNumbers"))  # addresses have no "value"
        held = self.model.users[user_id].document.get(attr, [])
        doomed = [e.get("value") for e in held if "value" in e and self._chance(0.7)]
        doomed = [values.case_variant(self.rng, v) if self._chance(0.3) else v for v in doomed]
        doomed.append(self._element_value(attr))  # not held: removing it changes nothing
        return {"op": self._op("remove"), "path": attr, "value": [{"value": v} for v in doomed]}

    def _op_enterprise_attr(self, _: str) -> Op:
        part = self.rng.choice(ENTERPRISE_PARTS)
        path = f"{ENTERPRISE}:{part}"
        if self._chance(0.3):
            return self._clear(path)
        value = values.employee_number(self.rng) if part == "employeeNumber" else values.text(self.rng)
        return {"op": self._op(self.rng.choice(("add", "replace"))), "path": path, "value": value}

    def _op_enterprise_object(self, _: str) -> Op:
        """The extension URN alone as path, with an object value (RFC 7644 3.5.2), or removed whole."""
        if self._chance(0.2):
            return {"op": self._op("remove"), "path": ENTERPRISE}
        value: dict[str, Any] = self._enterprise()
        if self._chance(0.2):
            value = {"employeeNumber": "7", "department": "Platform"}
        return {"op": self._op(self.rng.choice(("add", "replace"))), "path": ENTERPRISE, "value": value}

    def _op_pathless(self, _: str) -> Op:
        """A path-less add or replace: keys are plain names, dotted paths, URN-qualified paths, value
        paths, or an extension URN holding an object (Entra's aadOptscim062020 form)."""
        value: dict[str, Any] = {}
        for _key in range(self.rng.randint(1, 4)):
            roll = self.rng.random()
            if roll < 0.25:
                attr = self.rng.choice(SIMPLE)
                value[self._attr_case(attr)] = self._simple_value(attr)
            elif roll < 0.45:
                value[f"name.{self.rng.choice(NAME_PARTS)}"] = values.text(self.rng, 2)
            elif roll < 0.6:
                value[f"{ENTERPRISE}:{self.rng.choice(ENTERPRISE_PARTS)}"] = values.text(self.rng)
            elif roll < 0.7:
                value[ENTERPRISE] = self._enterprise()
            elif roll < 0.75:
                value['emails[type eq "work"].value'] = values.email(self.rng)
            elif roll < 0.8:
                value["emails"] = [self._element("emails", None)]  # dropped beside a work email
            elif roll < 0.88:
                value["active"] = self.rng.choice((True, False, "True", "False"))
            elif roll < 0.96:
                value["name"] = self._name()
            else:
                # Nothing (an add of {} or []), or null: refused for active and the parts the map fills.
                key = self.rng.choice(("name", "emails", "active", "name.familyName", "name.formatted"))
                empty: dict[str, Any] = {"name": {}, "emails": []}
                value[key] = empty[key] if key in empty and self._chance(0.6) else None
        return {"op": self._op(self.rng.choice(("add", "replace"))), "value": value}

    def _op_active(self, _: str) -> Op:
        """``active`` set in its documented spellings; or removed, null or "": refused (docs/scim.md)."""
        roll = self.rng.random()
        if roll < 0.12:
            return {"op": self._op("remove"), "path": self._attr_case("active")}
        if roll < 0.2:
            return {"op": self._op("replace"), "path": "active", "value": None if roll < 0.17 else ""}
        value = self.rng.choice((True, False, "True", "False", "false", "TRUE"))
        return {
            "op": self._op(self.rng.choice(("replace", "replace", "add"))),
            "path": "active",
            "value": value,
        }

    def _op_user_name(self, user_id: str) -> Op:
        op = self._op(self.rng.choice(("replace", "replace", "add")))
        return {"op": op, "path": self._attr_case("userName"), "value": self._user_name(user_id)}

    # --- groups ----------------------------------------------------------------------------------

    def _members(self, group_id: str | None, most: int = 3) -> list[dict[str, Any]]:
        """Some users; now and then an older group (never the group itself, so no cycle), or an id that
        names nothing (refused)."""
        users = list(self.model.users)
        chosen = self.rng.sample(users, self.rng.randint(0, min(most, len(users))))
        if group_id is not None and self._chance(0.15):
            order = self.model.groups[group_id].order
            older = [g for g, group in self.model.groups.items() if group.order < order]
            chosen += [self.rng.choice(older)] if older else []
        elif group_id is None and self.model.groups and self._chance(0.1):
            chosen.append(self.rng.choice(list(self.model.groups)))
        if self._chance(0.04):
            chosen.append(self._unknown_id())
        members: list[dict[str, Any]] = []
        for member in chosen:
            element: dict[str, Any] = {"value": member}
            if self._chance(0.3):
                element["$ref"] = None  # Entra's member add [D1]
            members.append(element)
        return members

    def post_group(self) -> Step:
        body: dict[str, Any] = {"displayName": self._group_name(None), "members": self._members(None)}
        if self._chance(0.5):
            body["schemas"] = [CORE_GROUP]
        if self._chance(0.4):
            body["externalId"] = values.text(self.rng, 1)
        return Step("POST", "/Groups", body, "create a group")

    def put_group(self) -> Step | None:
        group_id = self._target_group()
        if group_id is None:
            return None
        current = self.model.groups[group_id].document["displayName"]
        body: dict[str, Any] = {
            "schemas": [CORE_GROUP],
            "displayName": current if self._chance(0.6) else self._group_name(group_id),
            "members": self._members(group_id, 4),
        }
        if self._chance(0.4):
            body["externalId"] = values.text(self.rng, 1)
        return Step("PUT", f"/Groups/{group_id}", body, "replace the group whole")

    def delete_group(self) -> Step | None:
        group_id = self._target_group()
        return None if group_id is None else Step("DELETE", f"/Groups/{group_id}", note="delete a group")

    def get_group(self) -> Step | None:
        group_id = self._group()
        return None if group_id is None else Step("GET", f"/Groups/{group_id}", note="read a group")

    def patch_group(self) -> Step | None:
        group_id = self._target_group()
        if group_id is None:
            return None
        if self._chance(0.2):
            return self._patch_one_member(group_id)
        makers = [
            (3, self._op_rename),
            (2, self._op_group_external_id),
            (6, self._op_add_members),
            (4, self._op_remove_member_by_filter),
            (2, self._op_remove_members_by_value),
            (1, self._op_remove_all_members),
            (2, self._op_replace_members),
            (2, self._op_group_pathless),
        ]
        ops: list[Op] = []
        notes: list[str] = []
        for _ in range(self.rng.choice((1, 1, 2, 3))):
            make = self.rng.choices([m for _, m in makers], [w for w, _ in makers])[0]
            ops.append(make(group_id))
            notes.append(make.__name__.removeprefix("_op_"))
        return self._group_patch(group_id, ops, "patch a group: " + ", ".join(notes))

    def _group_patch(self, group_id: str, ops: list[Op], note: str) -> Step:
        self._last_group = group_id
        self._last_named = {str(m["value"]) for op in ops for m in _given_members(op)}
        body = {"schemas": [PATCH_OP], "Operations": ops}
        return Step("PATCH", f"/Groups/{group_id}", body, note)

    def _patch_one_member(self, group_id: str) -> Step:
        """Two or three member operations that name one member, in one PATCH: RFC 7644 3.5.2 applies them
        in order ("add A, remove A" leaves A out; "remove A, remove A" and "remove all, remove A" are
        fine), and the directory must get their net effect."""
        member = self._member_or_not(group_id)
        older = self.model.groups[group_id].order
        nested = [g for g, group in self.model.groups.items() if group.order < older]
        if nested and self._chance(0.2):
            member = self.rng.choice(nested)
        add = {"op": self._op("add"), "path": "members", "value": [{"value": member}]}
        steps: dict[str, Callable[[], Op]] = {
            "add": lambda: add,
            "remove": lambda: self._remove_member(member),
            "remove all": lambda: {"op": self._op("remove"), "path": "members"},
            "replace": lambda: {
                "op": self._op("replace"),
                "path": "members",
                "value": [*self._members(group_id), {"value": member}],
            },
        }
        pattern = self.rng.choice(
            (
                ("add", "remove"),
                ("remove", "remove"),
                ("remove all", "remove"),
                ("remove", "add"),
                ("add", "add"),
                ("replace", "remove"),
                ("add", "remove", "add"),
                ("remove", "add", "remove"),
                ("remove all", "add"),
            )
        )
        ops = [steps[name]() for name in pattern]
        return self._group_patch(group_id, ops, "patch a group, one member: " + ", ".join(pattern))

    def _remove_member(self, member: str) -> Op:
        if self._chance(0.6):
            return {"op": self._op("remove"), "path": f'members[value eq "{member}"]'}
        return {"op": self._op("remove"), "path": "members", "value": [{"value": member}]}

    def _op_rename(self, group_id: str) -> Op:
        op = self._op(self.rng.choice(("replace", "replace", "add")))
        return {"op": op, "path": self._attr_case("displayName"), "value": self._group_name(group_id)}

    def _op_group_external_id(self, _: str) -> Op:
        if self._chance(0.3):
            return self._clear("externalId")
        return {"op": self._op("replace"), "path": "externalId", "value": values.text(self.rng, 1)}

    def _op_add_members(self, group_id: str) -> Op:
        return {"op": self._op("add"), "path": "members", "value": self._members(group_id)}

    def _member_or_not(self, group_id: str) -> str:
        held = self.model.groups[group_id].members
        return self.rng.choice(held) if held and self._chance(0.8) else self._user()

    def _op_remove_member_by_filter(self, group_id: str) -> Op:
        return {"op": self._op("remove"), "path": f'members[value eq "{self._member_or_not(group_id)}"]'}

    def _op_remove_members_by_value(self, group_id: str) -> Op:
        doomed = [{"value": self._member_or_not(group_id)} for _ in range(self.rng.randint(1, 2))]
        return {"op": self._op("remove"), "path": "members", "value": doomed}

    def _op_remove_all_members(self, _: str) -> Op:
        return {"op": self._op("remove"), "path": "members"}

    def _op_replace_members(self, group_id: str) -> Op:
        return {"op": self._op("replace"), "path": "members", "value": self._members(group_id, 4)}

    def _op_group_pathless(self, group_id: str) -> Op:
        value: dict[str, Any] = {}
        if self._chance(0.6):
            value["displayName"] = self._group_name(group_id)
        if self._chance(0.3):
            value["externalId"] = values.text(self.rng, 1)
        if not value or self._chance(0.3):
            value["members"] = self._members(group_id)
        return {"op": self._op(self.rng.choice(("add", "replace"))), "value": value}


def _given_members(op: Op) -> list[dict[str, Any]]:
    """The member elements an operation adds or sets, with a path or in a path-less value."""
    value = op.get("value")
    if not op.get("path") and isinstance(value, dict):
        value = value.get("members")
    elif str(op.get("path")).lower() != "members" or str(op["op"]).lower() == "remove":
        return []
    return [m for m in value or [] if isinstance(m, dict)]
