"""The Directory contract against the in-memory adapter."""

from __future__ import annotations

import pytest

from bridge.directory.memory import InMemoryDirectory
from tests.contract.directory_contract import DirectoryContract

BASE = "ou=people,dc=example,dc=org"


class TestInMemoryDirectory(DirectoryContract):
    @pytest.fixture
    def directory(self) -> InMemoryDirectory:
        return InMemoryDirectory(["dc=example,dc=org", BASE])

    @pytest.fixture
    def base(self) -> str:
        return BASE
