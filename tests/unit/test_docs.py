"""The docs say only what the program has: every relative link of README.md, docs/*.md and bench/README.md
resolves inside the repository (an ``#anchor`` to a heading of its file), every ``scim-ldap-bridge``
command they name is one of ``--help`` (its options too), every configuration key they name is a key of
:class:`bridge.config.Settings`, every endpoint they name is routed by the app, every file of the repository
they name exists (the modules of docs/architecture.md's layout too), and every source key cited ([D1] in
docs, docstrings and tests) is listed under the Sources of docs/entra.md or docs/okta.md."""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.app import create_app, create_services
from bridge.cli import parser
from bridge.config import Settings
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from tests.conftest import GROUP_BASE, SUFFIX, TOKEN_HASH, USER_BASE
from tests.oauth_support import settings_with, write_signing_key

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").glob("*.md")])
FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
SECTIONS = ("server", "ldap", "auth", "deprovisioning", "safety", "scim", "logging")
KEY = re.compile(rf"(?<![\w./@:-])(?:{'|'.join(SECTIONS)})(?:\.[a-z_]+(?:\[\d*\])?)+(?![\w-])")
COMMAND = re.compile(r"(?<![\w.-])scim-ldap-bridge(?=[ \t\\])((?:[^\n#`]|\\\n)*)")


