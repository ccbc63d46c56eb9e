"""A seeded sequence of requests against the bridge and the model, compared after every step.

After each step the bridge's answer must have the model's status (and scimType) and body, and every
resource the step touched must read back as the model holds it: a user whole and its ``groups``, a
group with its members (as ``value`` and ``type``). At the end every user and group is read again and
the lists must name exactly the model's. The first disagreement stops the sequence with a
:class:`Disagreement` that says the seed, the step, the request, both answers and their difference.
"""

from __future__ import annotations

import difflib
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.testing.scim_model.generate import Generator
from bridge.testing.scim_model.model import Model, Outcome, Step
from bridge.testing.scim_model.stored import StoredMap

BASE = "/scim/v2"
_HISTORY = 6  # earlier steps shown in a report


class Response(Protocol):
    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...


class Client(Protocol):
    """What a falcon.testing.TestClient offers (with the bearer token already set)."""

    def simulate_request(self, method: str, path: str, **kwargs: Any) -> Any: ...


class Disagreement(AssertionError):
    """The bridge and the model differ; ``str()`` is the whole report."""


@dataclass(frozen=True, slots=True)
class Ran:
    """How far one sequence got: steps done, HTTP requests sent."""

    seed: int
    steps: int
    requests: int


class Sequence:
    """One seed's requests, sent to ``client`` and applied to the model in turn."""

    def __init__(
        self,
        client: Client,
        stored: StoredMap,
        seed: int,
        *,
        base: str = BASE,
        label: str = "",
        replay: str = "",
    ) -> None:
        self.client = client
        self.seed = seed
        self.base = base
        self.label = label
        self.replay = replay  # options of bench.model_run that pick the same directory
        self.model = Model(stored)
        self.generator = Generator(random.Random(seed), self.model)  # noqa: S311 (test data, seeded)
        self.history: list[str] = []
        self.requests = 0
        self.outcomes: Counter[str] = Counter()  # "PATCH /Users 200", for a summary
        self.index = 0
        self.step: Step | None = None

    def run(self, steps: int, *, on_step: Callable[[Step], None] | None = None) -> Ran:
        for self.index in range(1, steps + 1):
            self.step = self.generator.next_step()
            if on_step is not None:
                on_step(self.step)
            self._do(self.step)
            self.history.append(f"{self.index}: {self.step.method} {self.step.path}  {self.step.note}")
        self.step = None
        self._sweep()
        return Ran(self.seed, steps, self.requests)

    # --- one step ----------------------------------------------------------------------------------

    def _do(self, step: Step) -> None:
        outcome = self.model.expect(step)
        response = self._send(step.method, step.path, step.body)
        status = response.status_code
        self.outcomes[f"{step.method} /{step.path.strip('/').split('/')[0]} {status}"] += 1
        if status not in outcome.statuses:
            self._fail(
                f"status {status}, expected {' or '.join(map(str, outcome.statuses))}", response, outcome
            )
        if status >= 400:
            scim_type = _json(response).get("scimType")
            if outcome.scim_type is not None and scim_type != outcome.scim_type:
                self._fail(f"scimType {scim_type!r}, expected {outcome.scim_type!r}", response, outcome)
            # A refused request changes nothing: read back what it named.
            self._check_target(step)
            return
        if outcome.body is not None and response.text:
            self._compare("the response body", outcome.body, _json(response), response)
        created = _json(response).get("id") if step.method == "POST" else None
        outcome.commit(created)
        if created is not None:
            (outcome.users if step.path == "/Users" else outcome.groups).add(created)
        for user_id in sorted(outcome.users):
            self._check_user(user_id)
        for group_id in sorted(outcome.groups):
            self._check_group(group_id)

    def _check_target(self, step: Step) -> None:
        target = step.path.strip("/").partition("/")[2]
        if target and target in self.model.users:
            self._check_user(target)
        elif target and target in self.model.groups:
            self._check_group(target)

    # --- reading back ------------------------------------------------------------------------------

    def _check_user(self, user_id: str) -> None:
        response = self._send("GET", f"/Users/{user_id}")
        if user_id not in self.model.users:
            if response.status_code != 404:
                self._fail(
                    f"GET /Users/{user_id} of a deleted user: {response.status_code}, not 404", response
                )
            return
        self._expect_ok(response, f"GET /Users/{user_id}")
        self._compare(f"GET /Users/{user_id}", self.model.user_view(user_id), _json(response), response)
        response = self._send("GET", f"/Users/{user_id}", params={"attributes": "groups"})
        self._expect_ok(response, f"GET /Users/{user_id}?attributes=groups")
        expected = [
            {"value": gid, "display": self.model.groups[gid].document["displayName"]}
            for gid in self.model.groups_of(user_id)
        ]
        got = [
            {"value": g.get("value"), "display": g.get("display")} for g in _json(response).get("groups", [])
        ]
        self._compare(
            f"GET /Users/{user_id}?attributes=groups", {"groups": expected}, {"groups": got}, response
        )

    def _check_group(self, group_id: str) -> None:
        response = self._send("GET", f"/Groups/{group_id}")
        if group_id not in self.model.groups:
            if response.status_code != 404:
                self._fail(
                    f"GET /Groups/{group_id} of a deleted group: {response.status_code}, not 404", response
                )
            return
        self._expect_ok(response, f"GET /Groups/{group_id}")
        self._compare(f"GET /Groups/{group_id}", self.model.group_view(group_id), _json(response), response)

    def _sweep(self) -> None:
        """Every resource once more, and the lists name exactly the model's."""
        for kind, known in (("Users", self.model.users), ("Groups", self.model.groups)):
            response = self._send("GET", f"/{kind}", params={"count": "1000", "attributes": "id"})
            self._expect_ok(response, f"GET /{kind}")
            listed = sorted(r["id"] for r in _json(response).get("Resources", []))
            if listed != sorted(known):
                self._fail(f"GET /{kind} lists {listed}, the model holds {sorted(known)}", response)
        for user_id in list(self.model.users):
            self._check_user(user_id)
        for group_id in list(self.model.groups):
            self._check_group(group_id)

    # --- plumbing ----------------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        self.requests += 1
        kwargs: dict[str, Any] = {"params": params} if params else {}
        if body is not None:
            kwargs["json"] = body
        return self.client.simulate_request(method, self.base + path, **kwargs)

    def _expect_ok(self, response: Response, what: str) -> None:
        if response.status_code != 200:
            self._fail(f"{what}: status {response.status_code}, expected 200", response)

    def _compare(self, what: str, expected: dict[str, Any], got: dict[str, Any], response: Response) -> None:
        left, right = canonical(expected), canonical(got)
        if left != right:
            self._fail(f"{what} differs from the model", response, diff=_diff(left, right))

    def _fail(self, what: str, response: Response, outcome: Outcome | None = None, diff: str = "") -> None:
        lines = [
            f"bridge and model disagree{' on ' + self.label if self.label else ''}: seed {self.seed}, "
            + (f"step {self.index}" if self.step is not None else "the final read-back"),
            f"what: {what}",
        ]
        if self.step is not None:
            lines += ["request:", _indent(self.step.describe())]
        lines += [f"bridge answered {response.status_code}:", _indent(_pretty(response))]
        if outcome is not None:
            expected = f"expected (the model): {' or '.join(map(str, outcome.statuses))}"
            expected += f" {outcome.scim_type}" if outcome.scim_type else ""
            expected += f" ({outcome.why})" if outcome.why else ""
            lines.append(expected)
            if outcome.body is not None and outcome.statuses[0] < 300:
                lines.append(_indent(json.dumps(canonical(outcome.body), indent=1, ensure_ascii=False)))
        if diff:
            lines += ["diff (- model, + bridge):", _indent(diff)]
        if self.history:
            lines += ["earlier steps:", *(_indent(h) for h in self.history[-_HISTORY:])]
        options = f" {self.replay}" if self.replay else ""
        lines.append(
            f"replay: python -m bench.model_run{options} --seed {self.seed} --steps {self.index} --verbose"
        )
        raise Disagreement("\n".join(lines))


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """A resource without what the server makes (``id``, ``meta``), with multi-valued attributes in a fixed
    order (RFC 7644 gives them none), members as ``value`` and ``type``, and no empty member list."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        kept = value
        if key in ("id", "meta"):
            continue
        if key == "members":
            kept = [{"value": m.get("value"), "type": m.get("type")} for m in value]
            if not kept:
                continue
        if isinstance(kept, list):
            kept = sorted(kept, key=lambda v: json.dumps(v, sort_keys=True))
        out[key] = kept
    return out


def _json(response: Response) -> dict[str, Any]:
    try:
        value = json.loads(response.text) if response.text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pretty(response: Response) -> str:
    body = _json(response)
    return json.dumps(body, indent=1, ensure_ascii=False) if body else (response.text or "(no body)")


def _diff(left: dict[str, Any], right: dict[str, Any]) -> str:
    a = json.dumps(left, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    b = json.dumps(right, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "model", "bridge", lineterm="", n=2))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
