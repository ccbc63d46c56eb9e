"""A modify as the bridge sends it: permissive, so that adding a value that is there or deleting one that
is not succeeds; where a server refuses that anyway, sent once more without what is already settled."""

from __future__ import annotations

from collections.abc import Sequence

from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, Connection

from bridge.directory.base import Modification
from bridge.directory.ldap import wire
from bridge.directory.ldap.controls import Control
from bridge.directory.ldap.results import raise_for_result

# Permissive modify (AD's 1.2.840.113556.1.4.1413, honoured by OpenLDAP too): adding a value that is
# there or deleting one that is not succeeds, so member changes are idempotent without a read.
_PERMISSIVE: Control = ("1.2.840.113556.1.4.1413", False, None)
_MODIFY_OPS = {"add": MODIFY_ADD, "delete": MODIFY_DELETE, "replace": MODIFY_REPLACE}
# Refusals of an add of a present value or a delete of an absent one, which permissive modify should
# have allowed: attributeOrValueExists, and Samba's entryAlreadyExists ("member already exists");
# noSuchAttribute, and Samba's unwillingToPerform ("member already deleted").
_VALUE_EXISTS = (20, 68)
_VALUE_ABSENT = (16, 53)


def values_for(attribute: str, values: Sequence[str]) -> list[str | bytes]:
    """Values as the directory takes them: AD's unicodePwd is the quoted password in UTF-16-LE."""
    if attribute.lower() == "unicodepwd":
        return [value.encode("utf-16-le") for value in values]
    return list(values)


def _payload(changes: Sequence[Modification]) -> dict[str, list[tuple[str, list[str | bytes]]]]:
    payload: dict[str, list[tuple[str, list[str | bytes]]]] = {}
    for change in changes:
        payload.setdefault(change.attribute, []).append(
            (_MODIFY_OPS[change.op], values_for(change.attribute, change.values))
        )
    return payload


def _without_settled(
    conn: Connection, dn: str, changes: Sequence[Modification], op: str
) -> list[Modification]:
    """``changes`` without the values whose ``op`` (add or delete) is already done.

    Permissive modify makes adding a present value and deleting an absent one succeed, but not
    everywhere: OpenLDAP still refuses a delete none of whose values is present (noSuchAttribute), and
    Samba refuses to add a member that is there (entryAlreadyExists) or to delete one that is not
    (unwillingToPerform). This runs only after such a
    refusal: one compare per value, then the modify is retried once without what is already settled.
    """
    kept: list[Modification] = []
    for change in changes:
        if change.op != op or not change.values:
            kept.append(change)
            continue
        present = {v for v in change.values if conn.compare(dn, change.attribute, v)}
        remaining = tuple(v for v in change.values if (v in present) == (op == "delete"))
        if remaining:
            kept.append(Modification(change.op, change.attribute, remaining))
    return kept


def send_modify(
    conn: Connection, dn: str, changes: Sequence[Modification], controls: Sequence[Control]
) -> None:
    """Modify ``dn`` with ``changes`` under ``controls`` and permissive modify; a DirectoryError when
    the directory refuses."""
    sent = [_PERMISSIVE, *controls]
    wire.modify(conn, dn, _payload(changes), sent)
    result = conn.result.get("result")
    retry = None
    if result in _VALUE_ABSENT and any(c.op == "delete" and c.values for c in changes):
        retry = _without_settled(conn, dn, changes, "delete")
    elif result in _VALUE_EXISTS and any(c.op == "add" and c.values for c in changes):
        retry = _without_settled(conn, dn, changes, "add")
    if retry is not None:
        if not retry:
            return  # every value was already as asked: nothing to do
        wire.modify(conn, dn, _payload(retry), sent)
    raise_for_result(conn.result, f"modify {dn}")
