"""Discovery (RFC 7644 section 4): what /ServiceProviderConfig, /ResourceTypes and /Schemas advertise is
generated from the map, so it is exactly what works (issue #6, point 3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from bridge.http.resources import MAX_COUNT
from bridge.mapping.model import MapSet, ResourceMap
from bridge.scim.schemas import CORE_GROUP, CORE_USER, ENTERPRISE_USER
from tests.conftest import SCIM, ScimClient

SCHEMAS = f"{SCIM}/Schemas"


def attributes(client: ScimClient, urn: str) -> dict[str, dict[str, Any]]:
    response = client.simulate_get(f"{SCHEMAS}/{urn}")
    assert response.status_code == 200, response.json
    return {a["name"]: a for a in response.json["attributes"]}


def test_the_service_provider_config_says_what_the_bridge_supports(client: ScimClient) -> None:
    """RFC 7643 section 5: PATCH, filters (with the real page maximum) and ETags yes, bulk and sort no,
    and the bearer token as the authentication scheme."""
    response = client.simulate_get(f"{SCIM}/ServiceProviderConfig")
    assert response.status_code == 200 and response.headers["content-type"] == "application/scim+json"
    config = response.json
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": MAX_COUNT}
    assert config["bulk"]["supported"] is False and config["sort"] == {"supported": False}
    assert config["etag"] == {"supported": True}
    assert config["changePassword"] == {"supported": True}  # the OpenLDAP map hashes it into userPassword
    assert [s["type"] for s in config["authenticationSchemes"]] == ["oauthbearertoken"]
    assert config["meta"]["location"] == f"http://falconframework.org{SCIM}/ServiceProviderConfig"


def test_resource_types_name_their_endpoints_schemas_and_extensions(client: ScimClient) -> None:
    listed = client.simulate_get(f"{SCIM}/ResourceTypes").json
    assert listed["totalResults"] == 2
    user, group = listed["Resources"]
    assert (user["id"], user["endpoint"], user["schema"]) == ("User", "/Users", CORE_USER)
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE_USER, "required": False}]
    assert (group["id"], group["endpoint"], group["schema"]) == ("Group", "/Groups", CORE_GROUP)
    assert client.simulate_get(f"{SCIM}/ResourceTypes/user").json["id"] == "User"  # any case


def test_the_user_schema_lists_exactly_the_mapped_attributes_and_sub_attributes(client: ScimClient) -> None:
    user = attributes(client, CORE_USER)
    assert "userName" in user and "emails" in user and "active" in user and "groups" in user
    assert "nickName" not in user and "ims" not in user and "x509Certificates" not in user  # not stored
    assert "id" not in user and "externalId" not in user  # common attributes (RFC 7643 8.7.1)
    assert user["userName"]["uniqueness"] == "server" and user["userName"]["required"] is True
    assert "uid" in user["userName"]["description"]
    name_subs = {s["name"] for s in user["name"]["subAttributes"]}
    assert name_subs == {"givenName", "familyName", "formatted"}
    # What the directory always holds is required (a PATCH cannot remove it); the rest is not.
    required = {s["name"] for s in user["name"]["subAttributes"] if s["required"]}
    assert required == {"familyName", "formatted"} and user["name"]["required"] is True
    assert user["active"]["required"] is True and user["title"]["required"] is False
    (email_type,) = [s for s in user["emails"]["subAttributes"] if s["name"] == "type"]
    assert email_type["canonicalValues"] == ["work"]
    phone_types = [s for s in user["phoneNumbers"]["subAttributes"] if s["name"] == "type"]
    assert phone_types[0]["canonicalValues"] == ["fax", "mobile", "work"]
    assert (user["groups"]["mutability"], user["groups"]["returned"]) == ("readOnly", "request")
    assert user["password"]["returned"] == "never" and user["userName"]["returned"] == "default"
    assert {s["mutability"] for s in user["groups"]["subAttributes"]} == {"readOnly"}
    enterprise = attributes(client, ENTERPRISE_USER)
    assert set(enterprise) == {
        "employeeNumber",
        "department",
        "organization",
        "costCenter",
        "division",
        "manager",
    }
    assert [s["name"] for s in enterprise["manager"]["subAttributes"]] == ["value"]


def test_change_password_is_supported_exactly_when_the_map_stores_a_password(
    client: ScimClient,
    make_client: Callable[..., ScimClient],
    map_with: Callable[[dict[str, Any]], ResourceMap],
) -> None:
    """RFC 7643 section 5 ``changePassword``: the shipped OpenLDAP map hashes passwords into userPassword,
    and advertises ``password`` as writeOnly and never returned (RFC 7643 section 4.1.1)."""
    password = attributes(client, CORE_USER)["password"]
    assert (password["mutability"], password["returned"]) == ("writeOnly", "never")
    assert "userPassword" in password["description"]
    shipped = map_with({})
    without = replace(shipped, rules=tuple(r for r in shipped.rules if r.target.attribute.name != "password"))
    other = make_client(MapSet(without))
    config = other.simulate_get(f"{SCIM}/ServiceProviderConfig").json
    assert config["changePassword"] == {"supported": False}
    assert "password" not in attributes(other, CORE_USER)


def test_group_members_advertise_the_kinds_the_bridge_computes(client: ScimClient) -> None:
    members = attributes(client, CORE_GROUP)["members"]
    subs = {s["name"]: s for s in members["subAttributes"]}
    assert subs["type"]["mutability"] == "readOnly" and subs["type"]["canonicalValues"] == ["Group", "User"]
    assert subs["value"]["mutability"] == "immutable" and "member" in members["description"]


def test_a_users_only_map_without_the_enterprise_rows_advertises_neither(
    make_client: Callable[..., ScimClient], map_with: Callable[[dict[str, Any]], ResourceMap]
) -> None:
    shipped = map_with({})
    core_only = replace(shipped, rules=tuple(rule for rule in shipped.rules if rule.target.urn is None))
    assert len(core_only.rules) < len(shipped.rules)
    client = make_client(MapSet(core_only))
    types = client.simulate_get(f"{SCIM}/ResourceTypes").json["Resources"]
    assert [(t["id"], t["schemaExtensions"]) for t in types] == [("User", [])]
    listed = client.simulate_get(SCHEMAS).json
    assert [s["id"] for s in listed["Resources"]] == [CORE_USER] and listed["totalResults"] == 1
    assert "groups" not in attributes(client, CORE_USER)  # no /Groups, so no groups attribute
    missing = client.simulate_get(f"{SCHEMAS}/{ENTERPRISE_USER}")
    assert missing.status_code == 404 and CORE_USER in missing.json["detail"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("endpoint", ["ServiceProviderConfig", "ResourceTypes", "Schemas"])
def test_discovery_is_read_only(client: ScimClient, method: str, endpoint: str) -> None:
    """RFC 7644 section 4: these endpoints answer GET; anything else is a 405 SCIM error."""
    response = client.simulate_request(method, f"{SCIM}/{endpoint}", json={})
    assert response.status_code == 405
    assert response.json["status"] == "405" and method in response.json["detail"]


def test_every_advertised_user_attribute_can_be_filtered(client: ScimClient) -> None:
    """What is advertised works: a ``pr`` filter on each readable attribute and sub-attribute is
    answered (200), never refused as unknown."""
    paths = []
    for urn in (CORE_USER, ENTERPRISE_USER):
        prefix = f"{urn}:" if urn == ENTERPRISE_USER else ""
        for name, attribute in attributes(client, urn).items():
            if attribute["returned"] == "never" or name == "groups":
                continue
            subs = [s["name"] for s in attribute.get("subAttributes", [])]
            paths += [f"{prefix}{name}.{sub}" for sub in subs] or [f"{prefix}{name}"]
    assert len(paths) >= 12
    refused = {}
    for path in paths:
        response = client.simulate_get(f"{SCIM}/Users", params={"filter": f"{path} pr"})
        if response.status_code != 200:
            refused[path] = response.json["detail"]
    assert not refused
