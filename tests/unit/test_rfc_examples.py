"""The RFCs' own filter and PATCH examples, each case citing the section it comes from.

Filters and PATCH bodies are copied from RFC 7644 (sections 3.4.2.2, 3.4.3, 3.5.2, 3.5.2.1-3.5.2.3 and
3.10); the resources they run against are RFC 7643 section 8's examples and the other resources RFC 7644
prints (3.4.3 Figure 5, 3.5.1). Where a case needs a resource the RFCs do not print, it is one of those
with a change, made by ``variant``. RFC 7644 section 1.2 says figures may be wrapped and shortened with
"..."; the wrapped forms are tested as printed, and a shortened id is tested both as printed and in full.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bridge.scim.canonical import PatchOperation, normalize_patch, normalize_resource
from bridge.scim.errors import InvalidFilter, InvalidPath, Mutability, NoTarget, ScimError
from bridge.scim.filter import (
    And,
    AttrPath,
    Compare,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    evaluate,
    parse_filter,
)
from bridge.scim.patch import apply_patch
from bridge.scim.path import Path, parse_path
from bridge.scim.render import resource
from bridge.scim.schemas import CORE_USER, ENTERPRISE_USER, GROUP, PATCH_OP, USER, ResourceSchema

# --- the example resources ------------------------------------------------------------------------

BABS_ID = "2819c223-7f76-453a-919d-413861904646"
MANDY_ID = "902c246b-6245-4190-8e05-00816be7344a"
META = {
    "resourceType": "User",
    "created": "2010-01-23T04:56:22Z",
    "lastModified": "2011-05-13T04:42:34Z",
    "location": f"https://example.com/v2/Users/{BABS_ID}",
}

# RFC 7643 section 8.1, "Minimal User Representation" (meta.version left out: no case reads it).
MINIMAL_USER: dict[str, Any] = {
    "schemas": [CORE_USER],
    "id": BABS_ID,
    "userName": "bjensen@example.com",
    "meta": META,
}

WORK_ADDRESS = {
    "type": "work",
    "streetAddress": "100 Universal City Plaza",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "USA",
    "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
    "primary": True,
}
HOME_ADDRESS = {
    "type": "home",
    "streetAddress": "456 Hollywood Blvd",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "USA",
    "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA",
}
WORK_EMAIL = {"value": "bjensen@example.com", "type": "work", "primary": True}
HOME_EMAIL = {"value": "babs@jensen.org", "type": "home"}

# RFC 7643 section 8.2, "Full User Representation" (x509Certificates and meta.version left out: no case
# reads them, and the certificate is 1,400 characters of base64).
FULL_USER: dict[str, Any] = {
    "schemas": [CORE_USER],
    "id": BABS_ID,
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III",
    },
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "emails": [WORK_EMAIL, HOME_EMAIL],
    "addresses": [WORK_ADDRESS, HOME_ADDRESS],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
        {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"},
    ],
    "userType": "Employee",
    "title": "Tour Guide",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "password": "t1meMa$heen",
    "groups": [
        {
            "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
            "display": "Tour Guides",
        },
        {
            "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
            "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
            "display": "Employees",
        },
        {
            "value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
            "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7",
            "display": "US Employees",
        },
    ],
    "meta": META,
}

# RFC 7643 section 8.3, "Enterprise User Extension Representation": section 8.2's user with the extension.
ENTERPRISE_USER_8_3: dict[str, Any] = {
    **FULL_USER,
    "schemas": [CORE_USER, ENTERPRISE_USER],
    ENTERPRISE_USER: {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {
            "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            "$ref": "https://example.com/v2/Users/26118915-6090-4610-87e4-49d8ca9f808d",
            "displayName": "John Smith",
        },
    },
}

BABS = {"value": BABS_ID, "$ref": f"https://example.com/v2/Users/{BABS_ID}", "display": "Babs Jensen"}
MANDY = {"value": MANDY_ID, "$ref": f"https://example.com/v2/Users/{MANDY_ID}", "display": "Mandy Pepperidge"}

# RFC 7643 section 8.4, "Group Representation" (meta left out).
TOUR_GUIDES: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "displayName": "Tour Guides",
    "members": [BABS, MANDY],
}

# RFC 7644 section 3.4.3, Figure 5: the two resources of the example query response.
SMITH_JAMES = {"id": "2819c223-7f76-413861904646", "userName": "jsmith", "displayName": "Smith, James"}
SMITH_FAMILY = {"id": "c8596b90-7539-4f20968d1908", "displayName": "Smith Family"}

# RFC 7644 section 3.5.1: the User the PUT example answers with.
PUT_USER: dict[str, Any] = {
    "schemas": [CORE_USER],
    "id": BABS_ID,
    "userName": "bjensen",
    "externalId": "bjensen",
    "name": {
        "formatted": "Ms. Barbara J Jensen III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
    },
    "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
    "meta": {
        "resourceType": "User",
        "created": "2011-08-08T04:56:22Z",
        "lastModified": "2011-08-08T08:00:12Z",
        "location": f"https://example.com/v2/Users/{BABS_ID}",
    },
}


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with top-level attributes replaced (None removes one): a resource the RFCs do not print."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def canonical(body: dict[str, Any], schema: ResourceSchema) -> dict[str, Any]:
    """The document the service patches: the resource without schemas, id and meta."""
    return normalize_resource(body, schema).document


def operations(*ops: dict[str, Any], schema: ResourceSchema = USER) -> list[PatchOperation]:
    return normalize_patch({"schemas": [PATCH_OP], "Operations": list(ops)}, schema)


def patched(document: dict[str, Any], *ops: dict[str, Any], schema: ResourceSchema = USER) -> dict[str, Any]:
    return apply_patch(document, operations(*ops, schema=schema), schema).document


def apply_body(document: dict[str, Any], body: str, schema: ResourceSchema) -> dict[str, Any]:
    """Apply a PatchOp body given as the JSON text the RFC prints."""
    return apply_patch(document, normalize_patch(json.loads(body), schema), schema).document


# --- RFC 7644 section 3.4.2.2, Figure 2: the example filters --------------------------------------


def path(attr: str, sub: str | None = None, uri: str | None = None) -> AttrPath:
    return AttrPath(uri, attr, sub)


def cmp(attr: str, op: str, value: Any, sub: str | None = None, uri: str | None = None) -> Compare:
    return Compare(path(attr, sub, uri), op, value)


WHEN = "2011-05-13T04:42:34Z"
EMAILS_EXAMPLE = Or(cmp("emails", "co", "example.com"), cmp("emails", "co", "example.org", sub="value"))
WORK_AT_EXAMPLE = And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))
EARLIER = variant(MINIMAL_USER, meta={**META, "lastModified": "2010-01-23T04:56:22Z"})
HOME_ONLY = [HOME_EMAIL]

# (filter as printed after "filter=", its tree, resources it matches, resources it does not match)
FIGURE_2: list[Any] = [
    pytest.param(
        'userName eq "bjensen"',
        cmp("userName", "eq", "bjensen"),
        [PUT_USER],
        [ENTERPRISE_USER_8_3],  # bjensen@example.com: eq is the whole value, not a prefix
        id="01-userName-eq",
    ),
    pytest.param(
        'name.familyName co "O\'Malley"',
        cmp("name", "co", "O'Malley", sub="familyName"),
        [variant(FULL_USER, name={"familyName": "Jensen-O'Malley"})],
        [FULL_USER],
        id="02-name.familyName-co-an-apostrophe",
    ),
    pytest.param(
        'userName sw "J"',
        cmp("userName", "sw", "J"),
        [SMITH_JAMES],  # jsmith: userName is not caseExact (RFC 7643 4.1.1)
        [ENTERPRISE_USER_8_3],
        id="03-userName-sw",
    ),
    pytest.param(
        'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
        cmp("userName", "sw", "J", uri=CORE_USER),
        [SMITH_JAMES],
        [ENTERPRISE_USER_8_3],
        id="04-core-urn-qualified-userName-sw",
    ),
    pytest.param("title pr", Present(path("title")), [FULL_USER], [MINIMAL_USER], id="05-title-pr"),
    # A dateTime stays the string it was written as; those in the RFCs share one format, so the string
    # order is the chronological one.
    pytest.param(
        f'meta.lastModified gt "{WHEN}"',
        cmp("meta", "gt", WHEN, sub="lastModified"),
        [PUT_USER],
        [FULL_USER],  # equal is not greater
        id="06-meta.lastModified-gt",
    ),
    pytest.param(
        f'meta.lastModified ge "{WHEN}"',
        cmp("meta", "ge", WHEN, sub="lastModified"),
        [FULL_USER, PUT_USER],
        [EARLIER],
        id="07-meta.lastModified-ge",
    ),
    pytest.param(
        f'meta.lastModified lt "{WHEN}"',
        cmp("meta", "lt", WHEN, sub="lastModified"),
        [EARLIER],
        [FULL_USER],
        id="08-meta.lastModified-lt",
    ),
    pytest.param(
        f'meta.lastModified le "{WHEN}"',
        cmp("meta", "le", WHEN, sub="lastModified"),
        [FULL_USER, EARLIER],
        [PUT_USER],
        id="09-meta.lastModified-le",
    ),
    pytest.param(
        'title pr and userType eq "Employee"',
        And(Present(path("title")), cmp("userType", "eq", "Employee")),
        [FULL_USER],
        [variant(FULL_USER, userType="Intern"), variant(FULL_USER, title=None)],
        id="10-and",
    ),
    pytest.param(
        'title pr or userType eq "Intern"',
        Or(Present(path("title")), cmp("userType", "eq", "Intern")),
        [FULL_USER, variant(MINIMAL_USER, userType="Intern")],
        [MINIMAL_USER, variant(FULL_USER, title=None)],
        id="11-or",
    ),
    pytest.param(
        f'schemas eq "{ENTERPRISE_USER}"',
        cmp("schemas", "eq", ENTERPRISE_USER),
        [ENTERPRISE_USER_8_3],
        [FULL_USER],
        id="12-schemas-eq-an-extension",
    ),
    pytest.param(
        'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
        And(cmp("userType", "eq", "Employee"), EMAILS_EXAMPLE),
        [FULL_USER, variant(FULL_USER, emails=[{"value": "babs@example.org"}])],
        # the parentheses bind: without them the second would match through its example.org address
        [
            variant(FULL_USER, emails=HOME_ONLY),
            variant(FULL_USER, userType="Intern", emails=[{"value": "babs@example.org"}]),
        ],
        id="13-and-a-parenthesised-or",
    ),
    pytest.param(
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        And(cmp("userType", "ne", "Employee"), Not(EMAILS_EXAMPLE)),
        [variant(FULL_USER, userType="Contractor", emails=HOME_ONLY)],
        [FULL_USER, variant(FULL_USER, userType="Contractor")],
        id="14-ne-and-not",
    ),
    pytest.param(
        'userType eq "Employee" and (emails.type eq "work")',
        And(cmp("userType", "eq", "Employee"), cmp("emails", "eq", "work", sub="type")),
        [FULL_USER],
        [variant(FULL_USER, emails=HOME_ONLY)],
        id="15-a-sub-attribute-of-a-multi-valued-attribute",
    ),
    pytest.param(
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        And(cmp("userType", "eq", "Employee"), ValuePath(path("emails"), WORK_AT_EXAMPLE)),
        [FULL_USER],
        # each condition holds for some email, but no one email holds both
        [
            variant(
                FULL_USER,
                emails=[{"value": "bjensen@jensen.org", "type": "work"}, {"value": "babs@example.com"}],
            )
        ],
        id="16-a-value-path",
    ),
    pytest.param(
        'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
        Or(
            ValuePath(path("emails"), WORK_AT_EXAMPLE),
            ValuePath(path("ims"), And(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))),
        ),
        [FULL_USER, variant(MINIMAL_USER, ims=[{"value": "babs@foo.com", "type": "xmpp"}])],
        [variant(FULL_USER, emails=HOME_ONLY, ims=[{"value": "babs@foo.com", "type": "aim"}])],
        id="17-two-value-paths-or-ed",
    ),
]


@pytest.mark.parametrize(("text", "tree", "matches", "misses"), FIGURE_2)
def test_each_example_filter_of_figure_2_parses_and_selects_what_it_says(
    text: str, tree: Filter, matches: list[dict[str, Any]], misses: list[dict[str, Any]]
) -> None:
    """RFC 7644 3.4.2.2, Figure 2: the tree (precedence, value types) and a match and a miss for each."""
    parsed = parse_filter(text)
    assert parsed == tree
    assert [evaluate(parsed, r) for r in matches] == [True] * len(matches)
    assert [evaluate(parsed, r) for r in misses] == [False] * len(misses)


def test_figure_2_lists_seventeen_filters() -> None:
    """RFC 7644 3.4.2.2, Figure 2 has seventeen example filters; none is left out above."""
    assert len(FIGURE_2) == 17


# The five filters Figure 2 prints over two lines, as printed (RFC 7644 1.2: figures may be wrapped).
WRAPPED = [
    ('\n schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', 11),
    ('userType eq "Employee" and (emails co "example.com" or\n  emails.value co "example.org")', 12),
    ('userType ne "Employee" and not (emails co "example.com" or\n  emails.value co "example.org")', 13),
    ('userType eq "Employee" and emails[type eq "work" and\n  value co "@example.com"]', 15),
    (
        'emails[type eq "work" and value co "@example.com"] or\n'
        '  ims[type eq "xmpp" and value co "@foo.com"]',
        16,
    ),
]


@pytest.mark.parametrize(("text", "index"), WRAPPED)
def test_the_wrapped_filters_of_figure_2_parse_as_printed(text: str, index: int) -> None:
    """RFC 7644 3.4.2.2, Figure 2, with its line breaks and indentation: any whitespace separates."""
    assert parse_filter(text) == FIGURE_2[index].values[1]


def test_figure_4_post_query_filter_selects_both_resources_of_figure_5() -> None:
    """RFC 7644 3.4.3, Figures 4 and 5: ``displayName sw "smith"`` finds "Smith, James" and "Smith Family"."""
    figure_4 = """{
      "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
      "attributes": ["displayName", "userName"],
      "filter":
        "displayName sw \\"smith\\"",
      "startIndex": 1,
      "count": 10
    }"""
    flt = parse_filter(json.loads(figure_4)["filter"])
    assert flt == cmp("displayName", "sw", "smith")
    assert [evaluate(flt, r) for r in (SMITH_JAMES, SMITH_FAMILY, FULL_USER)] == [True, True, False]


COMP_VALUES = [
    pytest.param("active eq true", True, ENTERPRISE_USER_8_3, variant(FULL_USER, active=False), id="true"),
    pytest.param("active eq false", False, variant(FULL_USER, active=False), FULL_USER, id="false"),
    pytest.param("title eq null", None, MINIMAL_USER, FULL_USER, id="null"),
    # "rooms.number" is the RFC's own hypothetical attribute (the sentence before Figure 2)
    pytest.param("rooms.number gt 10", 10, {"rooms": [{"number": 12}]}, {"rooms": [{"number": 9}]}, id="int"),
    pytest.param(
        "rooms.number le 1.5e1", 15.0, {"rooms": [{"number": 15}]}, {"rooms": [{"number": 16}]}, id="float"
    ),
]


@pytest.mark.parametrize(("text", "value", "match", "miss"), COMP_VALUES)
def test_comp_values_keep_their_json_type(text: str, value: Any, match: Any, miss: Any) -> None:
    """RFC 7644 3.4.2.2, Figure 1: ``compValue = false / null / true / number / string``, as JSON types."""
    flt = parse_filter(text)
    assert isinstance(flt, Compare)
    assert (flt.value, type(flt.value)) == (value, type(value))
    assert (evaluate(flt, match), evaluate(flt, miss)) == (True, False)


def test_an_unknown_operator_is_an_invalid_filter_that_names_it() -> None:
    """RFC 7644 3.4.2.2: an unrecognised operation such as 'regex' is a 400 with scimType invalidFilter."""
    with pytest.raises(InvalidFilter) as caught:
        parse_filter('userName regex "J"')
    assert caught.value.scim_type == "invalidFilter"
    assert "'regex'" in caught.value.detail


@pytest.mark.parametrize("text", ["active gt true", "active ge 1"])
def test_ordering_a_boolean_is_an_invalid_filter(text: str) -> None:
    """RFC 7644 3.4.2.2, Table 3: gt, ge, lt and le on a Boolean SHALL fail with invalidFilter."""
    with pytest.raises(InvalidFilter) as caught:
        evaluate(parse_filter(text), ENTERPRISE_USER_8_3)
    assert caught.value.scim_type == "invalidFilter"


# --- RFC 7644 section 3.10: attribute notation ----------------------------------------------------

NOTATION = [
    pytest.param(
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        Path(CORE_USER, "userName", None, None),
        {"userName": "babs"},
        id="core-urn-userName",
    ),
    pytest.param(
        "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
        Path(CORE_USER, "name", None, "givenName"),
        {"name": {**FULL_USER["name"], "givenName": "babs"}},
        id="core-urn-name.givenName",
    ),
    pytest.param(
        "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:NAME.GIVENNAME",
        Path("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER", "NAME", None, "GIVENNAME"),
        {"name": {**FULL_USER["name"], "givenName": "babs"}},
        id="every-facet-is-case-insensitive",
    ),
]


@pytest.mark.parametrize(("text", "parsed", "changed"), NOTATION)
def test_fully_qualified_names_address_the_core_attributes(
    text: str, parsed: Path, changed: dict[str, Any]
) -> None:
    """RFC 7644 3.10: "{urn}:{Attribute name}.{Sub-Attribute name}", all facets case insensitive."""
    assert parse_path(text) == parsed
    document = canonical(FULL_USER, USER)
    assert patched(document, {"op": "replace", "path": text, "value": "babs"}) == {**document, **changed}
    assert evaluate(parse_filter(f'{text} eq "babs"'), {**FULL_USER, **changed})


def test_an_attribute_of_an_unknown_extension_is_reported_and_left_alone() -> None:
    """RFC 7644 3.10's "urn:ietf:params:scim:schemas:exampleCo:2.0:hr:age": parsed, and since no schema
    here defines it, reported as ignored like any unknown attribute, not an error."""
    text = "urn:ietf:params:scim:schemas:exampleCo:2.0:hr:age"
    assert parse_path(text) == Path("urn:ietf:params:scim:schemas:exampleCo:2.0:hr", "age", None, None)
    document = canonical(FULL_USER, USER)
    result = apply_patch(document, operations({"op": "add", "path": text, "value": 42}), USER)
    assert (result.document, result.ignored) == (document, (text,))


# --- RFC 7644 section 3.5.2: PATCH paths ----------------------------------------------------------

BABS_EQ = cmp("value", "eq", BABS_ID)
FIGURE_8 = [
    ('"path":"members"', Path(None, "members", None, None)),
    ('"path":"name.familyName"', Path(None, "name", None, "familyName")),
    ('"path":"addresses[type eq \\"work\\"]"', Path(None, "addresses", cmp("type", "eq", "work"), None)),
    (f'"path":"members[value eq \\"{BABS_ID}\\"]"', Path(None, "members", BABS_EQ, None)),
    (
        f'"path":"members[value eq \\"{BABS_ID}\\"].displayName"',
        Path(None, "members", BABS_EQ, "displayName"),
    ),
]


@pytest.mark.parametrize(("member", "parsed"), FIGURE_8)
def test_each_example_path_of_figure_8_parses(member: str, parsed: Path) -> None:
    """RFC 7644 3.5.2, Figure 8 (``PATH = attrPath / valuePath [subAttr]``, Figure 7), JSON as printed."""
    assert parse_path(json.loads("{" + member + "}")["path"]) == parsed


def test_adding_an_extension_attribute_adds_the_extension_schema() -> None:
    """RFC 7644 3.5.2: adding "urn:...:enterprise:2.0:User:employeeNumber" adds the extension's URN to
    "schemas"; the rendered resource lists it because the document now holds the extension."""
    document = patched(
        canonical(FULL_USER, USER),
        {"op": "add", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "701984"},
    )
    assert document[ENTERPRISE_USER] == {"employeeNumber": "701984"}
    body = resource(USER, "User", BABS_ID, document, location="l", created=None, last_modified=None)
    assert body["schemas"] == [CORE_USER, ENTERPRISE_USER]


# --- RFC 7644 section 3.5.2.1: add ----------------------------------------------------------------

ADD_MEMBER = """{ "schemas":
   ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations":[
    {
     "op":"add",
     "path":"members",
     "value":[
      {
        "display": "Babs Jensen",
        "$ref":
"https://example.com/v2/Users/2819c223...413861904646",
        "value": "2819c223-7f76-453a-919d-413861904646"
      }
     ]
    }
  ]
}"""


def test_adding_a_member_who_is_one_already_changes_nothing() -> None:
    """RFC 7644 3.5.2.1, "how to add a member to a group", on RFC 7643 8.4's group, where Babs is a member
    already: "no changes should be made to the resource" (her $ref is printed shortened, but she is the
    same value)."""
    group = canonical(TOUR_GUIDES, GROUP)
    assert apply_body(group, ADD_MEMBER, GROUP) == group


def test_adding_a_member_appends_the_value() -> None:
    """RFC 7644 3.5.2.1, "how to add a member to a group", on RFC 7643 8.4's group without Babs."""
    group = canonical(variant(TOUR_GUIDES, members=[MANDY]), GROUP)
    babs = {
        "display": "Babs Jensen",
        "$ref": "https://example.com/v2/Users/2819c223...413861904646",
        "value": BABS_ID,
    }
    assert apply_body(group, ADD_MEMBER, GROUP) == {"displayName": "Tour Guides", "members": [MANDY, babs]}


