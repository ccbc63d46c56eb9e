"""Response bodies are encoded by one kept encoder (issue #22): the same text json.dumps gave, from any
thread."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from bridge.http.media import _dumps

BODIES: list[Any] = [
    {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "zoë@contoso.com",
        "active": True,
    },
    {"Resources": [], "totalResults": 0, "itemsPerPage": 0, "startIndex": 1},
    {"detail": 'a "quoted" \\ back\nslash \u2028 🙂 \x00', "status": "400", "n": 1.5, "none": None},
    [1, [2, [3, {"a": {}}]], "名前"],
]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_is_what_json_dumps_gave(body: Any) -> None:
    assert _dumps(body) == json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def test_threads_share_the_encoder() -> None:
    wrong: list[str] = []

    def encode(index: int) -> None:
        body = {"id": str(index), "values": list(range(index % 50))}
        for _ in range(200):
            if _dumps(body) != json.dumps(body, ensure_ascii=False, separators=(",", ":")):
                wrong.append(str(index))

    threads = [threading.Thread(target=encode, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
