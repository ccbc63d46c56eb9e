#!/usr/bin/env bash
# Build the Debian package from this checkout with standard tools only: python3 -m venv, pip and
# dpkg-deb (no debhelper, no fakeroot: dpkg-deb --root-owner-group).
#   packaging/debian/build.sh [OUTPUT_DIR]      (default: dist/ in the checkout; `make deb` runs this)
# The last line printed is the path of OUTPUT_DIR/scim-ldap-bridge_<version>_<arch>.deb.
#
# What it does, in a temporary folder (the checkout is only read):
#  1. copies the checkout's files (git's tracked and untracked-but-not-ignored ones; everything but caches
#     without git), so pip's in-tree build writes its build/ and *.egg-info there, not in the checkout;
#  2. makes the venv the package ships, /opt/scim-ldap-bridge, on Debian's own python3.X, and installs
#     the bridge into it with pip, its dependencies pinned by constraints.txt (from PyPI, or from what
#     pip's configuration points at: PIP_INDEX_URL, PIP_FIND_LINKS with PIP_NO_INDEX=1 for an offline
#     wheelhouse); then removes pip and setuptools from it, rewrites the paths that name the temporary
#     folder, and byte-compiles it (checked-hash .pyc files, named by their installed paths);
#  3. lays out /etc/scim-ldap-bridge (the conffiles), /usr/share, /lib/systemd/system and DEBIAN/, sets
#     every mtime to SOURCE_DATE_EPOCH (default: the last commit's time) and runs dpkg-deb.
# The package is Architecture: all when every dependency is pure Python, else this machine's (PyYAML and
# falcon ship compiled wheels), and depends on the python3.X the venv was made with.
set -euo pipefail
umask 022
here="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$here/dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
name=scim-ldap-bridge
prefix=/opt/$name
started=$(date +%s%N)

python3="${PYTHON:-/usr/bin/python3}"
pyver="$("$python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
python="/usr/bin/python$pyver" # the interpreter the venv links to, and the package depends on
if ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "build.sh: installing python3-venv" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  else
    echo "build.sh: $python cannot make a venv: apt-get install python3-venv" >&2
    exit 1
  fi
fi
command -v dpkg-deb >/dev/null || { echo "build.sh: dpkg-deb is missing (package dpkg)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/$name-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
src="$work/src"
root="$work/root"
venv="$root$prefix"
mkdir -p "$src" "$root"

# 1. The sources, as they are in the checkout (committed or not).
parts=(pyproject.toml README.md docs bridge config systemd packaging/debian)
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$here" ls-files -z --cached --others --exclude-standard -- "${parts[@]}" \
    | (cd "$here" && xargs -0 -r sh -c 'for f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done' sh) \
    | tar -C "$here" --null -T - -cf - | tar -C "$src" -xf -
  : "${SOURCE_DATE_EPOCH:=$(git -C "$here" log -1 --format=%ct 2>/dev/null || true)}"
else
  tar -C "$here" --exclude=__pycache__ --exclude='*.egg-info' -cf - "${parts[@]}" | tar -C "$src" -xf -
fi
: "${SOURCE_DATE_EPOCH:=$(stat -c %Y "$src/pyproject.toml")}"
export SOURCE_DATE_EPOCH
version="$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
  "$src/pyproject.toml")"

# 2. The venv.
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --no-compile --no-warn-script-location \
  --constraint "$src/packaging/debian/constraints.txt" "$src"
"$venv/bin/python" -m pip uninstall --quiet --yes pip setuptools
rm -f "$venv"/bin/[Aa]ctivate*
# The scripts in bin/ and pyvenv.cfg name the venv where it was made: name where it is installed, and keep
# pip's RECORD files true to the rewritten scripts. pip's direct_url.json names the temporary source
# folder: it goes.
"$python" - "$venv" "$prefix" <<'PY'
import base64, csv, hashlib, io, sys
from pathlib import Path

venv, prefix = Path(sys.argv[1]), sys.argv[2]
rewritten = set()
for path in [*sorted((venv / "bin").iterdir()), venv / "pyvenv.cfg"]:
    if path.is_file() and not path.is_symlink() and str(venv).encode() in path.read_bytes():
        path.write_bytes(path.read_bytes().replace(str(venv).encode(), prefix.encode()))
        rewritten.add(path.resolve())
