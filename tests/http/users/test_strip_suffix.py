"""userName with strip_suffix: the short uid in the directory, the UPN in SCIM.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from bridge.directory.memory import InMemoryDirectory
from tests.conftest import (
    SCIM,
    USER_BASE,
)
from tests.http.users.support import (
    GUID,
    STRIP,
    MakeClient,
    MapWith,
    assert_scim_error,
    create,
    dn_of,
    search,
    state,
    user_names,
)


def test_strip_suffix_stores_the_short_uid_and_reads_back_the_upn(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """userName: {ldap: uid, strip_suffix: "@contoso.com"}: jdoe@contoso.com lives as uid=jdoe
    (config/maps/openldap.yaml)."""
    client = make_client(map_with(STRIP))
    user = create(client, {"userName": "jdoe@contoso.com"})
    assert user["userName"] == "jdoe@contoso.com"
    assert dn_of(memory, user["id"]) == f"uid=jdoe,{USER_BASE}"
    assert memory.raw(f"uid=jdoe,{USER_BASE}")["uid"] == ["jdoe"]
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").json["userName"] == "jdoe@contoso.com"
    assert user_names(search(client, 'userName eq "JDoe@contoso.com"')) == ["jdoe@contoso.com"]

    other = create(client, {"userName": "bob@fabrikam.com"})
    assert dn_of(memory, other["id"]) == f"uid=bob@fabrikam.com,{USER_BASE}"
    assert user_names(search(client, 'userName eq "bob@fabrikam.com"')) == ["bob@fabrikam.com"]


def test_strip_suffix_answers_test_connection_with_an_empty_list(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """A random GUID has no '@', so it cannot be stored; the filter still answers 200 + empty (rule 1,
    [D1][R7])."""
    client = make_client(map_with(STRIP))
    create(client, {"userName": "jdoe@contoso.com"})
    result = client.simulate_get(f"{SCIM}/Users", query_string=f"filter=userName+eq+%22{GUID}%22")
    assert result.status_code == 200
    assert result.json["totalResults"] == 0
    assert result.json["Resources"] == []


def test_strip_suffix_refuses_a_username_without_at_and_writes_nothing(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """Values without '@' are refused (config/maps/openldap.yaml): 400 invalidValue, on POST and PATCH."""
    client = make_client(map_with(STRIP))
    user = create(client, {"userName": "jdoe@contoso.com"})
    before = state(memory)
    assert_scim_error(
        client.post_user({"userName": "jdoe"}), 400, "invalidValue", "must end with @contoso.com"
    )
    result = client.patch_user(user["id"], {"op": "replace", "path": "userName", "value": "jdoe"})
    assert_scim_error(result, 400, "invalidValue", "must end with @contoso.com")
    assert state(memory) == before


def test_strip_suffix_renames_change_the_short_uid(
    make_client: MakeClient, map_with: MapWith, memory: InMemoryDirectory
) -> None:
    """A rename under strip_suffix is a modify-DN to the new short uid; the id stays."""
    client = make_client(map_with(STRIP))
    user = create(client, {"userName": "jdoe@contoso.com"})
    result = client.patch_user(user["id"], {"op": "Replace", "path": "userName", "value": "jane@contoso.com"})
    assert (result.json["id"], result.json["userName"]) == (user["id"], "jane@contoso.com")
    assert dn_of(memory, user["id"]) == f"uid=jane,{USER_BASE}"
