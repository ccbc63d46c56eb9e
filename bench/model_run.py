"""Long runs of the model-based test (issue 15, point 3): many seeded request sequences against the bridge,
each checked after every step against the RFC 7644 model of ``bridge.testing.scim_model``.

    python -m bench.model_run [--seeds 200] [--steps 500] [--first-seed 1] [--directory memory|slapd|both]
    python -m bench.model_run --seed 17 --steps 42 --verbose      # replay one sequence, step by step

Each seed gets a fresh directory: a new in-memory one, or a new subtree of one throwaway slapd (the test
launcher: memberof, refint and ppolicy). It prints, per directory, how many sequences and steps ran, the
requests sent, the answers by request and status, and every disagreement: the first ones whole (seed,
step, request, both answers, the difference), the rest by their first lines. Exit status 1 when any
sequence disagreed.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace

import falcon.testing
import ldap3

from bench.common import REPO, TOKEN, client_for
from bridge.app import create_app, create_services
from bridge.config import AuthConfig, LdapConfig, Settings
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.load import load_maps
from bridge.testing.scim_model.model import Step
from bridge.testing.scim_model.run import Disagreement, Sequence
from bridge.testing.scim_model.stored import StoredMap
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path

MAP = REPO / "config" / "maps" / "openldap.yaml"
SUFFIX = "dc=example,dc=org"
SHOWN = 3  # disagreements printed whole, per directory

Client = falcon.testing.TestClient
# A fresh bridge over a fresh directory for one sequence, and what closes it afterwards.
Fresh = Callable[[], AbstractContextManager[Client]]


@dataclass
class Tally:
    """What the sequences against one directory did."""

    directory: str
    sequences: int = 0
    steps: int = 0
    requests: int = 0
    seconds: float = 0.0
    answers: Counter[str] = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)


@contextmanager
def memory_bridge() -> Iterator[Client]:
    bases = [SUFFIX, f"ou=people,{SUFFIX}", f"ou=groups,{SUFFIX}", f"ou=disabled,{SUFFIX}"]
    settings = Settings(
        auth=AuthConfig(("sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest(),)),
        ldap=LdapConfig(
            urls=("ldap://127.0.0.1:1",),  # never dialled: the directory is in memory
            bind_dn=f"cn=admin,{SUFFIX}",
            user_base=bases[1],
            group_base=bases[2],
        ),
        map=str(MAP),
    )
    app = create_app(create_services(settings, InMemoryDirectory(bases), load_maps(MAP)))
    yield falcon.testing.TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def slapd_bridges(info: SlapdInfo) -> Fresh:
    """A bridge over a new ``ou=m<hex>`` subtree (people, groups) of ``info``'s slapd for each sequence;
    the subtrees stay until the throwaway slapd goes."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)

    @contextmanager
    def fresh() -> Iterator[Client]:
        name = f"m{uuid.uuid4().hex[:8]}"
        base = f"ou={name},{info.suffix}"
        for dn, ou in ((base, name), (f"ou=people,{base}", "people"), (f"ou=groups,{base}", "groups")):
            if not conn.add(dn, ["organizationalUnit"], {"ou": ou}):
                raise SystemExit(f"cannot add {dn}: {conn.result}")
        client, pool = client_for(
            replace(info, user_base=f"ou=people,{base}", group_base=f"ou=groups,{base}")
        )
        try:
            yield client
        finally:
            pool.close()

    return fresh


def run_all(directory: str, fresh: Fresh, seeds: range, steps: int, *, verbose: bool, replay: str) -> Tally:
    stored = StoredMap.load(MAP)
    tally = Tally(directory)
    started = time.perf_counter()
    for seed in seeds:
        with fresh() as client:
            sequence = Sequence(client, stored, seed, label=directory, replay=replay)
            try:
                ran = sequence.run(steps, on_step=_printer(sequence) if verbose else None)
                tally.steps += ran.steps
            except Disagreement as exc:
                tally.steps += sequence.index
                tally.disagreements.append(str(exc))
            tally.sequences += 1
            tally.requests += sequence.requests
            tally.answers.update(sequence.outcomes)
        if not verbose and tally.sequences % 20 == 0:
            print(
                f"  {directory}: {tally.sequences} sequences, {len(tally.disagreements)} disagreeing",
                flush=True,
            )
    tally.seconds = time.perf_counter() - started
    return tally


def _printer(sequence: Sequence) -> Callable[[Step], None]:
    def show(step: Step) -> None:
        print(f"--- step {sequence.index}: {step.describe()}", flush=True)

    return show


def report(tally: Tally) -> None:
    rate = tally.steps / tally.seconds if tally.seconds else 0.0
    print(f"\n{tally.directory}: {tally.sequences} sequences, {tally.steps} steps, {tally.requests} requests")
    print(f"  in {tally.seconds:.1f} s ({rate:.0f} steps/s); {len(tally.disagreements)} disagreeing")
    print("  answers:")
    for answer, count in sorted(tally.answers.items()):
        print(f"    {answer:<24}{count:>8}")
    for n, text in enumerate(tally.disagreements):
        if n < SHOWN:
            print("\n" + text)
        else:
            print("\n" + "\n".join(text.splitlines()[:2]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="how many sequences (default 200)")
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--seed", type=int, help="run only this seed (replays a reported disagreement)")
    parser.add_argument("--steps", type=int, default=500, help="steps per sequence (default 500)")
    parser.add_argument("--directory", choices=("memory", "slapd", "both"), default="memory")
    parser.add_argument("--slapd", action="store_true", help="the same as --directory both")
    parser.add_argument("--verbose", action="store_true", help="print each request as it is sent")
    args = parser.parse_args(argv)
    seeds = (
        range(args.seed, args.seed + 1)
        if args.seed is not None
        else range(args.first_seed, args.first_seed + args.seeds)
    )
    directory = "both" if args.slapd else args.directory
    tallies: list[Tally] = []
    if directory in ("memory", "both"):
        tallies.append(run_all("memory", memory_bridge, seeds, args.steps, verbose=args.verbose, replay=""))
    if directory in ("slapd", "both"):
        with (
            tempfile.TemporaryDirectory() as workdir,
            Slapd(workdir, extra_schema=[default_schema_path()]) as info,
        ):
            fresh = slapd_bridges(info)
            tallies.append(
                run_all("slapd", fresh, seeds, args.steps, verbose=args.verbose, replay="--directory slapd")
            )
    for tally in tallies:
        report(tally)
    return 1 if any(t.disagreements for t in tallies) else 0


if __name__ == "__main__":
    raise SystemExit(main())