ADD_WITHOUT_PATH = """{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
     "Operations":[{
       "op":"add",
       "value":{
         "emails":[
           {
             "value":"babs@jensen.org",
             "type":"home"
           }
         ],
         "nickname":"Babs"
     }}]
   }"""  # the RFC drops the "}" that closes the operation (Errata ID 8096); restored here

ADD_WITHOUT_PATH_CASES = [
    pytest.param(
        MINIMAL_USER,
        {"userName": "bjensen@example.com", "emails": [HOME_EMAIL], "nickName": "Babs"},
        id="the-attributes-are-added",
    ),
    pytest.param(
        variant(MINIMAL_USER, emails=[WORK_EMAIL], nickName="Barbie"),
        {"userName": "bjensen@example.com", "emails": [WORK_EMAIL, HOME_EMAIL], "nickName": "Babs"},
        id="an-email-is-appended-and-an-existing-nickname-replaced",
    ),
    pytest.param(FULL_USER, canonical(FULL_USER, USER), id="values-already-there-change-nothing"),
]


@pytest.mark.parametrize(("user", "expected"), ADD_WITHOUT_PATH_CASES)
def test_add_without_a_path_adds_each_attribute_of_the_value(
    user: dict[str, Any], expected: dict[str, Any]
) -> None:
    """RFC 7644 3.5.2.1, "how to add one or more attributes to a User resource without using a path":
    another email is added; "nickname" (any case names nickName, RFC 7643 2.1) is added or replaced."""
    assert apply_body(canonical(user, USER), ADD_WITHOUT_PATH, USER) == expected


