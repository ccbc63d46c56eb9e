"""The one translation of directory refusals (``bridge.services.refusals.client_error``): a refusal of the
values sent is a 400 naming the attribute, in the directory's words without the DN; and the size of an
entry's name, as slapd counts it (``rdn_index_bytes``), checked before the write."""

from __future__ import annotations

import pytest

from bridge.directory.errors import (
    ConstraintViolation,
    DirectoryError,
    DirectoryUnavailable,
    InsufficientAccess,
)
from bridge.mapping.engine import ResourceMapping
from bridge.mapping.model import MapSet
from bridge.scim.errors import Forbidden, InvalidValue, Uniqueness
from bridge.services.naming import RDN_INDEX_BYTES, check_rdn, rdn_index_bytes
from bridge.services.refusals import client_error

DN = "cn=" + "x" * 5000 + ",ou=people,ou=t1,dc=example,dc=test"


@pytest.fixture
def users(maps: MapSet) -> ResourceMapping:
    return ResourceMapping(maps.user)


@pytest.mark.parametrize(
    ("refusal", "detail"),
    [
        pytest.param(
            ConstraintViolation(
                f"add {DN}: invalidAttributeSyntax (0000200B: objectclass_attrs: attribute 'title' on "
                f"entry '{DN}' contains at least one invalid value!)"
            ),
            "the directory refused the change to title (title): invalidAttributeSyntax (0000200B: "
            "objectclass_attrs: attribute 'title' on entry '…' contains at least one invalid value!)",
            id="samba-names-the-attribute-and-the-dn-is-left-out",
        ),
        pytest.param(
            ConstraintViolation(
                "add uid=ph,ou=people: invalidAttributeSyntax (telephoneNumber: value #0 invalid per syntax)"
            ),
            'the directory refused the change to phoneNumbers[type eq "work"].value (telephoneNumber): '
            "invalidAttributeSyntax (telephoneNumber: value #0 invalid per syntax)",
            id="slapd-names-the-attribute",
        ),
        pytest.param(
            ConstraintViolation(
                "modify cn=x: constraintViolation (00002082: AtrErr: DSID-03151904, #1: 0: 00002082: "
                "DSID-03151904, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 90290 (title))"
            ),
            "the directory refused the change to title (title): constraintViolation (00002082: AtrErr: "
            "DSID-03151904, #1: 0: 00002082: DSID-03151904, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, "
            "Att 90290 (title))",
            id="active-directory-names-it-by-att",
        ),
        pytest.param(
            DirectoryError("rename uid=a,ou=people: invalidDNSyntax (invalid new RDN)"),
            "the directory refused the change to userName (uid): invalidDNSyntax (invalid new RDN)",
            id="a-refused-name-is-the-naming-attribute",
        ),
        pytest.param(
            DirectoryError("modify uid=a,ou=people: adminLimitExceeded"),
            "the directory refused the change: adminLimitExceeded",
            id="an-administrative-limit",
        ),
        pytest.param(
            # A value in the DN that looks like a result: the last one is the directory's.
            ConstraintViolation(
                "add uid=a: invalidDNSyntax (x),ou=people: objectClassViolation (attribute 'scimExternalId' "
                "not allowed)"
            ),
            "the directory refused the change to externalId (scimExternalId): objectClassViolation "
            "(attribute 'scimExternalId' not allowed)",
            id="the-last-result-counts",
        ),
    ],
)
def test_a_refusal_of_the_values_is_a_400_naming_the_attribute(
    users: ResourceMapping, refusal: DirectoryError, detail: str
) -> None:
    error = client_error(refusal, users)
    assert isinstance(error, InvalidValue)
    assert error.detail == detail


def test_a_detail_is_short_whatever_the_directory_says(users: ResourceMapping) -> None:
    error = client_error(ConstraintViolation(f"add {DN}: constraintViolation ({'y' * 5000})"), users)
    assert isinstance(error, InvalidValue) and len(error.detail) == 300 and error.detail.endswith("…")
    assert "x" * 50 not in error.detail  # the DN, which repeats the value, is not in it


@pytest.mark.parametrize(
    "error",
    [
        DirectoryError("add uid=a,ou=people: other"),
        DirectoryError("add uid=invalidDNSyntax,ou=people: operationsError"),
        DirectoryUnavailable("add uid=a: unavailable (invalidDNSyntax)"),
    ],
    ids=["other", "a-result-name-inside-the-dn", "unavailable"],
)
def test_other_failures_pass_through(users: ResourceMapping, error: DirectoryError) -> None:
    assert client_error(error, users) is error


def test_duplicates_and_rights_keep_their_statuses(users: ResourceMapping) -> None:
    assert isinstance(client_error(ConstraintViolation("add x: non-unique attributes found")), Uniqueness)
    assert isinstance(client_error(InsufficientAccess("modify x: insufficientAccessRights")), Forbidden)


@pytest.mark.parametrize(
    ("unit", "longest"),
    # Measured against slapd 2.5 (back-mdb): the most of each that uid= holds.
    [("a", 241), ("\u00e9", 120), ("\U0001f600", 60), (",", 80), ("#", 239), ("\u00df", 120), ("\ufdfa", 7)],
    ids=["ascii", "latin", "astral", "escaped", "leading-hash", "sharp-s", "expands-when-normalized"],
)
def test_the_name_size_is_the_one_slapd_counts(unit: str, longest: int) -> None:
    """The sizes measured against the real slapd by test_value_limits, pinned: ``longest`` fits, one more
    does not (for U+FDFA after 100 letters, which normalizes to 18 characters)."""
    prefix = "a" * 100 if unit == "\ufdfa" else ""
    assert rdn_index_bytes(("uid", prefix + unit * longest)) <= RDN_INDEX_BYTES
    assert rdn_index_bytes(("uid", prefix + unit * (longest + 1))) > RDN_INDEX_BYTES


def test_a_name_too_long_is_refused_before_the_write_naming_the_attribute(users: ResourceMapping) -> None:
    check_rdn(("uid", "a" * 241), users)
    with pytest.raises(InvalidValue) as refused:
        check_rdn(("uid", "a" * 242), users)
    assert refused.value.detail.startswith("userName (uid) is too long to name a directory entry")
    assert "about 241 ASCII letters" in refused.value.detail
