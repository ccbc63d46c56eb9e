"""Every deviation of real SCIM clients from RFC 7643/7644 that the bridge tolerates, by name.

Each function says where the behaviour was seen. ``QUIRKS`` at the end is the catalogue of Entra's
quirks, each row with the function that handles it: the small ones live here, the rest where they
naturally apply (the input parser ``bridge.scim.canonical``, the PATCH engine, the filter parser, the
group service, the HTTP layer). The keys in brackets point at the Sources of ``docs/entra.md``
(Microsoft's docs [D*], its reference code [R*], third-party reports [I*], validator runs [T*]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.scim.errors import InvalidSyntax, InvalidValue
from bridge.scim.schemas import Attribute, ResourceSchema


def coerce_boolean(value: Any, where: str) -> bool:
    """A JSON boolean, or the strings "True"/"False" in any case.

    Entra's default mapping for ``active`` is ``Switch([IsSoftDeleted], , "False", "True", "True",
    "False")``, whose output is a string, sent as-is without the aadOptscim062020 flag [D2][R6][I1][I2];
    Microsoft's own test suite posts ``"active": "True"`` [R1]. The reference's advice to also take
    ``"1"``/``"0"`` (section 2.6, an inference) is followed.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")  # "1"/"0": accepted defensively, never seen sent
    raise InvalidValue(f"{where} must be true or false, not {value!r}")


def unwrap_reference(attribute: Attribute, value: Any) -> Any:
    """A single-valued complex reference (``manager``) from any of the shapes Entra sends.

    A plain id string (``"value": "<id>"``, seen in 2020 and 2024 [I12][I13]), the object
    ``{"value": "<id>"}`` (SCIM Validator [T1]) or the old one-element array
    ``[{"$ref": ..., "value": "<id>"}]`` (Microsoft's old example [D1][D18]) all become the object;
    ``""`` and ``[]`` mean "no manager" (Logic-App "replace with empty" [R3]).
    """
    if attribute.multi_valued or attribute.type != "complex" or attribute.sub("value") is None:
        return value
    if value in ("", []):
        return None
    if isinstance(value, str):
        return {"value": value}
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def extension_of(schema: ResourceSchema, name: str) -> str | None:
    """The extension URN that defines ``name``, for a name sent without one.

    Microsoft's 2019 mapping table sent ``manager`` un-prefixed [D18][I34], and old examples patch the
    path ``manager`` [D1]; core attributes win, so only names the core schema lacks are looked up.
    """
    for urn in schema.extensions:
        if schema.attribute(urn, name) is not None:
            return urn
    return None


def normalize_op_name(op: Any, index: int) -> str:
    """``add``/``replace``/``remove`` from any case: Entra sends ``Add``/``Replace``/``Remove`` unless
    the aadOptscim062020 flag is set [D1][D2]."""
    if isinstance(op, str) and op.strip().lower() in ("add", "replace", "remove"):
        return op.strip().lower()
    raise InvalidSyntax(f"Operations[{index}].op must be add, replace or remove, not {op!r}")


@dataclass(frozen=True, slots=True)
class Quirk:
    """One row of the quirk catalogue and the function that handles it."""

    number: str
    summary: str
    sources: str
    handled_by: tuple[str, ...]  # "module:qualified.name", checked by tests/unit/test_compat.py