# --- RFC 7644 section 3.5.2.2: remove -------------------------------------------------------------

REMOVE_MEMBER = """{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
     "Operations":[{
       "op":"remove",
       "path":"members[value eq \\"2819c223-7f76-...413861904646\\"]"
     }]
   }"""

REMOVE_ALL_MEMBERS = """{ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
     "Operations":[{
       "op":"remove","path":"members"
     }]
   }"""

REMOVE_WORK_EMAIL = """{
  "schemas":
   ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
  "op":"remove",
  "path":"emails[type eq \\"work\\" and value ew \\"example.com\\"]"
  }]
}"""

# As printed, with no space between eq and the value: the parser does not insist on the ABNF's SP.
REMOVE_AND_ADD_MEMBER = """{ "schemas":
    ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [
    {
      "op":"remove",
      "path":
        "members[value eq\\"2819c223...919d-413861904646\\"]"
    },
    {
      "op":"add",
      "path":"members",
      "value": [
        {
          "display": "James Smith",
          "$ref":
"https://example.com/v2/Users/08e1d05d...473d93df9210",
          "value": "08e1d05d...473d93df9210"
        }
      ]
    }
  ]
}"""

REPLACE_MEMBERS_BY_REMOVE_AND_ADD = """{
  "schemas":
    ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [
    {
      "op":"remove","path":"members"
    },
    {
      "op":"add",
      "path":"members",
      "value":[
      {
        "display": "Babs Jensen",
        "$ref":
"https://example.com/v2/Users/2819c223...413861904646",
        "value": "2819c223-7f76-453a-919d-413861904646"
      },
      {
        "display": "James Smith",
        "$ref":
"https://example.com/v2/Users/08e1d05d...473d93df9210",
        "value": "08e1d05d-121c-4561-8b96-473d93df9210"
      }]
    }
  ]
}"""

