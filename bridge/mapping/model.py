"""The compiled attribute map: where each SCIM value lives in the directory, and how it is spelled there.

A map row names a SCIM path (``emails[type eq "work"].value``) and an LDAP attribute (``mail``), with
an optional converter and, for attributes the directory requires, templates that fill them when the
client sent nothing. Values are converted, never re-formatted: what a client writes reads back
exactly, because Entra re-sends every value that comes back different [D1][I16].
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bridge.directory.base import DirFilter
from bridge.mapping.passwords import DEFAULT_SCHEME, hash_password
from bridge.scim.schemas import Attribute

# RFC 4517 section 3.3.28: lines of a Postal Address are separated by "$"; "$" and "\" are escaped.
_POSTAL_ESCAPES = {"\\": "\\5C", "$": "\\24"}
_POSTAL_UNESCAPE = re.compile(r"\\(5[Cc]|24)")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a value sits in a canonical SCIM document."""

    urn: str | None  # an extension's schema URN; None for the core schema
    attribute: Attribute
    type: str | None = None  # the element type of a multi-valued attribute ("work")
    sub: Attribute | None = None  # the sub-attribute ("value", "givenName")

    @property
    def text(self) -> str:
        """The path as an admin writes it in the map."""
        name = f"{self.urn}:{self.attribute.name}" if self.urn else self.attribute.name
        if self.type is not None:
            name += f'[type eq "{self.type}"]'
        return f"{name}.{self.sub.name}" if self.sub is not None else name

    def get(self, document: Mapping[str, Any]) -> Any:
        """The value at this target in ``document``, or None."""
        owner = document.get(self.urn, {}) if self.urn else document
        value = owner.get(self.attribute.name) if isinstance(owner, Mapping) else None
        if self.type is not None:
            element = _element(value, self.type)
            return None if element is None or self.sub is None else element.get(self.sub.name)
        if self.sub is not None:
            return value.get(self.sub.name) if isinstance(value, Mapping) else None
        return value

    def clear(self, document: dict[str, Any]) -> None:
        """Remove the value at this target (single-valued sub-attributes), dropping emptied containers."""
        owner = document.get(self.urn) if self.urn else document
        if not isinstance(owner, dict):
            return
        current = owner.get(self.attribute.name)
        if self.sub is not None and self.type is None and isinstance(current, dict):
            current.pop(self.sub.name, None)
            if not current:
                owner.pop(self.attribute.name)
        elif self.sub is None:
            owner.pop(self.attribute.name, None)
        if self.urn and not owner:
            document.pop(self.urn)

    def put(self, document: dict[str, Any], value: Any) -> None:
        """Set the value at this target in ``document``, creating containers and elements."""
        owner = document.setdefault(self.urn, {}) if self.urn else document
        name = self.attribute.name
        if self.type is not None and self.sub is not None:
            elements = owner.setdefault(name, [])
            element = _element(elements, self.type)
            if element is None:
                element = {"type": self.type}
                elements.append(element)
            element[self.sub.name] = value
        elif self.sub is not None:
            owner.setdefault(name, {})[self.sub.name] = value
        else:
            owner[name] = value


def _element(elements: Any, element_type: str) -> dict[str, Any] | None:
    if not isinstance(elements, list):
        return None
    wanted = element_type.lower()
    for element in elements:
        if isinstance(element, dict) and str(element.get("type", "")).lower() == wanted:
            return element
    return None


