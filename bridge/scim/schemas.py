"""The SCIM User schema and enterprise extension (RFC 7643 sections 4.1 and 4.3), as data.

Names are resolved case-insensitively (RFC 7643 section 2.1): clients send ``DisplayName`` and
``Manager.Value``, and this module turns them into the canonical spelling. Only attributes that an
attribute map stores are ever written; the rest are known here so that they can be recognised,
coerced and ignored rather than rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition (RFC 7643 section 7)."""

    name: str
    type: str = "string"  # string boolean decimal integer dateTime reference complex binary
    multi_valued: bool = False
    sub_attributes: tuple[Attribute, ...] = ()
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly readWrite immutable writeOnly
    returned: str = "default"  # always never default request
    uniqueness: str = "none"
    required: bool = False
    _subs: Mapping[str, Attribute] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_subs", {sub.name.lower(): sub for sub in self.sub_attributes})

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name`` (any case), or None."""
        return self._subs.get(name.lower())


def _multi(name: str, *subs: Attribute, value_type: str = "string", **options: Any) -> Attribute:
    """A multi-valued complex attribute with the usual value/display/type/primary sub-attributes."""
    base = (
        Attribute("value", value_type),
        Attribute("display"),
        Attribute("type"),
        Attribute("primary", "boolean"),
    )
    return Attribute(name, "complex", multi_valued=True, sub_attributes=base + subs, **options)


_REF = Attribute("$ref", "reference")

USER_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("userName", required=True, uniqueness="server"),
    Attribute(
        "name",
        "complex",
        sub_attributes=tuple(
            Attribute(n)
            for n in (
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            )
        ),
    ),
    Attribute("displayName"),
    Attribute("nickName"),
    Attribute("profileUrl", "reference"),
    Attribute("title"),
    Attribute("userType"),
    Attribute("preferredLanguage"),
    Attribute("locale"),
    Attribute("timezone"),
    Attribute("active", "boolean"),
    Attribute("password", mutability="writeOnly", returned="never"),
    _multi("emails"),
    _multi("phoneNumbers"),
    _multi("ims"),
    _multi("photos", value_type="reference"),
    Attribute(
        "addresses",
        "complex",
        multi_valued=True,
        sub_attributes=(
            *(
                Attribute(n)
                for n in ("formatted", "streetAddress", "locality", "region", "postalCode", "country", "type")
            ),
            Attribute("primary", "boolean"),
        ),
    ),
    # Read-only (RFC 7643 4.1.2: membership is changed through /Groups), and computed by a reverse search
    # that a plain read does not pay for: returned only when ``attributes`` asks for it.
    _multi("groups", _REF, mutability="readOnly", returned="request"),
    _multi("entitlements"),
    _multi("roles"),
    _multi("x509Certificates", value_type="binary"),
)

ENTERPRISE_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("employeeNumber"),
    Attribute("costCenter"),
    Attribute("organization"),
    Attribute("division"),
    Attribute("department"),
    Attribute(
        "manager",
        "complex",
        sub_attributes=(Attribute("value"), _REF, Attribute("displayName", mutability="readOnly")),
    ),
)

COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("id", mutability="readOnly", returned="always", case_exact=True, uniqueness="server"),
    Attribute("externalId", case_exact=True),
    Attribute("meta", "complex", mutability="readOnly"),
    Attribute("schemas", "reference", multi_valued=True, mutability="readOnly"),
)


@dataclass(frozen=True, slots=True)
class ResourceSchema:
    """A resource type's core attributes and its extensions, looked up case-insensitively."""

    core_urn: str
    attributes: tuple[Attribute, ...]
    extensions: Mapping[str, tuple[Attribute, ...]]

    def urn(self, name: str) -> str | None:
        """The canonical spelling of the schema URN ``name``, or None when unknown."""
        lowered = name.lower()
        for urn in (self.core_urn, *self.extensions):
            if urn.lower() == lowered:
                return urn
        return None

    def attribute(self, urn: str | None, name: str) -> Attribute | None:
        """The attribute ``name`` in schema ``urn`` (None: core), or None when unknown."""
        lowered = name.lower()
        canonical = self.urn(urn) if urn is not None else self.core_urn
        if canonical is None:
            return None
        pool = (
            (*self.attributes, *COMMON_ATTRIBUTES)
            if canonical == self.core_urn
            else self.extensions[canonical]
        )
        return next((a for a in pool if a.name.lower() == lowered), None)


USER = ResourceSchema(CORE_USER, USER_ATTRIBUTES, {ENTERPRISE_USER: ENTERPRISE_ATTRIBUTES})

GROUP_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("displayName", required=True, uniqueness="server"),
    Attribute(
        "members",
        "complex",
        multi_valued=True,
        sub_attributes=(
            Attribute("value", mutability="immutable"),
            Attribute("$ref", "reference", mutability="immutable"),
            Attribute("display", mutability="readOnly"),
            Attribute("type", mutability="immutable"),
        ),
    ),
)

GROUP = ResourceSchema(CORE_GROUP, GROUP_ATTRIBUTES, {})
