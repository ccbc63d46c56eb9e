"""The table of remembered entries the worker processes share (``bridge.recent.SharedEntries``): what it
keeps, what it forgets, and that a forked process sees what another wrote. (What the services do with a
remembered entry is tested against slapd in tests/integration/test_recent.py.)"""

from __future__ import annotations

import os
from typing import Any

import pytest

from bridge.directory.base import Entry
from bridge.services.recent import SharedEntries

BASE = "ou=people,dc=example,dc=org"


def entry(name: str, version: str = "v1", **attributes: tuple[str, ...]) -> Entry:
    return Entry(
        dn=f"uid={name},{BASE}",
        parent=BASE,
        id=f"{name}-0000-id",
        attributes={"uid": (name,), "objectclass": ("top", "inetOrgPerson"), **attributes},
        version=version,
    )


def in_child(work: object) -> int:
    """Run ``work()`` in a forked process; its exit code (0 when it returned True)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if work() else 3  # type: ignore[operator]
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_an_entry_comes_back_whole_by_its_id_in_any_case_until_dropped() -> None:
    users = SharedEntries().view("users uid cn")
    kept = entry("ann", title=("Pilot",), cn=("Ann", "Ann Example"))
    users.put(kept)
    assert users.get("ANN-0000-ID") == kept
    assert users.get("bob-0000-id") is None
    users.drop(kept.id)
    assert users.get(kept.id) is None


def test_a_newer_version_replaces_the_older_one() -> None:
    users = SharedEntries().view("users")
    users.put(entry("ann", "v1", title=("Pilot",)))
    users.put(entry("ann", "v2", title=("Captain",)))
    got = users.get("ann-0000-id")
    assert got is not None and got.version == "v2" and got.get("title") == ("Captain",)


def test_each_scope_sees_only_its_own_entries() -> None:
    """A worker that reloaded a map reading other attributes must not write from an entry read without
    them; users and groups never meet either."""
    table = SharedEntries()
    old, new, groups = table.view("users uid cn"), table.view("users uid cn title"), table.view("groups cn")
    old.put(entry("ann"))
    assert old.get("ann-0000-id") is not None
    assert new.get("ann-0000-id") is None and groups.get("ann-0000-id") is None


def test_an_entry_without_an_id_or_version_is_not_kept() -> None:
    users = SharedEntries().view("users")
    users.put(entry("ann", version=""))
    assert users.get("ann-0000-id") is None


def test_an_entry_larger_than_a_slot_is_not_kept_and_its_older_version_is_forgotten() -> None:
    users = SharedEntries(slots=8, slot_size=512, ways=4).view("users")
    users.put(entry("ann", "v1"))
    assert users.get("ann-0000-id") is not None
    users.put(entry("ann", "v2", description=("x" * 600,)))
    assert users.get("ann-0000-id") is None


def test_a_full_set_gives_up_the_entry_used_least_recently() -> None:
    users = SharedEntries(slots=4, slot_size=1024, ways=4).view("users")  # one set of four slots
    for name in ("a", "b", "c", "d"):
        users.put(entry(name))
    assert users.get("a-0000-id") is not None  # a is now used more recently than b
    users.put(entry("e"))
    kept = {name for name in "abcde" if users.get(f"{name}-0000-id") is not None}
    assert kept == {"a", "c", "d", "e"}


def test_the_table_holds_as_many_entries_as_it_has_slots() -> None:
    users = SharedEntries(slots=64, slot_size=1024, ways=4).view("users")
    names = [f"u{n:03}" for n in range(200)]
    for name in names:
        users.put(entry(name))
    kept = [name for name in names if users.get(f"{name}-0000-id") is not None]
    assert 0 < len(kept) <= 64
    assert set(names[-16:]) <= set(kept)  # the last written: at most 15 others came after each


def test_worker_processes_forked_after_it_was_made_see_each_others_entries() -> None:
    table = SharedEntries()
    users = table.view("users")
    users.put(entry("ann", "v1"))

    def child() -> bool:  # a worker: reads what the parent wrote, writes a newer version and another
        seen = users.get("ann-0000-id")
        users.put(entry("ann", "v2"))
        users.put(entry("bob"))
        return seen is not None and seen.version == "v1"

    assert in_child(child) == 0
    ann = users.get("ann-0000-id")
    assert ann is not None and ann.version == "v2"
    assert users.get("bob-0000-id") is not None


def test_a_worker_killed_holding_the_lock_leaves_the_others_serving_without_the_table() -> None:
    table = SharedEntries()
    table._PATIENCE = 0.2  # type: ignore[misc]  # a second in production
    users = table.view("users")
    users.put(entry("ann"))

    def child() -> bool:  # takes the lock and dies with it, as SIGKILL would leave it
        return table._lock.acquire()

    assert in_child(child) == 0
    assert users.get("ann-0000-id") is None  # after the wait: a miss, not a hang
    users.put(entry("bob"))
    users.drop("ann-0000-id")
    assert users.get("bob-0000-id") is None


@pytest.mark.parametrize(("slots", "slot_size", "ways"), [(6, 4096, 4), (8, 16, 4)])
def test_a_table_that_cannot_work_is_refused(slots: int, slot_size: int, ways: int) -> None:
    with pytest.raises(ValueError, match="multiple of ways"):
        SharedEntries(slots=slots, slot_size=slot_size, ways=ways)


def test_an_entry_that_cannot_be_copied_into_the_table_is_not_kept_and_the_request_goes_on() -> None:
    users = SharedEntries().view("users")
    users.put(entry("ann", "v1"))
    values: Any = (object(),)
    odd = Entry(dn=f"uid=ann,{BASE}", parent=BASE, id="ann-0000-id", attributes={"x": values}, version="v2")
    users.put(odd)  # no exception: a cache never fails a request
    assert users.get("ann-0000-id") is None
