"""Request bodies shared by the test tiers, named after the client or document that shows them."""

from __future__ import annotations

from typing import Any

from bridge.scim.schemas import CORE_USER, ENTERPRISE_USER

# Entra's documented user create, legacy engine [D1].
ENTRA_POST: dict[str, Any] = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "externalId": "alice",
    "userName": "alice@contoso.com",
    "active": True,
    "displayName": "Alice Adams",
    "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Alice Adams", "familyName": "Adams", "givenName": "Alice"},
    "title": "Engineer",
    ENTERPRISE_USER: {"employeeNumber": "10042", "department": "R&D"},
    "roles": [],
}

# Every row of config/maps/openldap.yaml, with the case and formats a real tenant has.
EVERY_ROW: dict[str, Any] = {
    "userName": "Jane.Doe@Contoso.com",
    "externalId": "3F1E-abc-0042",
    "name": {"givenName": "Jane", "familyName": "de la Doe", "formatted": "Jane de la Doe"},
    "displayName": "Jane DOE",
    "title": "VP, R&D",
    "preferredLanguage": "en-US",
    "emails": [{"type": "work", "value": "Jane.Doe@Contoso.com"}],
    "phoneNumbers": [
        {"type": "work", "value": "+1 (555) 010-0000"},
        {"type": "mobile", "value": "+44 7700 900123"},
        {"type": "fax", "value": "555.010.0001 ext. 2"},
    ],
    "addresses": [
        {
            "type": "work",
            "streetAddress": "1 Main St.",
            "locality": "Springfield",
            "region": "IL",
            "postalCode": "62701-0001",
            "formatted": "1 Main St.\nSpringfield, IL 62701",
        }
    ],
    ENTERPRISE_USER: {
        "employeeNumber": "007",
        "department": "R&D",
        "organization": "Contoso Ltd.",
        "costCenter": "CC-4711",
        "division": "Research",
    },
    "active": True,
}
