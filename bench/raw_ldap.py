"""The Entra-like work of ``bench.entra_load`` straight to slapd with ldap3: the ceiling for a Python client.

```sh
python -m bench.raw_ldap [--users 300] [--concurrency 4]
```

Each SCIM request of the load becomes the one LDAP operation that does its logical work, on one bound
ldap3 connection per worker (bound before the timing starts), with nothing read back:

- `GET /Users?filter=userName eq "..."` (a miss): a subtree search of the user base, with the bridge's
  filter and attributes;
- `POST /Users`: an add of the entry with the mapped values;
- `PATCH /Users/{id}` (title, department): a modify (replace);
- `GET /Users/{id}`: a base read of the entry (the DN is known: no lookup of the id);
- `POST /Groups`: an add of the groupOfNames, holding the map's placeholder member;
- `PATCH /Groups/{id}` (add members): a modify adding values, with the permissive-modify control;
- `PATCH /Users/{id}` active=false: a modify (replace `pwdAccountLockedTime` and `scimDisabledAt`).

Run on its own it starts its own slapd and prints the figures; ``bench.entra_load`` runs it in the same
run as the bridge, interleaved, against the same slapd, and prints the ratio bridge / raw.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import ldap3
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from bench.common import (
    CREATE,
    DISABLE,
    GROUP,
    LOOKUP,
    MEMBERS,
    READ,
    UPDATE,
    LoadError,
    Monitor,
    Person,
    Phase,
    Plan,
    plan,
    print_phases,
    run_phase,
)
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path

# What the bridge reads of a user with the OpenLDAP map (mapping.read_attributes, plus entryUUID and the
# version attribute), so a raw search or read moves the same attributes over the wire.
USER_ATTRIBUTES = (
    "uid", "scimExternalId", "givenName", "sn", "cn", "displayName", "title", "preferredLanguage", "mail",
    "telephoneNumber", "mobile", "facsimileTelephoneNumber", "street", "l", "st", "postalCode",
    "postalAddress", "employeeNumber", "departmentNumber", "o", "scimCostCenter", "scimDivision", "manager",
    "pwdAccountLockedTime", "createTimestamp", "modifyTimestamp", "objectClass", "entryUUID", "entryCSN",
)  # fmt: skip
PLACEHOLDER = "cn=empty-membership-placeholder"  # the map's placeholder member of an empty group
_PERMISSIVE = ("1.2.840.113556.1.4.1413", False, None)
_LOCKED = "000001010000Z"  # ppolicy's permanent lock, as the map's active rule writes it


def connect(info: SlapdInfo) -> ldap3.Connection:
    """One connection, bound once, as the bridge's pool opens them (no schema read, no TLS on loopback)."""
    server = ldap3.Server(info.url, get_info=ldap3.NONE)
    return ldap3.Connection(
        server,
        info.bind_dn,
        info.password,
        client_strategy=ldap3.SYNC,
        auto_bind=True,
        raise_exceptions=False,
    )


def _check(conn: ldap3.Connection, what: str) -> None:
    if conn.result.get("result") != 0:
        raise LoadError(f"{what}: {conn.result.get('description')} {conn.result.get('message')}")