JAMES = {"display": "James Smith", "$ref": "https://example.com/v2/Users/08e1d05d...473d93df9210"}
SHORT_BABS = "2819c223...919d-413861904646"

REMOVE_CASES = [
    pytest.param(
        TOUR_GUIDES,
        REMOVE_MEMBER,
        GROUP,
        {"displayName": "Tour Guides", "members": [BABS, MANDY]},
        id="a-single-member-with-the-id-shortened-as-printed-matches-no-member-so-nothing-changes",
    ),
    pytest.param(
        TOUR_GUIDES,
        REMOVE_MEMBER.replace("2819c223-7f76-...413861904646", BABS_ID),
        GROUP,
        {"displayName": "Tour Guides", "members": [MANDY]},
        id="a-single-member-with-the-id-in-full",
    ),
    pytest.param(
        TOUR_GUIDES, REMOVE_ALL_MEMBERS, GROUP, {"displayName": "Tour Guides"}, id="all-members-leaves-none"
    ),
    pytest.param(
        FULL_USER,
        REMOVE_WORK_EMAIL,
        USER,
        {**canonical(FULL_USER, USER), "emails": [HOME_EMAIL]},
        id="a-value-of-a-complex-multi-valued-attribute",
    ),
    pytest.param(
        TOUR_GUIDES,
        REMOVE_AND_ADD_MEMBER,
        GROUP,
        {
            "displayName": "Tour Guides",
            "members": [BABS, MANDY, {**JAMES, "value": "08e1d05d...473d93df9210"}],
        },
        id="remove-and-add-with-the-id-shortened-as-printed-only-adds",
    ),
    pytest.param(
        TOUR_GUIDES,
        REMOVE_AND_ADD_MEMBER.replace(SHORT_BABS, BABS_ID),
        GROUP,
        {"displayName": "Tour Guides", "members": [MANDY, {**JAMES, "value": "08e1d05d...473d93df9210"}]},
        id="remove-and-add-with-the-id-in-full",
    ),
    pytest.param(
        TOUR_GUIDES,
        REPLACE_MEMBERS_BY_REMOVE_AND_ADD,
        GROUP,
        {
            "displayName": "Tour Guides",
            "members": [
                {
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/2819c223...413861904646",
                    "value": BABS_ID,
                },
                {**JAMES, "value": "08e1d05d-121c-4561-8b96-473d93df9210"},
            ],
        },
        id="replace-all-members-by-remove-then-add",
    ),
]


