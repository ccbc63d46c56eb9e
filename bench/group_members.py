"""Grow one group to 100,000 members through SCIM PATCHes, and time one member add and one member remove
at 100, 10,000 and 100,000 members (issue #3). The times should not grow with the group's size.

    python -m bench.group_members [--shape groupOfNames|dynlist] [--members 100000] [--repeat 25]

It starts a throwaway slapd (the test launcher, with ``sortvals member`` and the memberof, refint and
ppolicy overlays, and for ``--shape dynlist`` the dynlist overlay), loads the users offline with slapadd
(creating 100,000 users over SCIM is not what is measured here), then drives the bridge in-process
through falcon.testing: every member change is a real SCIM PATCH that the bridge turns into LDAP
operations on the real slapd.

``--shape groupOfNames`` (the default map) keeps the member DNs on the group; ``--shape dynlist`` keeps
the membership on the members (``members.kept_on: members``: each user's scimMemberOf names its groups,
and the group is a groupOfURLs that slapd's dynlist overlay expands).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import falcon.testing
import ldap3

from bench.common import client_for, load_users, user_ids
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CHECKPOINTS = (100, 10_000, 100_000)
BATCH = 1000
SHAPES: dict[str, dict[str, Any]] = {
    "groupOfNames": {},
    "dynlist": {
        "object_classes": ["groupOfURLs"],
        "members": {"attribute": "scimMemberOf", "kept_on": "members"},
    },
}


def patch(client: falcon.testing.TestClient, group: str, operation: dict[str, Any]) -> None:
    response = client.simulate_patch(
        f"/scim/v2/Groups/{group}", json={"schemas": [PATCH_OP], "Operations": [operation]}
    )
    if response.status_code != 204:
        raise SystemExit(f"PATCH failed: {response.status_code} {response.text}")


def timed(client: falcon.testing.TestClient, group: str, member: str, repeat: int) -> tuple[float, float]:
    """Median milliseconds of one member add and of one member remove, each a single SCIM PATCH."""
    adds, removes = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        patch(client, group, {"op": "Add", "path": "members", "value": [{"$ref": None, "value": member}]})
        adds.append(time.perf_counter() - started)
        started = time.perf_counter()
        patch(client, group, {"op": "remove", "path": f'members[value eq "{member}"]'})
        removes.append(time.perf_counter() - started)
    return statistics.median(adds) * 1000, statistics.median(removes) * 1000


def raw_timed(info: SlapdInfo, group_dn: str, member_dn: str, repeat: int, shape: str) -> tuple[float, float]:
    """The same add and remove straight to slapd with ldap3 (one modify each): slapd's own cost. For
    dynlist that is a modify of the member's scimMemberOf, for groupOfNames one of the group's member."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    permissive = [("1.2.840.113556.1.4.1413", False, None)]
    target, attribute, value = (
        (member_dn, "scimMemberOf", group_dn) if shape == "dynlist" else (group_dn, "member", member_dn)
    )
    adds, removes = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.modify(target, {attribute: [(ldap3.MODIFY_ADD, [value])]}, controls=permissive)
        adds.append(time.perf_counter() - started)
        started = time.perf_counter()
        conn.modify(target, {attribute: [(ldap3.MODIFY_DELETE, [value])]}, controls=permissive)
        removes.append(time.perf_counter() - started)
    conn.unbind()
    return statistics.median(adds) * 1000, statistics.median(removes) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="groupOfNames")
    args = parser.parse_args()
    checkpoints = [c for c in CHECKPOINTS if c <= args.members] or [args.members]
    with tempfile.TemporaryDirectory(prefix="bench-groups-") as workdir:
        server = Slapd(workdir, extra_schema=[default_schema_path()], dynlist=args.shape == "dynlist")
        info = server.start()
        try:
            started = time.perf_counter()
            load_users(server, info, checkpoints[-1] + 1)
            ids = user_ids(info)
            print(f"loaded {len(ids)} users with slapadd in {time.perf_counter() - started:.1f} s")
            client, pool = client_for(info, SHAPES[args.shape])
            print(f"group shape: {args.shape}")
            group = client.simulate_post("/scim/v2/Groups", json={"displayName": "Everyone"}).json["id"]
            probe, members = ids[-1], ids[:-1]
            group_dn = f"cn=Everyone,{info.group_base}"
            probe_dn = f"uid=u{len(ids) - 1:06d},{info.user_base}"
            print("median ms of one member change; 'raw' is the same change straight to slapd with ldap3,")
            print("'bridge' the SCIM PATCH end to end; bridge - raw is what the bridge itself adds")
            columns = ("members", "add bridge", "add raw", "remove bridge", "remove raw")
            print(
                "  ".join(f"{c:>13}" for c in columns), f"{'bridge - raw (add/remove)':>26}  grow (members/s)"
            )
            size = 0
            for checkpoint in checkpoints:
                grow_started = time.perf_counter()
                while size < checkpoint:
                    batch = members[size : min(checkpoint, size + BATCH)]
                    patch(
                        client,
                        group,
                        {"op": "Add", "path": "members", "value": [{"value": i} for i in batch]},
                    )
                    size += len(batch)
                grow = time.perf_counter() - grow_started
                add_ms, remove_ms = timed(client, group, probe, args.repeat)
                if args.shape == "dynlist":  # the probe user gains scimBridgeObject with its first value
                    patch(client, group, {"op": "Add", "path": "members", "value": [{"value": probe}]})
                raw_add, raw_remove = raw_timed(info, group_dn, probe_dn, args.repeat, args.shape)
                overhead = f"{add_ms - raw_add:.2f} / {remove_ms - raw_remove:.2f}"
                figures = (f"{size}", *(f"{v:.2f}" for v in (add_ms, raw_add, remove_ms, raw_remove)))
                rate = size / max(grow, 1e-9)
                print("  ".join(f"{f:>13}" for f in figures), f"{overhead:>26}  {rate:.0f}", flush=True)
            pool.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
