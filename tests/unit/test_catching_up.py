"""A replica back from an outage serves again only once it holds what the others took meanwhile
(``bridge.directory.ldap.servers.behind``), compared by contextCSN, one CSN per serverID."""

from __future__ import annotations

from bridge.directory.ldap.servers import behind, by_server_id

OLD_A = "20261206070000.000001Z#000000#001#000000"
NEW_A = "20261206070500.000001Z#000000#001#000000"
OLD_B = "20261206070000.000002Z#000000#002#000000"
NEW_B = "20261206070505.000002Z#000003#002#000000"


def test_the_newest_csn_of_each_server_id_is_kept() -> None:
    assert by_server_id([OLD_A, NEW_A, OLD_B, "not a csn"]) == {"001": NEW_A, "002": OLD_B}


def test_a_replica_is_behind_while_another_holds_a_newer_change_of_any_server_id() -> None:
    back = by_server_id([NEW_A, OLD_B])  # a, back: its own changes, and b's as of before the outage
    serving = by_server_id([NEW_A, NEW_B])  # b took changes meanwhile
    assert behind(back, serving)
    assert not behind(by_server_id([NEW_A, NEW_B]), serving)
    assert not behind(serving, back)  # ahead is not behind


def test_servers_without_replication_are_never_behind() -> None:
    """Independent servers (no syncprov) and Active Directory keep no contextCSN: failback is at once."""
    assert not behind({}, {})
    assert not behind(by_server_id([OLD_A]), {})