@dataclass(frozen=True, slots=True)
class Converter:
    """How one SCIM value is spelled in the directory, both ways.

    ``string`` keeps it as is; ``boolean`` is LDAP's TRUE/FALSE; ``integer``; ``postal_address`` turns
    newlines into RFC 4517 ``$`` separators; ``strip_suffix`` lets ``jdoe@contoso.com`` live as
    ``jdoe`` and read back with the suffix restored. ``reference`` is another user's id on the SCIM side
    and that user's DN in the directory (``manager``): the service translates between the two, since
    that needs a directory lookup. The write-only ``password`` is ``ldap_password`` (OpenLDAP's
    ``userPassword``, hashed under ``scheme``: see :mod:`bridge.mapping.passwords`) or ``ad_password``
    (AD's ``unicodePwd``); neither is ever read back.
    """

    kind: Literal[
        "string", "boolean", "integer", "postal_address", "reference", "ad_password", "ldap_password"
    ] = "string"
    strip_suffix: str | None = None
    scheme: str | None = None  # ldap_password only: SSHA when None

    @property
    def exact(self) -> bool:
        """True when the directory value is the SCIM value itself (substring filters translate)."""
        return self.kind == "string" and self.strip_suffix is None

    def to_ldap(self, value: Any) -> str:
        """The directory spelling of ``value``; ValueError says why it has none."""
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return "TRUE" if value else "FALSE"
        if self.kind == "integer":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | str)
                or not str(value).lstrip("-").isdigit()
            ):
                raise ValueError("must be an integer")
            return str(int(value))
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if self.kind == "ad_password":
            return f'"{value}"'  # AD's unicodePwd: the quoted password, sent as UTF-16-LE by the adapter
        if self.kind == "ldap_password":
            # A fresh salt each time: the stored hash is never read back or compared, only written.
            return hash_password(value, self.scheme or DEFAULT_SCHEME)
        if self.kind == "postal_address":
            escaped = "".join(_POSTAL_ESCAPES.get(c, c) for c in value)
            return escaped.replace("\r\n", "$").replace("\n", "$")
        if self.strip_suffix is not None:
            if "@" not in value:
                raise ValueError(f"must end with {self.strip_suffix} (the map strips and restores it)")
            # Only the suffix exactly as configured is stripped: it is restored in that spelling, so a
            # value in another case is kept whole and still reads back exactly.
            if value.endswith(self.strip_suffix):
                stripped = value[: -len(self.strip_suffix)]
                if not stripped:
                    raise ValueError("has nothing before the suffix")
                return stripped
        return value

    def equality_values(self, value: Any) -> tuple[str, ...]:
        """Every directory value whose SCIM value equals ``value`` ignoring case, for filters and
        uniqueness checks; empty when the directory cannot hold ``value`` at all."""
        try:
            stored = self.to_ldap(value)
        except ValueError:
            return ()
        if self.strip_suffix is None or not isinstance(value, str):
            return (stored,)
        candidates = [stored, value]
        if value.lower().endswith(self.strip_suffix.lower()) and len(value) > len(self.strip_suffix):
            candidates.append(value[: -len(self.strip_suffix)])
        return tuple(dict.fromkeys(candidates))

    def from_ldap(self, text: str) -> Any:
        """The SCIM value of a directory value."""
        if self.kind == "boolean":
            return text.upper() == "TRUE"
        if self.kind == "integer":
            return int(text) if text.lstrip("-").isdigit() else text
        if self.kind == "postal_address":
            return _POSTAL_UNESCAPE.sub(
                lambda m: "\\" if m.group(1) in ("5C", "5c") else "$", text.replace("$", "\n")
            )
        if self.strip_suffix is not None and "@" not in text:
            return text + self.strip_suffix
        return text


@dataclass(frozen=True, slots=True)
class Template:
    """A value built from other SCIM values, like ``{name.givenName} {name.familyName}``."""

    text: str
    parts: tuple[str | Target, ...]

    def render(self, document: Mapping[str, Any]) -> str | None:
        """The rendered value, or None when a referenced value is missing."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.get(document)
            if value in (None, ""):
                return None
            out.append(str(value))
        rendered = "".join(out).strip()
        return rendered or None


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the map: a SCIM target, the LDAP attribute holding it, and how."""

    target: Target
    ldap: str
    converter: Converter = Converter()
    default: tuple[Template, ...] = ()


@dataclass(frozen=True, slots=True)
class ActiveRule:
    """How this directory disables an account, and so how ``active`` is read back.

    ``ppolicy``: OpenLDAP's password-policy lock ``pwdAccountLockedTime: 000001010000Z`` (permanent
    until removed; it only refuses binds where a policy with ``pwdLockout: TRUE`` applies).
    ``attribute``: a configured attribute holds ``disabled_value`` while disabled; on enable it gets
    ``enabled_value``, or the disabled value is removed.
    ``uac``: Active Directory's userAccountControl ACCOUNTDISABLE bit (0x2) is set or cleared, every other
    bit kept, so a repeated disable stays disabled. AD enables an account only when it has a password:
    when a client sends none, one of ``password_length`` random characters is set (0: none is set, and
    the account is created disabled).
    ``since``, with any method: an attribute that holds when the account was disabled (GeneralizedTime,
    ``20261122083000Z``), removed when it is enabled again. Every instance, and ``sweep``, read the
    same value: the grace period of "disable now, delete after N days" lives on the entry.
    """

    method: Literal["ppolicy", "attribute", "uac"]
    attribute: str
    disabled_value: str
    enabled_value: str | None = None
    password_length: int = 24
    since: str | None = None


PPOLICY_LOCK = "000001010000Z"
UAC_DISABLED = 0x2
UAC_NORMAL_ACCOUNT = 0x200


