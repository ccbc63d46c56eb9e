"""The RFC 7643 attributes of users and groups, and PATCH paths (RFC 7644 section 3.5.2), written out
plainly for the model: names are matched ignoring case (RFC 7643 section 2.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute: complex when it has sub-attributes."""

    name: str
    multi: bool = False
    subs: tuple[str, ...] = ()
    boolean: bool = False

    def sub(self, name: str) -> str | None:
        """The canonical spelling of sub-attribute ``name``, or None."""
        return next((s for s in self.subs if s.lower() == name.lower()), None)


_PLURAL = ("value", "display", "type", "primary")
_ADDRESS = ("formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary")
_NAME = ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")

# RFC 7643 section 4.1 (and externalId, section 3.1); groups is read-only and never sent.
USER_ATTRS: tuple[Attr, ...] = (
    Attr("userName"),
    Attr("externalId"),
    Attr("name", subs=_NAME),
    Attr("displayName"),
    Attr("nickName"),
    Attr("profileUrl"),
    Attr("title"),
    Attr("userType"),
    Attr("preferredLanguage"),
    Attr("locale"),
    Attr("timezone"),
    Attr("active", boolean=True),
    Attr("password"),
    Attr("emails", multi=True, subs=_PLURAL),
    Attr("phoneNumbers", multi=True, subs=_PLURAL),
    Attr("ims", multi=True, subs=_PLURAL),
    Attr("photos", multi=True, subs=_PLURAL),
    Attr("addresses", multi=True, subs=_ADDRESS),
    Attr("entitlements", multi=True, subs=_PLURAL),
    Attr("roles", multi=True, subs=_PLURAL),
    Attr("x509Certificates", multi=True, subs=_PLURAL),
)
# RFC 7643 section 4.3.
ENTERPRISE_ATTRS: tuple[Attr, ...] = (
    Attr("employeeNumber"),
    Attr("costCenter"),
    Attr("organization"),
    Attr("division"),
    Attr("department"),
    Attr("manager", subs=("value", "$ref", "displayName")),
)
# RFC 7643 section 4.2.
GROUP_ATTRS: tuple[Attr, ...] = (
    Attr("displayName"),
    Attr("externalId"),
    Attr("members", multi=True, subs=("value", "$ref", "type", "display")),
)


@dataclass(frozen=True, slots=True)
class Schema:
    """The attributes of one resource type: the core ones and those of its one extension, if any."""

    core: tuple[Attr, ...]
    extension: str | None = None
    extension_attrs: tuple[Attr, ...] = ()

    def find(self, urn: str | None, name: str) -> Attr | None:
        attrs = self.core if urn is None else self.extension_attrs
        return next((a for a in attrs if a.name.lower() == name.lower()), None)

    def is_extension(self, text: str) -> bool:
        return self.extension is not None and text.lower() == self.extension.lower()


USER = Schema(USER_ATTRS, ENTERPRISE, ENTERPRISE_ATTRS)
GROUP = Schema(GROUP_ATTRS)


@dataclass(frozen=True, slots=True)
class Path:
    """``[urn:]attr[.sub]`` or ``[urn:]attr[sub eq "value"][.sub]``: the filters the model knows are one
    equality, which is all the sequences send."""

    urn: str | None  # the extension URN, canonical; None for the core schema
    attr: Attr | None  # None: an attribute the schema does not define
    name: str  # the attribute name as written
    sub: str | None = None
    filter: tuple[str, str] | None = None  # (sub-attribute, value) of an "eq" filter

    def describe(self) -> str:
        flt = f'[{self.filter[0]} eq "{self.filter[1]}"]' if self.filter else ""
        return f"{self.urn + ':' if self.urn else ''}{self.name}{flt}{'.' + self.sub if self.sub else ''}"


_VALUE_PATH = re.compile(
    r'^(?P<attr>[\w$]+)\[(?P<left>[\w$]+) eq "(?P<value>(?:[^"\\]|\\.)*)"\](?:\.(?P<sub>[\w$]+))?$'
)


class PathError(ValueError):
    """A path the model cannot read: a test bug, never a bridge one."""


def parse_path(text: str, schema: Schema) -> Path:
    """Split a path into schema, attribute, filter and sub-attribute (RFC 7644 section 3.5.2's ABNF)."""
    urn = None
    rest = text
    if schema.extension and text.lower().startswith(schema.extension.lower() + ":"):
        urn, rest = schema.extension, text[len(schema.extension) + 1 :]
    elif text.lower().startswith(CORE_USER.lower() + ":") or text.lower().startswith(
        CORE_GROUP.lower() + ":"
    ):
        rest = text.rsplit(":", maxsplit=1)[-1]
    found = _VALUE_PATH.match(rest)
    if found:
        value = found["value"].replace('\\"', '"').replace("\\\\", "\\")
        attr = schema.find(urn, found["attr"])
        return Path(urn, attr, found["attr"], found["sub"], (found["left"], value))
    if "[" in rest:
        raise PathError(f"the model cannot read {text!r}")
    name, _, sub = rest.partition(".")
    return Path(urn, schema.find(urn, name), name, sub or None)