# Entra's quirks, each with where it is handled: most here, some where they naturally apply (the
# PATCH engine, the filter parser, the group service, the HTTP layer), all named and documented.
QUIRKS: tuple[Quirk, ...] = (
    Quirk("Q1", "op capitalised (Add/Replace/Remove)", "[D1]", ("bridge.scim.compat:normalize_op_name",)),
    Quirk(
        "Q2",
        "active as the string False/True/false",
        "[D2][R6][I1][I2]",
        ("bridge.scim.compat:coerce_boolean",),
    ),
    Quirk("Q3", "active as a boolean (flag dialect)", "[D1][D2]", ("bridge.scim.compat:coerce_boolean",)),
    Quirk(
        "Q4",
        "path-less replace with dotted keys",
        "[D2][I5][I6][I7][I8]",
        ("bridge.scim.canonical:expand_pathless",),
    ),
    Quirk(
        "Q5",
        "path-less value with URN-qualified keys",
        "[D2][I29]",
        ("bridge.scim.canonical:expand_pathless",),
    ),
    Quirk(
        "Q6",
        'emails[type eq "work"].value creates the element when missing',
        "[D1][I19][T1]",
        ("bridge.scim.patch:_apply_filtered", "bridge.scim.patch:_element_from_filter"),
    ),
    Quirk(
        "Q7",
        "remove with a value removes only those values",
        "[R8][I9][I10]",
        ("bridge.scim.patch:_apply_whole",),
    ),
    Quirk(
        "Q8",
        'member removal by members[value eq "id"]',
        "[D2][R1]",
        ("bridge.services.member_writes:filter_ids",),
    ),
    Quirk("Q9", 'member add carries "$ref": null', "[D1]", ("bridge.services.member_writes:member_ids",)),
    Quirk(
        "Q10",
        "many members in one op, several ops in one PATCH, atomic per request",
        "[D14][T1]",
        ("bridge.services.groups:GroupService.patch_group",),
    ),
    Quirk(
        "Q11",
        "manager as a plain id, an object or an old array; un-prefixed; removed by filter",
        "[D1][I12][I13][I14][I15][T1]",
        (
            "bridge.scim.compat:unwrap_reference",
            "bridge.scim.canonical:qualify",
            "bridge.scim.patch:_apply_filtered_single",
        ),
    ),
    Quirk(
        "Q12", "excludedAttributes=members on group reads", "[D1][D13]", ("bridge.http.resources:asked_for",)
    ),
    Quirk(
        "Q13",
        'filters userName/externalId/displayName eq, emails[type eq "work"].value eq, id and manager',
        "[D1][D18][T1]",
        (
            "bridge.scim.filter:parse_filter",
            "bridge.mapping.filters:FilterTranslator.translate",
            "bridge.services.references:References.in_filter",
        ),
    ),
    Quirk(
        "Q14",
        "unquoted filter values (externalId eq jyoung)",
        "[D1][I18]",
        ("bridge.scim.filter:parse_filter",),
    ),
    Quirk("Q15", "+ for a space in the query string", "[I16]", ("bridge.http.resources:Resources.query",)),
    Quirk(
        "Q16",
        "random-GUID probes get 200 and an empty list",
        "[D1][R7]",
        ("bridge.services.users:ProvisioningService.list_users",),
    ),
    Quirk(
        "Q17",
        "extra, malformed or missing schema URNs",
        "[D1][D7][D18]",
        ("bridge.scim.canonical:normalize_resource",),
    ),
    Quirk(
        "Q18",
        "meta in bodies, null values, roles: []",
        "[D1][R1]",
        ("bridge.scim.canonical:normalize_value",),
    ),
    Quirk(
        "Q19",
        "capitalised attribute and sub-attribute names",
        "[R1][D1]",
        ("bridge.scim.canonical:normalize_value",),
    ),
    Quirk(
        "Q20",
        "role values as JSON-encoded strings: not stored by the shipped maps",
        "[D7]",
        ("bridge.scim.canonical:normalize_resource",),
    ),
    Quirk(
        "Q21",
        "members never re-read, only add/remove deltas",
        "[Q6]",
        ("bridge.services.groups:GroupService.patch_group",),
    ),
    Quirk("Q22", "values read back exactly as sent", "[D1][I16]", ("bridge.mapping.model:Converter",)),
    Quirk(
        "Q23", "inactive users stay visible", "[D1]", ("bridge.services.users:ProvisioningService.get_user",)
    ),
    Quirk(
        "Q24", '"", null and remove all mean clear', "[D7][D10][D19][R8][R2]", ("bridge.scim.patch:_clears",)
    ),
    Quirk(
        "Q25",
        "the Tenant URL's query string (aadOptscim062020) and a doubled slash",
        "[D2]",
        ("bridge.http.resources:Resources.query", "bridge.http.middleware:collapse_slashes"),
    ),
    Quirk("Q26", "no ETags or If-Match from Entra: none required", "[D1][D2]", ()),
    Quirk(
        "Q27",
        "special characters in matching values: escaped, never injected",
        "[D10]",
        ("bridge.directory.ldap.render:render_filter",),
    ),
    Quirk(
        "Q28",
        "one element per type (one work email)",
        "[D1]",
        ("bridge.mapping.engine:ResourceMapping.typed",),
    ),
)


__all__ = ["QUIRKS", "Quirk", "coerce_boolean", "extension_of", "normalize_op_name", "unwrap_reference"]
