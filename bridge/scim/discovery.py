"""Discovery (RFC 7644 section 4; RFC 7643 sections 5 to 8): ServiceProviderConfig, ResourceTypes and
Schemas, generated from what the attribute map stores, as plain data (``Mapped``): the caller reads the
map (``bridge.http.discovery``), so the protocol core does not depend on the mapping.

What is advertised is what works: an attribute appears only when the map stores it (or the bridge
computes it, such as a user's ``groups``), and a complex attribute lists only the sub-attributes the map
stores. The common attributes ``id``, ``externalId`` and ``meta`` are part of every resource and, as in
RFC 7643 section 8.7.1, are not listed in the schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.scim.schemas import CORE_GROUP, CORE_USER, ENTERPRISE_USER, GROUP, USER, Attribute, ResourceSchema

SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

_NAMES = {
    CORE_USER: ("User", "User Account"),
    CORE_GROUP: ("Group", "Group"),
    ENTERPRISE_USER: ("EnterpriseUser", "Enterprise User"),
}
_READ_ONLY = {"groups"}  # computed by the bridge from the directory, never written through SCIM
# Sub-attributes the bridge computes from the directory, whatever a client sends: a member's kind
# comes from its entry's object class, and the display names from the entries.
_COMPUTED = {("members", "type"), ("members", "display"), ("manager", "displayName")}
_CANONICAL = {("members", "type"): ["Group", "User"]}
_REFERENCE_TYPES = {"$ref": ["User", "Group"], "profileUrl": ["external"], "photos": ["external"]}


@dataclass(frozen=True, slots=True)
class Stored:
    """One SCIM attribute (``sub`` "": the attribute itself) or sub-attribute that a map stores, and the
    LDAP attribute that holds it."""

    urn: str | None  # None: the core schema
    attribute: str
    sub: str
    ldap: str
    type: str | None = None  # the element type of a multi-valued attribute ("work")
    always: bool = False  # filled when a POST or PUT leaves it out, as the directory requires it


@dataclass(frozen=True, slots=True)
class Mapped:
    """What the map of one resource type stores: its rows, and the LDAP attributes of ``active`` and
    ``members`` when it maps them."""

    stored: tuple[Stored, ...]
    active: str | None = None
    members: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    """The discovery documents for the users' map and, when /Groups is served, the groups'."""

    users: Mapped
    groups: Mapped | None
    max_results: int

    def schemas(self) -> list[dict[str, Any]]:
        """Every schema a resource here uses, with the attributes the map stores."""
        served = self.groups is not None
        found = [_schema(CORE_USER, _mapped_attributes(self.users, USER, None, groups=served))]
        enterprise = _mapped_attributes(self.users, USER, ENTERPRISE_USER, groups=False)
        if enterprise:
            found.append(_schema(ENTERPRISE_USER, enterprise))
        if self.groups is not None:
            found.append(_schema(CORE_GROUP, _mapped_attributes(self.groups, GROUP, None, groups=False)))
        return found

    def resource_types(self) -> list[dict[str, Any]]:
        """User, and Group when /Groups is served, each with its schema and extensions."""
        urns = {schema["id"] for schema in self.schemas()}
        types = [
            _resource_type("User", "/Users", CORE_USER, [ENTERPRISE_USER] if ENTERPRISE_USER in urns else [])
        ]
        if CORE_GROUP in urns:
            types.append(_resource_type("Group", "/Groups", CORE_GROUP, []))
        return types

    def service_provider_config(self) -> dict[str, Any]:
        """What the bridge supports (RFC 7643 section 5)."""
        password = any(stored.attribute == "password" for stored in self.users.stored)
        return {
            "schemas": [SERVICE_PROVIDER_CONFIG],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": self.max_results},
            "changePassword": {"supported": password},
            "sort": {"supported": False},
            "etag": {"supported": True},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "The Secret Token, sent as Authorization: Bearer <token> (RFC 6750).",
                    "primary": True,
                }
            ],
            "meta": {"resourceType": "ServiceProviderConfig"},
        }


def _mapped_attributes(
    mapped: Mapped, schema: ResourceSchema, urn: str | None, *, groups: bool
) -> list[dict[str, Any]]:
    """The attributes of ``schema`` (core when ``urn`` is None) that ``mapped`` stores, each
    described by the LDAP attributes that hold it."""
    subs: dict[str, dict[str, list[str]]] = {}  # attribute -> sub-attribute ("" itself) -> LDAP names
    types: dict[str, set[str]] = {}
    always: dict[str, set[str]] = {}  # attribute -> sub-attributes ("" itself) the directory always holds
    for stored in mapped.stored:
        if stored.urn != urn:
            continue
        name, sub = stored.attribute, stored.sub
        subs.setdefault(name, {}).setdefault(sub, []).append(stored.ldap)
        if stored.type is not None:
            types.setdefault(name, set()).add(stored.type)
        if stored.always:  # never removable
            always.setdefault(name, set()).update({sub, ""})
    if urn is None:
        if mapped.active is not None:
            subs["active"] = {"": [mapped.active]}
            always["active"] = {""}  # an account is always enabled or disabled
        if mapped.members is not None:
            subs["members"] = {"value": [mapped.members], "$ref": [], "display": [], "type": []}
        if groups:
            subs["groups"] = {"value": [], "$ref": [], "display": []}
    pool = schema.attributes if urn is None else schema.extensions[urn]
    return [
        _attribute(
            attribute,
            subs[attribute.name],
            sorted(types.get(attribute.name, ())),
            always.get(attribute.name, set()),
        )
        for attribute in pool
        if attribute.name in subs
    ]


def _attribute(
    attribute: Attribute, held: Mapping[str, list[str]], types: list[str], always: set[str]
) -> dict[str, Any]:
    """An attribute definition (RFC 7643 section 7), with only the sub-attributes in ``held``. What the
    directory always holds (``always``: "" for the attribute itself) is ``required``: a client may leave
    it out of a POST or PUT, which fill it, but a PATCH cannot remove it (RFC 7644 3.5.2.2)."""
    read_only = attribute.name in _READ_ONLY
    ldap = sorted({name for names in held.values() for name in names}, key=str.lower)
    body = _definition(attribute, ldap, read_only=read_only, required="" in always)
    wanted = set(held)
    if attribute.multi_valued and attribute.sub("type") is not None and types:
        wanted.add("type")
    if attribute.sub_attributes:
        body["subAttributes"] = [
            _definition(
                sub,
                held.get(sub.name, []),
                read_only=read_only or (attribute.name, sub.name) in _COMPUTED,
                canonical=types
                if sub.name == "type" and types
                else _CANONICAL.get((attribute.name, sub.name)),
                required=sub.name in always,
            )
            for sub in attribute.sub_attributes
            if sub.name in wanted
        ]
    return body


def _definition(
    attribute: Attribute,
    ldap: list[str],
    *,
    read_only: bool,
    canonical: list[str] | None = None,
    required: bool = False,
) -> dict[str, Any]:
    where = f"; stored in LDAP {', '.join(ldap)}" if ldap else ""
    filled = "; always held: filled when a POST or PUT leaves it out" if required else ""
    body: dict[str, Any] = {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": f"{attribute.name}{where}{filled}",
        "required": attribute.required or required,
        "caseExact": attribute.case_exact,
        "mutability": "readOnly" if read_only else attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
    }
    if canonical:
        body["canonicalValues"] = canonical
    if attribute.type == "reference":
        body["referenceTypes"] = _REFERENCE_TYPES.get(attribute.name, ["external"])
    return body


def _schema(urn: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    name, description = _NAMES[urn]
    return {
        "schemas": [SCHEMA],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema"},
    }


def _resource_type(name: str, endpoint: str, urn: str, extensions: list[str]) -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": _NAMES[urn][1],
        "schema": urn,
        "schemaExtensions": [{"schema": extension, "required": False} for extension in extensions],
        "meta": {"resourceType": "ResourceType"},
    }


def with_location(document: Mapping[str, Any], location: str) -> dict[str, Any]:
    """``document`` with ``meta.location`` set."""
    return {**document, "meta": {**document.get("meta", {}), "location": location}}


__all__ = [
    "RESOURCE_TYPE",
    "SCHEMA",
    "SERVICE_PROVIDER_CONFIG",
    "Discovery",
    "Mapped",
    "Stored",
    "with_location",
]
