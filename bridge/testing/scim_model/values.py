"""Random values the default map can store, from a seeded ``random.Random``.

Printable text only (the bridge refuses control characters), with the characters that are special in
DNs and filters (``,+"\\<>;=*()#``, a leading ``#``) and non-ASCII letters; each value fits its LDAP
syntax in slapd: mail is IA5 (ASCII), telephone numbers are PrintableString (RFC 4517 3.3.31), a
postal address has no empty line (RFC 4517 3.3.28). Names that must be unique are compared ignoring
case, so the letters used have one upper and one lower form (no ``ß``) and no double spaces.
"""

from __future__ import annotations

import random
import string

SPECIAL = ',+"\\<>;=*()#'
ACCENTED = "éÉåÅøØωΩжЖüÜ日本"
_PRINTABLE_PHONE = string.digits + " +-()./"


def word(rng: random.Random, low: int = 2, high: int = 7) -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(low, high)))


def text(rng: random.Random, words: int = 3) -> str:
    """Words with single spaces, sometimes a special or a non-ASCII character inside or at the start."""
    parts = [word(rng) for _ in range(rng.randint(1, words))]
    for _ in range(rng.choice((0, 0, 1, 2))):
        i = rng.randrange(len(parts))
        extra = rng.choice(SPECIAL + ACCENTED)
        at = rng.randint(0, len(parts[i]))
        parts[i] = parts[i][:at] + extra + parts[i][at:]
    return " ".join(parts)


def name(rng: random.Random, prefix: str) -> str:
    """A userName or group name: unique in practice, with DN-special and non-ASCII characters."""
    core = f"{prefix}{word(rng, 2, 5)}{rng.randint(0, 9999)}"
    roll = rng.random()
    if roll < 0.1:
        return "#" + core  # a leading '#' must be escaped in a DN (RFC 4514 2.4)
    if roll < 0.5:
        at = rng.randint(1, len(core) - 1)  # inside: no leading or trailing space
        return core[:at] + rng.choice(SPECIAL + ACCENTED + " ") + core[at:]
    if roll < 0.6:
        return core + "@example.org"
    return core


def case_variant(rng: random.Random, value: str) -> str:
    """The same name in another case: a namesake for uniqueness, or a case-only rename."""
    variants = [value.upper(), value.lower(), value.swapcase()]
    other = [v for v in variants if v != value]
    return rng.choice(other) if other else value


def email(rng: random.Random) -> str:
    local = word(rng, 2, 6) + rng.choice(("", ".", "_", "-", "+")) + word(rng, 0, 4)
    return f"{local}@{rng.choice(('example.org', 'Contoso.com', 'mail.example.net'))}"


def phone(rng: random.Random) -> str:
    head = rng.choice(("+1 ", "+44 ", "(0", "", "+49-"))
    body = "".join(rng.choice(_PRINTABLE_PHONE[:10]) for _ in range(rng.randint(3, 9)))
    tail = rng.choice(("", " ext. 2", "/12", ".3"))
    close = ")" if head == "(0" else ""
    return f"{head}{body[:2]}{close} {body[2:]}{tail}".strip()


def postal_code(rng: random.Random) -> str:
    return rng.choice((str(rng.randint(1000, 99999)), f"{rng.randint(10, 99)}-{word(rng, 2, 3).upper()}"))


def formatted_address(rng: random.Random) -> str:
    """Lines joined by newlines, each non-empty; ``$`` and ``\\`` are escaped in the directory."""
    lines = [text(rng, 3) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        lines[0] += rng.choice((" $5", " a\\b", " $ \\"))
    return "\n".join(lines)


def language(rng: random.Random) -> str:
    return rng.choice(("en-US", "de-CH", "fr", "pt-BR", "zh-Hans-CN", text(rng, 1)))


def employee_number(rng: random.Random) -> str:
    return rng.choice((f"{rng.randint(0, 999):03d}", str(rng.randint(1, 10**6)), text(rng, 1)))