for record in venv.glob("lib/python*/site-packages/*.dist-info/RECORD"):
    (record.parent / "direct_url.json").unlink(missing_ok=True)
    rows = []
    for row in csv.reader(io.StringIO(record.read_text())):
        target = (record.parent.parent / row[0]).resolve()
        if row[0].endswith(".dist-info/direct_url.json"):
            continue
        if target in rewritten:
            data = target.read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            row = [row[0], f"sha256={digest}", str(len(data))]
        rows.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    record.write_text(out.getvalue())
PY
if grep -rqF "$work" "$venv"; then
  echo "build.sh: the venv still names the build folder:" >&2
  grep -rlF "$work" "$venv" >&2
  exit 1
fi
"$venv/bin/python" -m compileall -q -j 0 --invalidation-mode checked-hash -s "$root" -p / "$venv/lib"

# 3. The rest of the tree.
install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/share/$name/schema" \
  "$root/usr/share/$name/maps" "$root/usr/share/doc/$name/examples" "$root/usr/share/doc/$name/docs"
ln -s "$prefix/bin/$name" "$root/usr/bin/$name"
install -d -m 0750 "$root/etc/$name" "$root/etc/$name/maps"
install -m 0640 "$src/config/bridge.example.yaml" "$root/etc/$name/bridge.yaml"
install -m 0640 "$src"/config/maps/*.yaml "$root/etc/$name/maps/"
install -m 0644 "$src"/config/schema/* "$root/usr/share/$name/schema/"
install -m 0644 "$src"/config/maps/*.yaml "$root/usr/share/$name/maps/" # the shipped maps, which init copies
install -m 0644 "$src"/systemd/*.service "$src"/systemd/*.timer "$root/lib/systemd/system/"
install -m 0644 "$src/README.md" "$src/packaging/debian/copyright" "$root/usr/share/doc/$name/"
install -m 0644 "$src"/docs/*.md "$root/usr/share/doc/$name/docs/" # the pages README.md links to
install -m 0644 "$src/config/bridge.example.yaml" "$root/usr/share/doc/$name/examples/"
install -D -m 0644 "$src/packaging/debian/logrotate" "$root/etc/logrotate.d/$name"

arch=all
depends="python$pyver, adduser | passwd"
if [ -n "$(find "$venv" -name '*.so' -print -quit)" ]; then
  arch="$(dpkg --print-architecture)"
  # The newest glibc any compiled wheel in the venv was built for (manylinux_2_34 for cryptography's,
  # manylinux2014 = 2.17 for the older tag), as dpkg must know it.
  glibc="$(grep -rhoE 'manylinux(_[0-9]+_[0-9]+|2014)' "$venv"/lib/python*/site-packages/*.dist-info/WHEEL \
    | sed -E 's/manylinux2014/2.17/; s/manylinux_([0-9]+)_([0-9]+)/\1.\2/' | sort -V | tail -n 1)"
  depends="$depends, libc6 (>= ${glibc:-2.17})"
fi

install -d "$root/DEBIAN"
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print0 | sort -z \
  | xargs -0 md5sum | sed 's|  \./|  |') >"$root/DEBIAN/md5sums"
installed_size="$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)"
maintainer="${DEBFULLNAME:-scim-ldap-bridge maintainers} <${DEBEMAIL:-root@localhost}>"
control="$(<"$src/packaging/debian/control")"
control="${control//@VERSION@/"$version"}"
control="${control//@ARCH@/"$arch"}"
control="${control//@DEPENDS@/"$depends"}"
control="${control//@INSTALLED_SIZE@/"$installed_size"}"
printf '%s\n' "${control//@MAINTAINER@/"$maintainer"}" >"$root/DEBIAN/control"
conffiles="$(grep "^/etc/$name/" "$root/DEBIAN/conffiles" | tr '\n' ' ')" # postinst gives these to the group
for script in postinst prerm postrm; do
  text="$(<"$src/packaging/debian/$script")"
  printf '%s\n' "${text//@CONFFILES@/"${conffiles% }"}" >"$root/DEBIAN/$script"
  chmod 0755 "$root/DEBIAN/$script"
done

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb="$out/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null # xz; DPKG_DEB_COMPRESSOR_TYPE=gzip is faster
echo "build.sh: built in $((($(date +%s%N) - started) / 1000000)) ms, $(du -k "$deb" | cut -f1) KiB" >&2
echo "$deb"
