"""Write the manual page scim-ldap-bridge.1 from the program's own --help, at package build time, so that
it can never say other than the program: its NAME and DESCRIPTION from the top-level help, then each
command's --help (and its own commands', for `token`) verbatim, then the files the package installs.

    python manpage.py VERSION EPOCH -- COMMAND...     (roff on stdout; COMMAND runs the program)

Standard library only: it runs with the package venv's python, before pip is removed from it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

NAME = "scim-ldap-bridge"
# The paths the package installs; the page names them so `man` answers "where is the config".
FILES = (
    ("/etc/scim-ldap-bridge/bridge.yaml", "the configuration (an example until edited or written by init)"),
    ("/etc/scim-ldap-bridge/maps/", "the attribute maps, OpenLDAP's and Active Directory's"),
    ("/etc/scim-ldap-bridge/bind-password", "the bind password, loaded by the units as a credential"),
    ("/usr/share/scim-ldap-bridge/schema/", "the LDAP schema of the bridge's auxiliary class"),
    ("/usr/lib/systemd/system/scim-ldap-bridge.service", "the service, not enabled by the package"),
    ("/var/log/scim-ldap-bridge/", "the audit file, when logging.audit_file names one there"),
    ("/usr/share/doc/scim-ldap-bridge/", "README.md and the documentation pages"),
)


def helptext(command: list[str], *args: str) -> str:
    env = {**os.environ, "COLUMNS": "72", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([*command, *args, "--help"], capture_output=True, text=True, check=True, env=env)
    return done.stdout


def subcommands(text: str) -> list[str]:
    """The sub-commands a --help lists: the first {a,b,...} of its positional arguments."""
    found = re.search(r"^positional arguments:\n\s+\{([\w,-]+)\}", text, re.MULTILINE)
    return found.group(1).split(",") if found else []


def roff(text: str) -> str:
    """Text as roff takes it literally: backslashes and minus signs escaped, no line read as a request."""
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def verbatim(text: str) -> str:
    return f".nf\n{roff(text.rstrip())}\n.fi"


def page(version: str, epoch: int, command: list[str]) -> str:
    top = helptext(command)
    # argparse's description: the paragraph after the usage, "scim-ldap-bridge: what it does."
    description = " ".join(top.split("\n\n")[1].split()).removeprefix(f"{NAME}: ")
    date = time.strftime("%Y-%m-%d", time.gmtime(epoch))
    out = [
        f'.TH {NAME.upper()} 1 "{date}" "{NAME} {version}" "User Commands"',
        ".SH NAME",
        f"{roff(NAME)} \\- {roff(description.rstrip('.'))}",
        ".SH SYNOPSIS",
        f".B {roff(NAME)}\n.I command\n.RI [ options ]",
        ".SH DESCRIPTION",
        roff(description[:1].upper() + description[1:]),
        "Each command's options follow, as its",
        ".B \\-\\-help",
        "prints them. README.md in /usr/share/doc/scim\\-ldap\\-bridge says how to install, configure and",
        "run it.",
        ".SH COMMANDS",
    ]
    pending = [[name] for name in subcommands(top)]
    while pending:
        words = pending.pop(0)
        text = helptext(command, *words)
        out += [f'.SS "{roff(" ".join(words))}"', verbatim(text)]
        pending[:0] = [[*words, name] for name in subcommands(text)]
    out.append(".SH FILES")
    for path, what in FILES:
        out += [".TP", f".I {roff(path)}", roff(what)]
    out += [
        ".SH SEE ALSO",
        ".BR systemctl (1),",
        ".BR slapd (8)",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    version, epoch, separator, *command = argv
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(page(version, int(epoch), command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
