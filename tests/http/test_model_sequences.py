"""Seeded random sequences of POST, PUT, PATCH, GET and DELETE on users and groups, against the
in-memory directory, checked after every step against a reference model of RFC 7644 over the default
map (issue 15, point 3; ``bridge.testing.scim_model`` says what is modelled). A failure names the
seed, the step, the request, both answers and their difference, and the command that replays it;
``python -m bench.model_run`` runs more and longer ones.
"""

from __future__ import annotations

import pytest

from bridge.testing.scim_model.run import Sequence
from bridge.testing.scim_model.stored import StoredMap
from tests.conftest import OPENLDAP_MAP, ScimClient

SEEDS = range(1, 11)
STEPS = 100


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_sequence_of_requests_reads_back_as_the_rfc_model_says(
    client: ScimClient, seed: int
) -> None:
    sequence = Sequence(client, StoredMap.load(OPENLDAP_MAP), seed, label="the in-memory directory")
    ran = sequence.run(STEPS)
    # Every step sent its request and read back what it touched, and the final sweep read everything.
    assert ran.requests > 2 * STEPS
