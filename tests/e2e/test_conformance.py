"""The third-party checker scim2-tester (python-scim) against the real server on a real slapd, over
Users and Groups (issue #6): every check passes but the ones the README lists with their RFC reasoning."""

from __future__ import annotations

import re

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.conftest import TOKEN
from tests.e2e.conftest import Bridge

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# README, "Conformance": the checker sends random manager ids; the bridge refuses an id that names no
# user (RFC 7643 4.3: manager.value is the manager's id) instead of writing a dangling DN.
LISTED = re.compile(r"manager")


def test_scim2_tester_passes_every_check_but_the_listed_ones(bridge: Bridge) -> None:
    client = SyncSCIMClient(
        Client(base_url=bridge.url + "/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    )
    results = check_server(client)
    failed = [r for r in results if r.status not in PASSED]
    unexpected = [
        f"{r.status.name} {r.title} [{r.resource_type}]: {r.reason}"
        for r in failed
        if not LISTED.search(f"{r.reason} {r.data}")
    ]
    assert not unexpected, "\n".join(unexpected)
    passed = [r for r in results if r.status in PASSED]
    titles = {r.title for r in passed}
    assert len(passed) >= 78 and {"query_all_schemas", "query_all_resource_types"} <= titles
    assert {r.resource_type for r in passed} >= {"User", "Group"}
    assert len(failed) <= 9, [f"{r.title}: {r.reason}" for r in failed]
