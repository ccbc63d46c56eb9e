"""``parse_generalized`` and ``iso_time`` read a directory timestamp by slicing where they can: they give
exactly what the strptime reading they replace gave, for every input (issue #22)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bridge.services.common import iso_time, parse_generalized


def reference(text: str) -> datetime | None:
    """The reading before issue #22: strptime of the first 14 characters before any fraction."""
    try:
        moment = datetime.strptime(text.split(".", maxsplit=1)[0].rstrip("Z")[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC)


def reference_iso(text: str | None) -> str | None:
    moment = reference(text) if text else None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


# Digits that are not ASCII: str.isdigit() takes them, and so does strptime.
ARABIC_INDIC = "".join(chr(0x0660 + int(digit)) for digit in "20261122083000") + "Z"
FULLWIDTH = "".join(chr(0xFF10 + int(digit)) for digit in "20261122083000") + "Z"


def _samples() -> list[str]:
    rng = random.Random(22)  # noqa: S311 - seeded, the same samples every run
    fixed = [
        "20261122083000Z", "20261122083000.123456Z", "20261122083000.0Z", "20261122083000",
        "20261122083000ZZ",
        "20240229000000Z", "20230229000000Z", "20261131120000Z", "20261301000000Z", "20260001000000Z",
        "20260100000000Z", "20261122240000Z", "20261122236000Z", "20261122235960Z", "20261122235961Z",
        "00001122083000Z", "09991122083000Z", "00011231235959Z", "99991231235959Z", "2026112208300Z",
        "202611220830Z", "2026112208Z", "20261122Z", "2026", "", "Z", ".", "2026-11-22T08:30:00Z",
        "20261122083000+0100", "20261122083000-0500", "2026112208300a",
        ARABIC_INDIC, FULLWIDTH,
        " 2026112208300", "2026 1122083000", "20261 122083000", "+2026112208300",
    ]  # fmt: skip
    digits = ["".join(rng.choice("0123456789") for _ in range(14)) for _ in range(3000)]
    near = [
        f"{rng.randrange(1, 10000):04}{rng.randrange(0, 14):02}{rng.randrange(0, 33):02}"
        f"{rng.randrange(0, 26):02}{rng.randrange(0, 62):02}{rng.randrange(0, 63):02}Z"
        for _ in range(3000)
    ]
    return fixed + digits + near


@pytest.mark.parametrize("chunk", range(4))
def test_a_timestamp_reads_as_strptime_read_it(chunk: int) -> None:
    for text in _samples()[chunk::4]:
        assert parse_generalized(text) == reference(text), text
        assert iso_time(text) == reference_iso(text), text


def test_no_timestamp_is_none() -> None:
    assert iso_time(None) is None and iso_time("") is None
    assert iso_time("20261122083000Z") == "2026-11-22T08:30:00Z"