def page_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def prose(text: str) -> str:
    """The text without its fenced code blocks and inline code spans."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def code(text: str) -> Iterator[str]:
    """Every fenced block's lines, and every inline code span (which may wrap a line)."""
    for block in FENCE.findall(text):
        yield from block.replace("\\\n", " ").splitlines()[1:-1]
    yield from (span.replace("\n", " ") for span in INLINE_CODE.findall(FENCE.sub("", text)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation (backticks included) dropped, spaces to
    hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for _, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(title)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves_to_a_file_and_a_heading(page: Path) -> None:
    broken = []
    for label, target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(REPO) or not resolved.exists():
            broken.append(f"[{label}]({target}): no such file in the repository")
        elif anchor and (resolved.suffix != ".md" or anchor not in anchors(resolved)):
            broken.append(f"[{label}]({target}): no heading #{anchor} in {page_id(resolved)}")
    assert not broken, "\n".join(broken)


def test_the_links_of_the_readme_reach_every_page_of_docs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for _, target in LINK.findall(readme)}
    pages = {f"docs/{path.name}" for path in (REPO / "docs").glob("*.md")}
    assert not pages - linked


def subcommands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options(command: argparse.ArgumentParser) -> set[str]:
    return {flag for action in command._actions for flag in action.option_strings}


def named_commands() -> Iterator[tuple[str, str]]:
    for page in PAGES:
        for snippet in code(page.read_text(encoding="utf-8")):
            for rest in COMMAND.findall(snippet):
                yield page_id(page), rest.replace("\\\n", " ").strip()


def test_the_docs_name_commands() -> None:
    assert {rest.split()[0] for _, rest in named_commands() if rest} >= {"init", "check-config", "selftest"}


@pytest.mark.parametrize("where, command", sorted(set(named_commands())))
def test_every_command_the_docs_name_is_in_help(where: str, command: str) -> None:
    """``scim-ldap-bridge <subcommand> [<subcommand>...] [--option ...]`` as a docs page writes it."""
    current = parser()
    words = command.split()
    said = ["scim-ldap-bridge"]
    while words and any(isinstance(a, argparse._SubParsersAction) for a in current._actions):
        choices = subcommands(current)
        assert words[0] in choices, f"{where}: `{' '.join(said)} {words[0]}` is not a subcommand"
        said.append(words.pop(0))
        current = choices[said[-1]]
    unknown = {word.split("=")[0] for word in words if word.startswith("--")} - options(current)
    assert not unknown, f"{where}: `{' '.join(said)}` has no option {sorted(unknown)}"


def settings_keys(cls: type, prefix: str = "") -> set[str]:
    """Every key of ``cls`` and every section above one, with ``[]`` for the items of a list of
    sections (``auth.oauth.clients[].id``); optional sections count as sections."""
    keys = set()
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.metadata.get("internal"):
            continue
        name = f"{prefix}{field.name}"
        keys.add(name)
        hint = hints[field.name]
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next((arg for arg in typing.get_args(hint) if arg is not type(None)), hint)
        if typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            keys |= settings_keys(typing.get_args(hint)[0], f"{name}[].")
        elif dataclasses.is_dataclass(hint) and isinstance(hint, type):
            keys |= settings_keys(hint, f"{name}.")
    return keys


def named_keys() -> Iterator[tuple[str, str]]:
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for span in INLINE_CODE.findall(text):
            for key in KEY.findall(span):
                if not re.search(r"\.(com|org|net)\b", key):  # scim.example.com is a host
                    yield page_id(page), re.sub(r"\[\d*\]", "[]", key)


def test_every_configuration_key_the_docs_name_is_a_setting() -> None:
    from tests.unit.test_readme import config_keys

    known = settings_keys(Settings)
    assert set(config_keys(Settings)) <= known
    named = list(named_keys())
    assert {"server.port", "ldap.urls", "auth.oauth.signing_keys", "auth.oauth.clients[].id"} <= {
        key for _, key in named
    }
    unknown = sorted({f"{where}: {key}" for where, key in named if key not in known})
    assert not unknown, "\n".join(unknown)


SCIM_PATH = re.compile(r"(?<![\w.:/<])(?:/scim/v2)?/+((?:[A-Z][A-Za-z]*|\.search)[^\s`|,;)\"'\\]*)")
OUTSIDE = re.compile(r"(?<![\w.:/])/(healthz|readyz|metrics|oauth/token)\b")


def named_paths() -> Iterator[tuple[str, str]]:
    """``(page, path)``: the SCIM paths (relative to the base path, placeholders filled, each optional
    ``[...]`` part with and without) and the paths outside it."""
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for found in SCIM_PATH.findall(text):
            path = re.split(r"[?]", found, maxsplit=1)[0].rstrip(".:")
            path = re.sub(r"\{[^}]*\}|<[^>]*>", "x", path)
            for variant in {re.sub(r"\[([^\]]*)\]", r"\1", path), re.sub(r"\[[^\]]*\]", "", path)}:
                yield page_id(page), "/scim/v2/" + re.sub("/+", "/", variant).strip("/")
        for found in OUTSIDE.findall(text):
            yield page_id(page), f"/{found}"


def test_every_endpoint_the_docs_name_is_routed(tmp_path: Path, maps: MapSet) -> None:
    key = tmp_path / "oauth-key.pem"
    write_signing_key(key)
    client = {"id": "entra-1", "secret_hashes": [TOKEN_HASH]}
    settings = settings_with(tmp_path, {"oauth": {"signing_keys": [str(key)], "clients": [client]}})
    directory = InMemoryDirectory([SUFFIX, USER_BASE, GROUP_BASE])
    app = create_app(create_services(settings, directory, maps))
    named = set(named_paths())
    for expected in ("/Users", "/Groups", "/Schemas", "/ResourceTypes", "/ServiceProviderConfig", "/.search"):
        assert any(path == f"/scim/v2{expected}" for _, path in named), expected
    assert {"/healthz", "/readyz", "/metrics", "/oauth/token"} <= {path for _, path in named}
    unrouted = sorted({f"{where}: {path}" for where, path in named if app._router.find(path) is None})
    assert not unrouted, "\n".join(unrouted)


# The repository's paths as the README and docs/ name them, and module paths relative to bridge/
# (`services/recent.py`, as docs/architecture.md writes them) in their code spans.
REPO_PATH = re.compile(r"(?<![\w./-])((?:bridge|tests|bench|packaging|config|systemd)/[\w./*-]*[\w/*])")
MODULE_PATH = re.compile(r"(?:services|scim|mapping|directory|http|ops|oauth|config|testing)/[\w/.]*\w")
DOC_PAGES = [page for page in PAGES if page.parent == REPO / "docs" or page == REPO / "README.md"]


def named_repo_paths(page: Path) -> Iterator[str]:
    text = page.read_text(encoding="utf-8")
    yield from REPO_PATH.findall(text)
    for span in INLINE_CODE.findall(FENCE.sub("", text)):
        if MODULE_PATH.fullmatch(span.strip()):
            yield span.strip()


def exists(path: str) -> bool:
    """A path of the repository or of bridge/ (a glob matching something, for ``tests/test_*.py``)."""
    return any(
        any(base.glob(path)) if "*" in path else (base / path).exists() for base in (REPO, REPO / "bridge")
    )


@pytest.mark.parametrize("page", DOC_PAGES, ids=page_id)
def test_every_file_the_docs_name_is_in_the_repository(page: Path) -> None:
    missing = sorted({path for path in named_repo_paths(page) if not exists(path)})
    assert not missing, f"{page_id(page)} names what the repository lacks: {missing}"


def layout_entries(block: str) -> Iterator[str]:
    """The paths of a layout tree as docs/architecture.md draws it: a line indented less than the
    descriptions names an entry (a ``package/`` opens it for the lines below), and every ``name.py`` or
    ``name/`` in a description belongs to the package of its line."""
    packages: list[tuple[int, str]] = []
    for line in block.splitlines()[1:]:
        entry = re.match(r"( {1,9})([\w.]+/?)(?= |$)", line)
        rest = line
        if entry:
            indent, name = len(entry.group(1)), entry.group(2)
            while packages and packages[-1][0] >= indent:
                packages.pop()
            yield "/".join(["bridge", *(package for _, package in packages), name]).rstrip("/")
            if name.endswith("/"):
                packages.append((indent, name.rstrip("/")))
            rest = line[entry.end() :]
        here = "/".join(["bridge", *(package for _, package in packages)])
        for name in re.findall(r"(?<![\w./-])([a-z_]+\.py|[a-z_]+/)(?=[\s,.;:)]|$)", rest):
            yield f"{here}/{name}".rstrip("/")


def test_every_module_of_the_architecture_layout_exists() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"^```\n(bridge/\n.*?)^```", text, re.MULTILINE | re.DOTALL)
    entries = list(layout_entries(block))
    assert {"bridge/app.py", "bridge/services/users.py", "bridge/directory/ldap/watch.py"} <= set(entries)
    missing = [path for path in entries if not (REPO / path).exists()]
    assert not missing, missing


