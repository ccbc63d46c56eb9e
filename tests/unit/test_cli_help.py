"""``--help`` says what every subcommand does in one line, and every option what it is and its default
(issue #17, point 5)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator

from bridge.cli import parser
from tests.conftest import REPO


def commands(
    command: argparse.ArgumentParser, name: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command under ``command``, by its full name."""
    yield name, command
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from commands(child, f"{name} {sub}".strip())


def test_the_top_help_lists_every_subcommand_with_one_line() -> None:
    top = parser()
    (choices,) = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {action.dest: action.help for action in choices._choices_actions}
    assert set(helped) == set(choices.choices)
    assert all(text and "\n" not in text for text in helped.values()), helped
    shown = subprocess.run(
        [sys.executable, "-m", "bridge", "--help"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert all(f"    {name}" in shown for name in choices.choices), shown


def test_every_option_has_help_and_shows_its_default() -> None:
    missing, silent = [], []
    for name, command in commands(parser()):
        for action in command._actions:
            if (
                isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
                or not action.option_strings
            ):
                continue
            if not action.help:
                missing.append(f"{name} {action.option_strings[0]}")
            elif action.default not in (None, False) and "default" not in action.help:
                silent.append(f"{name} {action.option_strings[0]} (default {action.default!r})")
    assert not missing, f"options without help: {missing}"
    assert not silent, f"options whose help hides their default: {silent}"


def test_check_config_help_names_the_file_it_reads_by_default() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bridge", "check-config", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},  # argparse wraps at the terminal's width, hyphens included
    ).stdout
    assert "--config CONFIG  the configuration file (default /etc/scim-ldap-bridge/bridge.yaml)" in shown
