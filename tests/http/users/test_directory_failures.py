"""Directory failures as SCIM errors without internals, and the directory clock behind meta.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.app import create_app, create_services
from bridge.directory.errors import ConstraintViolation, DirectoryError, DirectoryUnavailable
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from tests.conftest import (
    SCIM,
    SUFFIX,
    TOKEN,
    USER_BASE,
    ScimClient,
    make_settings,
)
from tests.http.users.support import (
    assert_scim_error,
    create,
)


class Clock:
    """A clock for the in-memory directory that can be made to fail while it writes: a fault injected
    through the adapter's own collaborator, to reach the error handlers without mocking our code."""

    def __init__(self) -> None:
        self.failure: Exception | None = None

    def __call__(self) -> datetime:
        if self.failure is not None:
            raise self.failure
        return datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


INTERNALS = f"internal state at /srv/bridge; bind cn=admin,{SUFFIX} with {TOKEN}"
FAILURES = [
    pytest.param(
        RuntimeError(INTERNALS),
        500,
        None,
        "internal error; the bridge's log has the details under request id req-x",
        id="anything-else-is-500-with-a-fixed-message",
    ),
    pytest.param(
        DirectoryUnavailable(INTERNALS),
        503,
        None,
        "the directory is not reachable right now; retry later",
        id="directory-unreachable-is-503",
    ),
    pytest.param(
        ConstraintViolation("attribute 'mail' is not allowed by the schema"),
        400,
        "invalidValue",
        "the directory refused the change: attribute 'mail' is not allowed by the schema",
        id="constraint-violation-is-400-with-the-reason",
    ),
    pytest.param(
        DirectoryError(f"add uid=u@contoso.com,{USER_BASE}: invalidDNSyntax (invalid new RDN)"),
        400,
        "invalidValue",
        "the directory refused the change to userName (uid): invalidDNSyntax (invalid new RDN)",
        id="a-name-the-directory-cannot-take-is-400-naming-the-attribute",
    ),
    pytest.param(
        DirectoryError(f"add uid=u@contoso.com,{USER_BASE}: adminLimitExceeded"),
        400,
        "invalidValue",
        "the directory refused the change: adminLimitExceeded",
        id="a-value-over-an-administrative-limit-is-400",
    ),
    pytest.param(
        DirectoryError(f"add uid=u@contoso.com,{USER_BASE}: other"),
        500,
        None,
        "internal error; the bridge's log has the details under request id req-x",
        id="any-other-refusal-is-still-a-500",
    ),
]


@pytest.mark.parametrize(("failure", "status", "scim_type", "detail"), FAILURES)
def test_directory_failures_become_the_documented_errors_without_internals(
    *, user_map: ResourceMap, failure: Exception, status: int, scim_type: str | None, detail: str
) -> None:
    """docs/architecture.md, Errors: unreachable is 503 + Retry-After, a constraint 400 invalidValue with
    the directory's reason, anything else 500 with a fixed message and the request id; tracebacks and
    internal messages go to the log only, never to the client."""
    clock = Clock()
    memory = InMemoryDirectory([SUFFIX, USER_BASE], clock=clock)
    client = ScimClient(create_app(create_services(make_settings(), memory, user_map)))
    clock.failure = failure
    result = client.simulate_post(
        f"{SCIM}/Users", json={"userName": "u@contoso.com"}, headers={"X-Request-ID": "req-x"}
    )
    assert_scim_error(result, status, scim_type, detail)
    assert ("Retry-After" in result.headers) is (status == 503)
    for internal in ("RuntimeError", "/srv/bridge", "internal state", "cn=admin"):
        assert internal not in result.text
    assert memory.dns() == [SUFFIX, USER_BASE]


def test_the_in_memory_clock_stamps_meta(user_map: ResourceMap) -> None:
    """meta.created and lastModified come from the directory's timestamps (RFC 7643 3.1)."""
    memory = InMemoryDirectory([SUFFIX, USER_BASE], clock=Clock())
    client = ScimClient(create_app(create_services(make_settings(), memory, user_map)))
    body = create(client, {"userName": "u@contoso.com"})
    assert (body["meta"]["created"], body["meta"]["lastModified"]) == (
        "2026-11-22T08:30:00Z",
        "2026-11-22T08:30:00Z",
    )