@pytest.mark.parametrize(("body", "text", "schema", "expected"), REMOVE_CASES)
def test_remove_examples(
    body: dict[str, Any], text: str, schema: ResourceSchema, expected: dict[str, Any]
) -> None:
    """RFC 7644 3.5.2.2's examples on RFC 7643 8.2's user and 8.4's group: matched values go, a filter
    that matches nothing changes nothing ("If the user was not a member of this group, no changes"),
    and an attribute left without values is unassigned."""
    assert apply_body(canonical(body, schema), text, schema) == expected


def test_the_remove_and_add_example_parses_without_a_space_after_eq() -> None:
    """RFC 7644 3.5.2.2 prints ``members[value eq"2819c223..."]``; the ABNF wants a space, the parser
    does not, so the example reads as meant."""
    ops = normalize_patch(json.loads(REMOVE_AND_ADD_MEMBER), GROUP)
    assert ops[0].path == Path(None, "members", cmp("value", "eq", SHORT_BABS), None)


# --- RFC 7644 section 3.5.2.3: replace ------------------------------------------------------------

REPLACE_MEMBERS = """{
  "schemas":
    ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op":"replace",
    "path":"members",
    "value":[
      {
        "display": "Babs Jensen",
        "$ref":
"https://example.com/v2/Users/2819c223...413861904646",
        "value": "2819c223...413861904646"
      },
      {
        "display": "James Smith",
        "$ref":
"https://example.com/v2/Users/08e1d05d...473d93df9210",
        "value": "08e1d05d...473d93df9210"
      }
    ]
  }]
}"""

