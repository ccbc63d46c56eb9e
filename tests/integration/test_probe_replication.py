"""``check-config --probe`` reminds that servers which replicate must be listed in one order everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bridge.testing.replicated import ReplicatedPair
from bridge.testing.slapd import SlapdInfo, find_free_port
from tests.integration.conftest import write_config
from tests.integration.test_probe import probe
from tests.replicated_fixtures import replicated_subtree
from tests.slapd_fixtures import Subtree

pytestmark = pytest.mark.slapd


@pytest.fixture
def subtree(replicated_slapd: ReplicatedPair) -> Iterator[Subtree]:
    with replicated_subtree(replicated_slapd) as made:
        yield made


def with_urls(config: Path, urls: list[str]) -> Path:
    data = yaml.safe_load(config.read_text())
    data["ldap"]["urls"] = urls
    config.write_text(yaml.safe_dump(data))
    return config


def test_servers_that_replicate_get_a_warning_to_list_them_in_one_order(
    replicated_slapd: ReplicatedPair, subtree: Subtree, tmp_path: Path
) -> None:
    urls = replicated_slapd.info.urls
    config = with_urls(write_config(tmp_path, replicated_slapd.info.a, subtree), urls)
    code, lines = probe(config)
    assert code == 0, lines
    warning = (
        f"warning: {urls[0]}, {urls[1]} replicate (a contextCSN on each): list ldap.urls in the same order"
    )
    assert [line for line in lines if line.startswith(warning)], lines


def test_servers_that_do_not_replicate_get_no_such_warning(
    slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path
) -> None:
    """The session's single slapd (no syncprov) and a dead second server: nothing replicates."""
    dead = f"ldap://127.0.0.1:{find_free_port()}"
    config = with_urls(write_config(tmp_path, slapd, ldap_subtree), [slapd.url, dead])
    code, lines = probe(config)
    assert code == 0, lines
    assert not [line for line in lines if "replicate" in line], lines
