"""Entra's recorded flows (``bridge/ops/selftest/flows``), replayed against the real server and slapd.

Each step's answer is checked, the entries in slapd through an ldap3 connection of the test's own, and
the number of directory writes from the bridge's audit log lines: an identical second cycle writes
nothing. ``scim-ldap-bridge selftest`` replays the same flows (tests/integration/test_selftest.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from bridge.ops.selftest import Flow, flows, replay
from tests.e2e.conftest import Bridge
from tests.slapd_fixtures import Inspector, Subtree

FLOWS = flows()


@pytest.mark.parametrize("flow", FLOWS, ids=[flow.name for flow in FLOWS])
def test_an_entra_flow_replays_with_the_expected_answers_and_directory_state(
    flow: Flow, bridge: Bridge, inspector: Inspector, ldap_subtree: Subtree
) -> None:
    def call(method: str, path: str, body: Any) -> tuple[int, Any]:
        status, answer, _ = bridge.call(method, path, body)
        return status, answer

    def seed(parent: str, rdn: tuple[str, str], attributes: Mapping[str, Any]) -> None:
        inspector.add(f"{rdn[0]}={rdn[1]},{parent}", dict(attributes))

    def writes() -> int:
        return sum(1 for line in bridge.log_lines() if line["logger"] == "bridge.audit")

    names = {"user_base": ldap_subtree.user_base, "group_base": ldap_subtree.group_base}
    steps = list(replay(flow, call=call, read=inspector.entry, seed=seed, writes=writes, names=names))
    assert len(steps) == len(flow.data["steps"])