@dataclass(frozen=True, slots=True)
class MemberRule:
    """Where a group keeps its members.

    ``member`` or ``uniqueMember`` hold member DNs (users and nested groups); ``memberUid`` (RFC 2307
    posixGroup) holds each user's ``uid`` value. ``placeholder`` is a DN kept in every group whose
    class requires a member (groupOfNames, groupOfUniqueNames), so that a group can be empty for SCIM
    and a member removal never needs to know whether it removes the last one. Clients never see it.

    With ``kept_on`` "members" the membership lives on the members instead: ``attribute`` (e.g.
    ``scimMemberOf``) on each user or nested group holds the DNs of its groups, so a member added or
    removed is one modify of that member, whatever the group's size. The group holds only
    ``url_attribute`` (memberURL), one search URL per base, through which slapd's dynlist overlay shows
    the group's ``member`` values (and the members' ``memberOf``) to LDAP readers. ``member_class`` is
    the auxiliary class that allows ``attribute`` on a member; it is added with the first value.
    """

    attribute: str
    holds: Literal["dn", "uid"]
    placeholder: str | None = None
    kept_on: Literal["group", "members"] = "group"
    url_attribute: str = "memberURL"
    member_class: str = "scimBridgeObject"

    @property
    def on_members(self) -> bool:
        return self.kept_on == "members"


@dataclass(frozen=True, slots=True)
class PosixRule:
    """posixGroup needs a gidNumber: new groups get the lowest free one in ``[gid_min, gid_max]``."""

    gid_min: int
    gid_max: int


# Characters AD refuses in a sAMAccountName (MS-ADTS 3.1.1.5.2.2) and "@", which would read as a UPN.
_SAM_FORBIDDEN = set('"/\\[]:;|=,+*?<>@')


@dataclass(frozen=True, slots=True)
class NamingRule:
    """A value derived when an entry is created, and kept afterwards: a short login name such as
    ``uid=jdoe`` or AD's ``sAMAccountName``, or AD's ``CN=<display name>``. With ``keep`` false it is
    derived again whenever its source changes (a renamed user gets a new short name or CN).

    ``templates`` are tried in order (the first whose values are all present); ``style`` cleans the
    result: ``login`` keeps the part before ``@``, lower-cased, accents removed, only ASCII letters,
    digits, ``.``, ``_`` and ``-`` (what POSIX login names allow); ``sam`` keeps the part before ``@``
    with each character AD forbids in a sAMAccountName replaced by ``_``, as AD's own tools do;
    ``display`` keeps the text with its spaces folded. A value another entry holds gets the next number
    (``jdoe2``; ``John Smith 2`` for display).
    """

    attribute: str
    templates: tuple[Template, ...]
    style: Literal["login", "sam", "display"] = "login"
    max_length: int = 32
    keep: bool = True

    @property
    def separator(self) -> str:
        return " " if self.style == "display" else ""

    def derive(self, document: Mapping[str, Any]) -> str:
        """The value for ``document`` before any collision number."""
        text = next((r for r in (t.render(document) for t in self.templates) if r), "")
        if self.style == "display":
            name = " ".join(text.split())
        elif self.style == "sam":
            local = text.split("@", 1)[0]
            name = "".join("_" if c in _SAM_FORBIDDEN else c for c in local if c.isprintable()).strip(" .")
        else:
            # Accents are dropped, not the letters: Émile becomes emile (NFKD splits off the marks).
            local = unicodedata.normalize("NFKD", text.split("@", 1)[0]).lower()
            name = "".join(c for c in local if c.isascii() and (c.isalnum() or c in "._-")).lstrip("-.")
        return name[: self.max_length].rstrip(" .") or "user"

    def numbered(self, stem: str, number: int) -> str:
        """``stem`` with collision ``number`` (1: the stem itself), within ``max_length``."""
        if number == 1:
            return stem
        suffix = f"{self.separator}{number}"
        return stem[: self.max_length - len(suffix)] + suffix


@dataclass(frozen=True, slots=True)
class ResourceMap:
    """The map of one resource type: a User (with ``active``) or a Group (with ``members``)."""

    object_classes: tuple[str, ...]
    auxiliary_classes: tuple[str, ...]
    rdn: Rule
    rules: tuple[Rule, ...]
    active: ActiveRule | None = None
    members: MemberRule | None = None
    posix: PosixRule | None = None
    integrity: Literal["bridge", "overlay"] = "bridge"
    naming: NamingRule | None = None  # the RDN, when it is derived
    derived: tuple[NamingRule, ...] = ()  # other derived values (sAMAccountName), kept unless keep: false
    constants: tuple[tuple[str, tuple[str, ...]], ...] = ()  # written on create only
    filter: DirFilter | None = None  # more than the structural class: AD users are (objectCategory=person)

    @property
    def derived_names(self) -> tuple[NamingRule, ...]:
        """Every derived value: the ``derived`` rows, then the RDN when it is derived."""
        return (*self.derived, *((self.naming,) if self.naming else ()))


@dataclass(frozen=True, slots=True)
class MapSet:
    """Every resource type of one map file; ``group`` is None when the file maps no groups."""

    user: ResourceMap
    group: ResourceMap | None = None
