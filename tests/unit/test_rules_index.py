"""``ResourceMapping.rules_for`` looks rules up in an index built once (issue #22): it must answer as the
scan over every rule it replaced, for each map shipped, in any case, with and without a sub-attribute or
an extension URN."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.mapping.engine import ResourceMapping
from bridge.mapping.load import load_maps
from bridge.mapping.model import Rule

MAPS = sorted((Path(__file__).resolve().parents[2] / "config" / "maps").glob("*.yaml"))


def _scanned(mapping: ResourceMapping, attribute: str, sub: str | None, urn: str | None) -> list[Rule]:
    """The rules whose target is ``attribute`` and ``sub`` (case aside) under ``urn``: the former scan."""
    return [
        rule
        for rule in mapping.rules
        if rule.target.attribute.name.lower() == attribute.lower()
        and (rule.target.urn or None) == (urn or None)
        and (rule.target.sub.name.lower() if rule.target.sub else None) == (sub.lower() if sub else None)
    ]


@pytest.mark.parametrize("path", MAPS, ids=[p.name for p in MAPS])
def test_the_index_answers_as_a_scan_of_every_rule(path: Path) -> None:
    maps = load_maps(path)
    for resource_map in (maps.user, maps.group):
        if resource_map is None:
            continue
        mapping = ResourceMapping(resource_map)
        asked: set[tuple[str, str | None, str | None]] = {
            ("nickName", None, None),
            ("emails", "display", None),
        }
        for rule in mapping.rules:
            target = rule.target
            sub = target.sub.name if target.sub else None
            for attribute in (target.attribute.name, target.attribute.name.upper()):
                for s in (sub, sub.upper() if sub else None, None, "value"):
                    asked |= {(attribute, s, target.urn), (attribute, s, None), (attribute, s, "urn:other")}
        found = 0
        for attribute, sub, urn in sorted(asked, key=str):
            expected = _scanned(mapping, attribute, sub, urn)
            assert mapping.rules_for(attribute, sub, urn) == expected, (attribute, sub, urn)
            found += bool(expected)
        assert found  # the table asked for rules that exist, not only for absent ones


def test_a_caller_may_change_the_list_it_gets() -> None:
    mapping = ResourceMapping(load_maps(MAPS[0]).user)
    first = mapping.rules_for("userName", None, None)
    assert first
    first.clear()
    assert mapping.rules_for("userName", None, None)
