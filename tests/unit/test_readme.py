"""The README and docs/ document what the code offers: every configuration key and the make targets."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from bridge.config import Settings

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
REFERENCE = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")


def config_keys(cls: type, prefix: str = "") -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.metadata.get("internal"):
            continue
        name = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(hints[field.name]):
            keys.extend(config_keys(hints[field.name], f"{name}."))
        else:
            keys.append(name)
    return keys


def test_every_configuration_key_has_a_row_in_the_configuration_reference() -> None:
    missing = [key for key in config_keys(Settings) if f"| `{key}` |" not in REFERENCE]
    assert not missing, f"document these keys in docs/configuration.md's reference: {missing}"


def test_the_readme_starts_with_the_demo_and_the_test_command() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