REPLACE_WORK_ADDRESS = """{
  "schemas":
    ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op":"replace",
    "path":"addresses[type eq \\"work\\"]",
    "value":
    {
      "type": "work",
      "streetAddress": "911 Universal City Plaza",
      "locality": "Hollywood",
      "region": "CA",
      "postalCode": "91608",
      "country": "US",
      "formatted":
"911 Universal City Plaza\\nHollywood, CA 91608 US",
      "primary": true
    }
  }]
}"""

REPLACE_STREET_ADDRESS = """{
  "schemas":
    ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op":"replace",
    "path":"addresses[type eq \\"work\\"].streetAddress",
    "value":"1010 Broadway Ave"
  }]
}"""

REPLACE_WITHOUT_PATH = """{
  "schemas":
    ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
  "Operations": [{
    "op":"replace",
    "value":{
      "emails":[
        {
          "value":"bjensen@example.com",
          "type":"work",
          "primary":true
        },
        {
          "value":"babs@jensen.org",
          "type":"home"
        }
      ],
      "nickname":"Babs"
  }}]
}"""  # the RFC drops the "}" that closes the operation, as in 3.5.2.1's path-less example; restored

NEW_WORK_ADDRESS = {
    "type": "work",
    "streetAddress": "911 Universal City Plaza",
    "locality": "Hollywood",
    "region": "CA",
    "postalCode": "91608",
    "country": "US",
    "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
    "primary": True,
}
HOME_NOT_PRIMARY = {k: v for k, v in HOME_ADDRESS.items() if k != "primary"}