# Source keys ([D1], [O3]) and the page whose Sources list them: Okta's in docs/okta.md, Entra's (also
# those the code's docstrings and the tests cite) in docs/entra.md.
SOURCE_KEY = re.compile(r"\[([DIOQRT]\d+b?)\]")


def listed_sources(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    sources = text[text.index("\n## Sources\n") :]
    return set(re.findall(r"^- \[(\w+)\]", sources, re.MULTILINE))


def test_every_source_key_cited_is_listed_under_sources() -> None:
    listed = {name: listed_sources(REPO / "docs" / name) for name in ("entra.md", "okta.md")}
    cited: dict[str, set[str]] = {"entra.md": set(), "okta.md": set()}
    for path in [
        *(REPO / "bridge").rglob("*.py"),
        *(REPO / "bridge").rglob("*.json"),
        *(REPO / "tests").rglob("*.py"),
    ]:
        for key in SOURCE_KEY.findall(path.read_text(encoding="utf-8")):
            cited["okta.md" if key.startswith("O") else "entra.md"].add(key)
    for name in cited:
        cited[name] |= set(SOURCE_KEY.findall((REPO / "docs" / name).read_text(encoding="utf-8")))
    assert {"D1", "R1", "I16b", "T1"} <= cited["entra.md"] and {"O1"} <= cited["okta.md"]
    unlisted = {name: sorted(cited[name] - listed[name]) for name in cited if cited[name] - listed[name]}
    assert not unlisted, unlisted
