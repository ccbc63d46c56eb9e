"""The command line imports a command's module only when that command runs (bridge/cli.py, bridge/ops/): a
command that needs no directory and no server loads neither ldap3 nor falcon nor waitress, so it starts
fast and runs where they would fail to load."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Run in a fresh interpreter, after importing argv[1] (if not empty): the exit code of the command line
# argv[2:], and the heavy libraries then loaded.
LOADED = """
import contextlib, importlib, io, json, sys
from bridge.cli import main
if sys.argv[1]:
    importlib.import_module(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[2:])
loaded = {name.partition(".")[0] for name in sys.modules} & {"ldap3", "falcon", "waitress"}
print(json.dumps([code, sorted(loaded)]))
"""


def run(argv: list[str], first: str = "") -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, first, *argv], capture_output=True, text=True, check=True, cwd=REPO
    )
    code, loaded = json.loads(done.stdout.splitlines()[-1])
    return code, loaded


@pytest.mark.parametrize(
    "argv",
    [["version"], ["token", "new"], ["token", "secret", "new"], ["token", "client", "new"]],
    ids=" ".join,
)
def test_a_command_without_a_directory_loads_no_ldap_nor_web_library(argv: list[str]) -> None:
    assert run(argv) == (0, [])


def test_the_check_sees_a_library_that_was_loaded() -> None:
    """Guards the test above against passing on a check that sees nothing."""
    assert run(["version"], first="bridge.http.connections") == (0, ["falcon", "waitress"])