REPLACE_CASES = [
    pytest.param(
        TOUR_GUIDES,
        REPLACE_MEMBERS,
        GROUP,
        {
            "displayName": "Tour Guides",
            "members": [
                {
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/2819c223...413861904646",
                    "value": "2819c223...413861904646",
                },
                {**JAMES, "value": "08e1d05d...473d93df9210"},
            ],
        },
        id="all-members-in-one-operation",
    ),
    pytest.param(
        FULL_USER,
        REPLACE_WORK_ADDRESS,
        USER,
        {**canonical(FULL_USER, USER), "addresses": [NEW_WORK_ADDRESS, HOME_ADDRESS]},
        id="the-work-address-by-a-value-path",
    ),
    pytest.param(
        variant(FULL_USER, addresses=[WORK_ADDRESS, {**HOME_ADDRESS, "primary": True}]),
        REPLACE_WORK_ADDRESS,
        USER,
        {**canonical(FULL_USER, USER), "addresses": [NEW_WORK_ADDRESS, HOME_NOT_PRIMARY]},
        id="the-work-address-made-primary-resets-the-other-primary",
    ),
    pytest.param(
        FULL_USER,
        REPLACE_STREET_ADDRESS,
        USER,
        {
            **canonical(FULL_USER, USER),
            "addresses": [{**WORK_ADDRESS, "streetAddress": "1010 Broadway Ave"}, HOME_ADDRESS],
        },
        id="a-sub-attribute-of-the-work-address",
    ),
    pytest.param(
        PUT_USER,
        REPLACE_WITHOUT_PATH,
        USER,
        {**canonical(PUT_USER, USER), "emails": [WORK_EMAIL, HOME_EMAIL], "nickName": "Babs"},
        id="without-a-path-the-named-attributes-and-no-others",
    ),
]


@pytest.mark.parametrize(("body", "text", "schema", "expected"), REPLACE_CASES)
def test_replace_examples(
    body: dict[str, Any], text: str, schema: ResourceSchema, expected: dict[str, Any]
) -> None:
    """RFC 7644 3.5.2.3's examples on RFC 7643 8.2's user, 8.4's group and RFC 7644 3.5.1's user; making
    the work address primary resets "primary" on the others (RFC 7644 3.5.2, and the example's note)."""
    assert apply_body(canonical(body, schema), text, schema) == expected


