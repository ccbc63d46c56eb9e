"""The model-based test's runner against the bridge over HTTP (``bridge.testing.scim_model.run``): a
disagreement is reported with everything needed to find it again, and one seed gives one sequence. The
model itself is tested in tests/unit/test_scim_model.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from bridge.testing.scim_model.run import Disagreement, Sequence
from bridge.testing.scim_model.stored import StoredMap
from tests.conftest import (
    DISABLED_BASE,
    GROUP_BASE,
    OPENLDAP_MAP,
    SUFFIX,
    USER_BASE,
    ScimClient,
    make_settings,
)

STORED = StoredMap.load(OPENLDAP_MAP)


@dataclass
class Answer:
    status_code: int
    text: str


class DroppingTitles:
    """A client that loses ``title`` from every user it reads back: a bridge bug, made on purpose."""

    def __init__(self, client: ScimClient) -> None:
        self.client = client

    def simulate_request(self, method: str, path: str, **kwargs: Any) -> Any:
        result = self.client.simulate_request(method, path, **kwargs)
        if method == "GET" and '"title"' in result.text:
            body = {k: v for k, v in result.json.items() if k != "title"}
            return Answer(result.status_code, json.dumps(body))
        return result


def test_a_disagreement_names_the_seed_the_step_the_request_and_the_difference(client: ScimClient) -> None:
    with pytest.raises(Disagreement) as found:
        for seed in range(1, 20):
            Sequence(DroppingTitles(client), STORED, seed).run(60)
    report = str(found.value)
    assert f"seed {seed}, step " in report
    assert "request:\n    " in report
    assert "diff (- model, + bridge):" in report and '- "title": ' in report
    assert f"replay: python -m bench.model_run --seed {seed} --steps " in report


def test_one_seed_gives_one_sequence(maps: MapSet) -> None:
    def requests(seed: int) -> list[str]:
        seen: list[str] = []
        memory = InMemoryDirectory([SUFFIX, USER_BASE, DISABLED_BASE, GROUP_BASE])
        client = ScimClient(create_app(create_services(make_settings(), memory, maps)))
        Sequence(client, STORED, seed).run(30, on_step=lambda step: seen.append(f"{step.method} {step.note}"))
        return seen

    assert requests(4) == requests(4)
    assert requests(4) != requests(5)
