#!/usr/bin/env bash
# Write packaging/debian/requirements.lock: every wheel of every version that constraints.txt pins, each
# with its sha256, for the Pythons and machines the package is built on. build.sh installs the package's
# venv from it with `pip install --require-hashes`, so a wheel that changed on the index since it was
# locked fails the build instead of entering the package.
#   packaging/debian/lock.sh          (after editing constraints.txt; commit both files)
# PYTHON_VERSIONS (default: this machine's python3, 3.11 on Debian 12), ARCHES (default: x86_64 aarch64)
# and GLIBC (default: 2.36, Debian 12's) say which wheels: pip download fetches, for each, the wheels pip
# would install there, and the lock takes the hash of each. A dependency that constraints.txt does not
# pin stops it: pin it there first, so that one commit builds one package.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3="${PYTHON:-/usr/bin/python3}"
versions="${PYTHON_VERSIONS:-$("$python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
arches="${ARCHES:-x86_64 aarch64}"
glibc="${GLIBC:-2.36}"

work="$(mktemp -d "${TMPDIR:-/tmp}/scim-ldap-bridge-lock.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$python3" -m venv "$work/venv"
for version in $versions; do
  for arch in $arches; do
    # Every manylinux tag such a machine takes (pip download does not infer the older ones).
    platforms=()
    for ((minor = ${glibc#*.}; minor >= 17; minor--)); do platforms+=(--platform "manylinux_2_${minor}_$arch"); done
    "$work/venv/bin/python" -m pip download --quiet --only-binary=:all: --dest "$work/wheels" \
      --implementation cp --python-version "$version" --abi "cp${version/./}" "${platforms[@]}" \
      --platform "manylinux2014_$arch" --requirement "$here/constraints.txt" 2> >(grep -v '^WARNING: Location' >&2)
  done
done

"$work/venv/bin/python" - "$work/wheels" "$here/constraints.txt" "$here/requirements.lock" <<'PY'
import hashlib, re, sys
from pathlib import Path

wheels, constraints, lock = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

pins = {}
for line in constraints.read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line:
        name, version = line.split("==")
        pins[canonical(name)] = version.strip()
hashes: dict[str, set[str]] = {name: set() for name in pins}
for wheel in sorted(wheels.glob("*.whl")):
    name, version = wheel.name.split("-")[:2]
    if pins.get(canonical(name)) != version:
        sys.exit(f"lock.sh: {wheel.name} is not pinned in constraints.txt: pin {canonical(name)} there")
    hashes[canonical(name)].add(hashlib.sha256(wheel.read_bytes()).hexdigest())
lines = [
    "# Written by packaging/debian/lock.sh from constraints.txt: do not edit. Every wheel of each pinned",
    "# version that the package's venv may install, by sha256 (build.sh: pip install --require-hashes).",
]
for name in sorted(pins):
    if not hashes[name]:
        sys.exit(f"lock.sh: no wheel of {name}=={pins[name]} for these platforms")
    lines.append(f"{name}=={pins[name]} \\")
    lines += [f"    --hash=sha256:{digest} \\" for digest in sorted(hashes[name])]
    lines[-1] = lines[-1].removesuffix(" \\")
lock.write_text("\n".join(lines) + "\n")
print(f"lock.sh: {sum(map(len, hashes.values()))} wheels of {len(pins)} distributions in {lock}")
PY