# --- the errors RFC 7644 sections 3.5.2 to 3.5.2.3 name -------------------------------------------

MEMBER = f'members[value eq "{BABS_ID}"]'
MANAGER_NAME = f"{ENTERPRISE_USER}:manager.displayName"

ERROR_CASES = [
    pytest.param(
        TOUR_GUIDES,
        GROUP,
        {"op": "remove"},
        NoTarget,
        "remove needs a path",
        id="3.5.2.2-remove-without-a-path",
    ),
    pytest.param(
        FULL_USER,
        USER,
        {"op": "remove", "path": "id"},
        Mutability,
        "id is read-only",
        id="3.5.2.2-remove-read-only",
    ),
    pytest.param(
        FULL_USER,
        USER,
        {"op": "replace", "path": "meta.lastModified", "value": WHEN},
        Mutability,
        "meta is read-only",
        id="3.5.2-replace-read-only",
    ),
    pytest.param(
        ENTERPRISE_USER_8_3,
        USER,
        {"op": "replace", "path": MANAGER_NAME, "value": "Jim Smith"},
        Mutability,
        "manager.displayName is read-only",
        id="3.5.2-replace-a-read-only-sub-attribute",
    ),
    pytest.param(
        TOUR_GUIDES,
        GROUP,
        {"op": "replace", "path": f"{MEMBER}.display", "value": "Barbara Jensen"},
        Mutability,
        "members.display is read-only",
        id="3.5.2-replace-a-read-only-sub-attribute-by-a-value-path",
    ),
    pytest.param(
        TOUR_GUIDES,
        GROUP,
        {"op": "replace", "path": f"{MEMBER}.value", "value": MANDY_ID},
        Mutability,
        "members.value is immutable",
        id="3.5.2-replace-an-immutable-value",
    ),
    pytest.param(
        TOUR_GUIDES,
        GROUP,
        {"op": "replace", "path": "members.value", "value": MANDY_ID},
        Mutability,
        "members.value is immutable",
        id="3.5.2-replace-an-immutable-value-of-every-member",
    ),
    pytest.param(
        TOUR_GUIDES,
        GROUP,
        {"op": "replace", "path": f"{MEMBER}.displayName", "value": "Barbara Jensen"},
        InvalidPath,
        "members has no sub-attribute 'displayName'",
        id="3.5.2-figure-8-displayName-is-no-sub-attribute-of-members",
    ),
    pytest.param(
        MINIMAL_USER,
        USER,
        {"op": "replace", "path": 'addresses[type eq "work" and region ew "CA"].streetAddress', "value": "x"},
        NoTarget,
        "no value matches the filter",
        id="3.5.2.3-a-value-path-that-matches-nothing",
    ),
]


@pytest.mark.parametrize(("body", "schema", "operation", "error", "detail"), ERROR_CASES)
def test_operations_the_rfc_forbids_fail_with_its_scim_type(
    body: dict[str, Any],
    schema: ResourceSchema,
    operation: dict[str, Any],
    error: type[ScimError],
    detail: str,
) -> None:
    """noTarget, mutability and invalidPath where RFC 7644 3.5.2, 3.5.2.2 and 3.5.2.3 name them: no path
    on remove, a readOnly attribute, an immutable value that has one (3.5.2: "MUST NOT modify"), a path
    that names no attribute (Figure 8's members[...].displayName: RFC 7643 4.2 calls it "display"), and a
    value filter that matches nothing."""
    with pytest.raises(error) as caught:
        patched(canonical(body, schema), operation, schema=schema)
    assert caught.value.scim_type == error.scim_type
    assert detail in caught.value.detail


def test_an_immutable_sub_attribute_without_a_value_may_be_added() -> None:
    """RFC 7644 3.5.2: "a client MAY add a value to an immutable attribute if the attribute had no
    previous value": members.type of a member that has none."""
    group = canonical(TOUR_GUIDES, GROUP)
    document = patched(group, {"op": "add", "path": f"{MEMBER}.type", "value": "User"}, schema=GROUP)
    assert document == {**group, "members": [{**BABS, "type": "User"}, MANDY]}


def test_a_value_path_that_matches_nothing_but_describes_a_value_creates_it() -> None:
    """RFC 7644 3.5.2.3 says noTarget when a value path matches nothing. Deliberately, an equality filter
    instead creates the value it describes, as Entra expects of emails[type eq "work"].value (quirk Q6 in
    bridge.scim.compat); the 3.5.2.3 example path on RFC 7643 8.1's user, which has no address, shows it."""
    document = patched(
        canonical(MINIMAL_USER, USER),
        {"op": "replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1010 Broadway Ave"},
    )
    assert document == {
        "userName": "bjensen@example.com",
        "addresses": [{"type": "work", "streetAddress": "1010 Broadway Ave"}],
    }
