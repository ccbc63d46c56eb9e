"""The seeded request sequences of ``tests/http/test_model_sequences.py`` against a real slapd (its
memberof, refint and ppolicy overlays, its syntaxes and matching rules), shorter: the same model must
agree after every step (issue 15, point 3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bridge.testing.scim_model.run import Sequence
from bridge.testing.scim_model.stored import StoredMap
from tests.conftest import OPENLDAP_MAP, ScimClient

pytestmark = pytest.mark.slapd

SEEDS = range(1, 5)
STEPS = 50


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_sequence_of_requests_reads_back_from_slapd_as_the_rfc_model_says(
    ldap_client: Callable[..., ScimClient], seed: int
) -> None:
    sequence = Sequence(
        ldap_client(),
        StoredMap.load(OPENLDAP_MAP),
        seed,
        label="slapd",
        replay="--directory slapd",
    )
    ran = sequence.run(STEPS)
    assert ran.requests > 2 * STEPS
