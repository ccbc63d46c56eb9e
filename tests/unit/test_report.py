"""``scim-ldap-bridge report --since``: the periods and dates it reads (the report over real audit lines is
tested through the app in tests/http/test_report.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.ops.report import parse_since


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_since_takes_relative_periods(text: str, expected: timedelta) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert now - parse_since(text, now) == expected


def test_since_takes_dates_and_refuses_the_rest() -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="give 30m, 12h, 1d or 2w"):
        parse_since("yesterday", now)
