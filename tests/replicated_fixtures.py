"""pytest plugin: two slapd providers replicating each other, for the whole session.

* ``replicated_slapd`` (session): a started :class:`~bridge.testing.replicated.ReplicatedPair` (``.info.a``,
  ``.info.b``, ``.info.urls``, ``.wait_converged()``) with the scim-bridge schema and StartTLS, the one
  certificate of both in ``.info.a.ca_file``. Started only by the tests that ask for it.
* :func:`replicated_subtree`: a test's own subtree, made on provider a and on b once it has arrived there,
  and removed afterwards from both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bridge.testing.replicated import ReplicatedPair
from bridge.testing.slapd import default_schema_path
from tests.slapd_fixtures import Subtree, make_subtree

__all__ = ["replicated_slapd", "replicated_subtree"]


@pytest.fixture(scope="session")
def replicated_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedPair]:
    """Providers a and b in multi-provider replication, converged; stopped at the end of the session."""
    pair = ReplicatedPair(tmp_path_factory.mktemp("replicated"), extra_schema=[default_schema_path()])
    with pair:
        yield pair


@contextmanager
def replicated_subtree(pair: ReplicatedPair) -> Iterator[Subtree]:
    """A fresh subtree on both providers (written on a, present on b when this yields); removed after."""
    with make_subtree(pair.info.a) as subtree:
        pair.wait_converged()
        yield subtree
    pair.wait_converged()  # the removal too, so the next test starts from providers that agree
