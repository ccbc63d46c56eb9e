"""The Directory port's contract: one class of tests, subclassed for every adapter.

A subclass provides two fixtures: ``directory`` (the adapter under test) and ``base`` (an empty
container DN the test may fill). Entries are inetOrgPerson so that a real server accepts them.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bridge.directory.base import (
    MATCH_ALL,
    MATCH_NOTHING,
    AllOf,
    AnyOf,
    Directory,
    Eq,
    GreaterOrEqual,
    Modification,
    Negation,
    Present,
    Substring,
)
from bridge.directory.errors import Changed, EntryAlreadyExists, NoSuchEntry, NotAllowed

READ = ("uid", "cn", "sn", "mail", "carLicense", "objectClass", "createTimestamp", "modifyTimestamp")


def person(uid: str, **more: Any) -> dict[str, tuple[str, ...]]:
    attributes = {"objectClass": ("inetOrgPerson",), "uid": (uid,), "cn": (uid.title(),), "sn": ("Test",)}
    attributes.update({k: tuple(v) if isinstance(v, list | tuple) else (v,) for k, v in more.items()})
    return attributes


class DirectoryContract:
    """Behaviour every adapter shares; the service relies on each of these sentences.

    ``RDN`` names entries (uid; AD names them by cn), ``CREATED`` is the creation timestamp's attribute.
    """

    RDN = "uid"
    CREATED = "createTimestamp"

    def add(self, directory: Directory, base: str, uid: str, **more: Any) -> Any:
        attributes = person(uid, **more)
        if self.RDN == "cn":
            attributes["cn"] = (uid,)
        return directory.add(base, (self.RDN, uid), attributes, READ)

    def test_an_added_entry_reads_back_with_a_stable_id_and_its_values(
        self, directory: Directory, base: str
    ) -> None:
        entry = self.add(directory, base, "alice", mail="Alice@Example.org")
        assert uuid.UUID(entry.id)
        assert entry.first("mail") == "Alice@Example.org"  # exactly as written, case kept
        assert entry.parent.lower() == directory.normalize_dn(base).lower()
        assert entry.first("createTimestamp") and entry.first("modifyTimestamp")
        again = directory.get_by_id([base], MATCH_ALL, entry.id, READ)
        assert again.id == entry.id and again.dn.lower() == entry.dn.lower()

    def test_adding_an_existing_dn_is_refused(self, directory: Directory, base: str) -> None:
        self.add(directory, base, "bob")
        with pytest.raises(EntryAlreadyExists):
            self.add(directory, base, "BOB")

    def test_adding_under_a_missing_parent_is_refused(self, directory: Directory, base: str) -> None:
        with pytest.raises(NoSuchEntry):
            self.add(directory, f"ou=missing,{base}", "carol")

    @pytest.mark.parametrize("bad_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "*", ""])
    def test_an_unknown_or_malformed_id_is_no_such_entry(
        self, directory: Directory, base: str, bad_id: str
    ) -> None:
        self.add(directory, base, "dave")
        with pytest.raises(NoSuchEntry):
            directory.get_by_id([base], MATCH_ALL, bad_id, READ)

    def test_get_by_id_only_finds_entries_that_match_the_scope_filter(
        self, directory: Directory, base: str
    ) -> None:
        entry = self.add(directory, base, "erin", carLicense="service")
        with pytest.raises(NoSuchEntry):
            directory.get_by_id([base], Negation(Eq("carLicense", "service")), entry.id, READ)

    def test_equality_ignores_case_for_case_ignore_attributes(self, directory: Directory, base: str) -> None:
        self.add(directory, base, "frank", mail="frank@example.org")
        found = directory.search([base], Eq("mail", "FRANK@EXAMPLE.ORG"), READ)
        assert [e.first("uid") for e in found.entries] == ["frank"]

    def test_substring_presence_negation_and_ranges_are_evaluated_by_the_directory(
        self, directory: Directory, base: str
    ) -> None:
        for uid in ("gina", "gino", "hank"):
            self.add(directory, base, uid, mail=f"{uid}@example.org")
        self.add(directory, base, "ida")

        def uids(flt: Any) -> list[str]:
            return sorted(e.first("uid") or "" for e in directory.search([base], flt, READ).entries)

        assert uids(Substring("uid", initial="gin")) == ["gina", "gino"]
        assert uids(Substring("mail", final="@EXAMPLE.org")) == ["gina", "gino", "hank"]
        assert uids(Substring("uid", any=("an",))) == ["hank"]
        assert uids(AllOf((Present("uid"), Negation(Present("mail"))))) == ["ida"]
        assert uids(AnyOf((Eq("uid", "gina"), Eq("uid", "ida")))) == ["gina", "ida"]
        # Ranges need an ORDERING rule (uid has none in OpenLDAP's schema); timestamps have one.
        assert uids(AllOf((Present("mail"), GreaterOrEqual(self.CREATED, "19700101000000.0Z")))) == [
            "gina",
            "gino",
            "hank",
        ]
        assert uids(AllOf((Present("uid"), MATCH_NOTHING))) == []

    def test_pages_split_every_match_once_in_a_stable_order_and_count_them_all(
        self, directory: Directory, base: str
    ) -> None:
        for uid in ("u3", "u1", "u2", "u4", "u5"):
            self.add(directory, base, uid)
        everything = directory.search([base], Present("uid"), READ)
        order = [e.first("uid") for e in everything.entries]
        assert everything.total == 5
        assert sorted(order) == ["u1", "u2", "u3", "u4", "u5"]
        pages = [
            directory.search([base], Present("uid"), READ, offset=offset, limit=2) for offset in (0, 2, 4)
        ]
        assert [page.total for page in pages] == [5, 5, 5]
        assert [e.first("uid") for page in pages for e in page.entries] == order
        past_the_end = directory.search([base], Present("uid"), READ, offset=5, limit=2)
        assert (past_the_end.total, past_the_end.entries) == (5, ())
        only_counted = directory.search([base], Present("uid"), READ, limit=0)
        assert (only_counted.total, only_counted.entries) == (5, ())

    def test_nested_bases_count_each_entry_once(self, directory: Directory, base: str) -> None:
        self.add(directory, base, "solo")
        both = directory.search([base, base.upper(), f"uid=solo,{base}"], Present("uid"), READ)
        assert (both.total, [e.first("uid") for e in both.entries]) == (1, ["solo"])

    def test_every_write_changes_the_version_and_a_write_expecting_an_old_one_changes_nothing(
        self, directory: Directory, base: str
    ) -> None:
        entry = self.add(directory, base, "vera", mail="vera@example.org")
        first = entry.version
        assert first
        changed = directory.modify(entry.dn, [Modification("replace", "mail", ("v2@example.org",))], READ)
        assert changed.version and changed.version != first
        stale = [Modification("replace", "mail", ("stale@example.org",))]
        with pytest.raises(Changed):
            directory.modify(entry.dn, stale, READ, expect=first)
        with pytest.raises(Changed):
            directory.update(entry.dn, stale, expect=first)
        with pytest.raises(Changed):
            directory.move(entry.dn, (self.RDN, "vera2"), base, expect=first)
        with pytest.raises(Changed):
            directory.delete(entry.dn, expect=first)
        now = directory.get_by_id([base], MATCH_ALL, entry.id, READ)
        assert (now.dn, now.first("mail"), now.version) == (changed.dn, "v2@example.org", changed.version)
        directory.update(entry.dn, stale, expect=changed.version)
        latest = directory.get_by_id([base], MATCH_ALL, entry.id, READ)
        assert latest.first("mail") == "stale@example.org" and latest.version != changed.version
        moved = directory.move(entry.dn, (self.RDN, "vera2"), base, expect=latest.version)
        directory.delete(moved, expect=directory.get_by_id([base], MATCH_ALL, entry.id, READ).version)
        with pytest.raises(NoSuchEntry):
            directory.get_by_id([base], MATCH_ALL, entry.id, READ)

    def test_searching_a_missing_base_finds_nothing(self, directory: Directory, base: str) -> None:
        assert directory.search([f"ou=nowhere,{base}"], MATCH_ALL, READ).total == 0

    def test_modify_replaces_adds_and_deletes_values(self, directory: Directory, base: str) -> None:
        entry = self.add(directory, base, "jane", mail="jane@example.org", carLicense=("a", "b"))
        changed = directory.modify(
            entry.dn,
            [
                Modification("replace", "mail", ("Jane.Doe@Example.org",)),
                Modification("delete", "carLicense", ("a",)),
                Modification("add", "carLicense", ("c",)),
                Modification("replace", "sn", ("Doe",)),
            ],
            READ,
        )
        assert changed.first("mail") == "Jane.Doe@Example.org"
        assert sorted(changed.get("carLicense")) == ["b", "c"]
        assert changed.first("sn") == "Doe"
        cleared = directory.modify(entry.dn, [Modification("replace", "carLicense", ())], READ)
        assert cleared.get("carLicense") == ()

    def test_adding_a_present_value_or_deleting_an_absent_one_succeeds(
        self, directory: Directory, base: str
    ) -> None:
        """Member changes are retried by clients; they must be idempotent without a read."""
        entry = self.add(directory, base, "olga", carLicense=("a", "b"))
        again = directory.modify(entry.dn, [Modification("add", "carLicense", ("a", "c"))], READ)
        assert sorted(again.get("carLicense")) == ["a", "b", "c"]
        for absent in (("zz",), ("zz", "yy"), ("zz", "a")):
            directory.modify(entry.dn, [Modification("delete", "carLicense", absent)], READ)
        final = directory.modify(entry.dn, [Modification("delete", "mail", ("none@example.org",))], READ)
        assert sorted(final.get("carLicense")) == ["b", "c"] and final.get("mail") == ()

    def test_update_writes_like_modify_without_reading_back(self, directory: Directory, base: str) -> None:
        entry = self.add(directory, base, "pia", carLicense=("a",))
        directory.update(entry.dn, [Modification("add", "carLicense", ("b",))])
        directory.update(entry.dn, [])
        again = directory.get_by_id([base], MATCH_ALL, entry.id, READ)
        assert sorted(again.get("carLicense")) == ["a", "b"]
        with pytest.raises(NoSuchEntry):
            directory.update(f"uid=nobody,{base}", [Modification("replace", "sn", ("x",))])

    def test_moving_renames_and_reparents_without_changing_the_id(
        self, directory: Directory, base: str
    ) -> None:
        other = directory.add(
            base, ("ou", "elsewhere"), {"objectClass": ("organizationalUnit",), "ou": ("elsewhere",)}, ()
        )
        entry = self.add(directory, base, "kim")
        renamed = directory.move(entry.dn, (self.RDN, "kim.lee"), base)
        moved = directory.move(renamed, None, other.dn)  # None: keep the RDN
        found = directory.get_by_id([base], MATCH_ALL, entry.id, READ)
        assert found.dn.lower() == moved.lower()
        assert found.get(self.RDN) == ("kim.lee",)  # the old RDN value is gone
        assert found.parent.lower() == other.dn.lower()

    def test_moving_onto_an_existing_dn_is_refused(self, directory: Directory, base: str) -> None:
        first = self.add(directory, base, "lena")
        self.add(directory, base, "lina")
        with pytest.raises(EntryAlreadyExists):
            directory.move(first.dn, (self.RDN, "lina"), base)

    def test_delete_removes_a_leaf_and_refuses_a_missing_or_non_leaf_entry(
        self, directory: Directory, base: str
    ) -> None:
        entry = self.add(directory, base, "max")
        directory.delete(entry.dn)
        with pytest.raises(NoSuchEntry):
            directory.get_by_id([base], MATCH_ALL, entry.id, READ)
        with pytest.raises(NoSuchEntry):
            directory.delete(entry.dn)
        ou = directory.add(
            base, ("ou", "full"), {"objectClass": ("organizationalUnit",), "ou": ("full",)}, ()
        )
        self.add(directory, ou.dn, "nina")
        with pytest.raises(NotAllowed):
            directory.delete(ou.dn)

    @pytest.mark.parametrize(
        "hostile",
        ['a,b+c="d"', "#lead and trail ", "back\\slash", "*)(uid=*", "semi;colon<>", "ünï©ødé"],
    )
    def test_values_with_dn_and_filter_syntax_are_stored_and_found_literally(
        self, directory: Directory, base: str, hostile: str
    ) -> None:
        entry = self.add(directory, base, hostile)
        self.add(directory, base, "bystander")
        found = directory.search([base], Eq("uid", hostile), READ)
        assert [e.id for e in found.entries] == [entry.id]
        assert directory.get_by_id([base], MATCH_ALL, entry.id, READ).get(self.RDN) == (hostile,)
        renamed = directory.move(entry.dn, (self.RDN, hostile + "2"), base)
        directory.delete(renamed)
        assert directory.search([base], Eq(self.RDN, hostile + "2"), READ).total == 0