class RawLoad:
    """The load's logical work against ``info``, ``concurrency`` connections at once."""

    def __init__(self, info: SlapdInfo, concurrency: int, monitor: Monitor | None = None) -> None:
        self._info = info
        self._monitor = monitor
        self.workers = [connect(info) for _ in range(concurrency)]

    def close(self) -> None:
        for conn in self.workers:
            conn.unbind()

    def user_dn(self, person: Person) -> str:
        return f"uid={escape_rdn(person.user_name)},{self._info.user_base}"

    def group_dn(self, name: str) -> str:
        return f"cn={escape_rdn(name)},{self._info.group_base}"

    def run(self, work: Plan, *, watch: dict[str, int] | None = None) -> list[Phase]:
        """Every phase of ``work`` in the order the bridge's load sends them; one Phase each."""
        return list(self.phases(work, watch=watch))

    def phases(self, work: Plan, *, watch: dict[str, int] | None = None) -> Iterator[Phase]:
        """The phases of ``work``, each run when the next one is asked for."""
        info = self._info
        people = work.people
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")

        def lookup(conn: ldap3.Connection, person: object) -> None:
            assert isinstance(person, Person)
            flt = f"(&(objectClass=inetOrgPerson)(uid={escape_filter_chars(person.user_name)}))"
            conn.search(info.user_base, flt, ldap3.SUBTREE, attributes=list(USER_ATTRIBUTES))
            _check(conn, "search")
            if any(item.get("type") == "searchResEntry" for item in conn.response or ()):
                raise LoadError(f"{person.user_name} exists already")

        def create(conn: ldap3.Connection, person: object) -> None:
            assert isinstance(person, Person)
            conn.add(
                self.user_dn(person),
                attributes={
                    "objectClass": ["inetOrgPerson", "scimBridgeObject"],
                    "uid": person.user_name,
                    "scimExternalId": person.external_id,
                    "givenName": person.given,
                    "sn": person.family,
                    "cn": person.display,
                    "displayName": person.display,
                    "mail": person.user_name,
                    "title": person.title,
                    "employeeNumber": person.employee_number,
                    "departmentNumber": person.department,
                },
            )
            _check(conn, "add")

        def update(conn: ldap3.Connection, person: object) -> None:
            assert isinstance(person, Person)
            changes = {
                "title": [(ldap3.MODIFY_REPLACE, [person.new_title])],
                "departmentNumber": [(ldap3.MODIFY_REPLACE, [person.new_department])],
            }
            conn.modify(self.user_dn(person), changes)
            _check(conn, "modify")

        def read(conn: ldap3.Connection, person: object) -> None:
            assert isinstance(person, Person)
            conn.search(self.user_dn(person), "(objectClass=*)", ldap3.BASE, attributes=list(USER_ATTRIBUTES))
            _check(conn, "read")

        def group(conn: ldap3.Connection, name: object) -> None:
            assert isinstance(name, str)
            conn.add(
                self.group_dn(name),
                attributes={
                    "objectClass": ["groupOfNames", "scimBridgeObject"],
                    "cn": name,
                    "member": PLACEHOLDER,
                },
            )
            _check(conn, "add group")

        def members(conn: ldap3.Connection, add: object) -> None:
            assert isinstance(add, tuple)
            group_index, user_indexes = add
            dns = [self.user_dn(people[n]) for n in user_indexes]
            conn.modify(
                self.group_dn(work.groups[group_index]),
                {"member": [(ldap3.MODIFY_ADD, dns)]},
                controls=[_PERMISSIVE],
            )
            _check(conn, "modify group")

        def disable(conn: ldap3.Connection, person: object) -> None:
            assert isinstance(person, Person)
            changes = {
                "pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [_LOCKED])],
                "scimDisabledAt": [(ldap3.MODIFY_REPLACE, [stamp])],
            }
            conn.modify(self.user_dn(person), changes)
            _check(conn, "modify (disable)")

        steps: list[tuple[str, Sequence[object], Callable[[ldap3.Connection, object], None]]] = [
            (LOOKUP, people, lookup),
            (CREATE, people, create),
            (UPDATE, people, update),
            (READ, people, read),
            (GROUP, work.groups, group),
            (MEMBERS, work.member_adds, members),
            (DISABLE, people, disable),
        ]
        for name, items, call in steps:
            yield run_phase(name, items, self.workers, call, monitor=self._monitor, watch=watch)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=300, help="users per round (default 300)")
    parser.add_argument("--concurrency", type=int, default=4, help="connections at once (default 4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-raw-") as workdir:
        server = Slapd(Path(workdir) / "slapd", extra_schema=[default_schema_path()], monitor=True)
        info = server.start()
        try:
            monitor = Monitor(info)
            load = RawLoad(info, args.concurrency, monitor)
            load.run(plan("warm", max(20, 2 * args.concurrency)))
            phases = load.run(
                plan("raw", args.users), watch={"client": os.getpid(), "slapd": slapd_pid(info)}
            )
            print_phases(f"raw ldap3, {args.users} users, concurrency {args.concurrency}", phases)
            load.close()
            monitor.close()
        finally:
            server.stop()


def slapd_pid(info: SlapdInfo) -> int:
    """The pid of the launcher's slapd, from its pid file."""
    return int((Path(info.workdir) / "slapd.pid").read_text().strip())


if __name__ == "__main__":
    main()
