#!/usr/bin/env bash
# Build the Debian binary package from this checkout with standard tools only: python3 -m venv, pip,
# strip, dpkg-shlibdeps and dpkg-deb (no debhelper, no source package, no fakeroot: dpkg-deb
# --root-owner-group).
#   packaging/debian/build.sh [OUTPUT_DIR]      (default: dist/ in the checkout; `make deb` runs this)
# The last line printed is the path of OUTPUT_DIR/scim-ldap-bridge_<version>_<arch>.deb.
#
# What it does, in a temporary folder (the checkout is only read):
#  1. copies the checkout's files (git's tracked and untracked-but-not-ignored ones; everything but caches
#     without git), so pip's in-tree build writes its build/ and *.egg-info there, not in the checkout;
#  2. makes the venv the package ships, /opt/scim-ldap-bridge, on Debian's own python3.X, installs the
#     wheels of requirements.lock into it with `pip install --require-hashes` (from PyPI, or from what
#     pip's configuration points at: PIP_INDEX_URL, PIP_FIND_LINKS with PIP_NO_INDEX=1 for an offline
#     wheelhouse), then the bridge, built there with the locked setuptools; keeps what production needs
#     (no pip, setuptools, bridge.testing, falcon-bench, waitress-serve or other tools of the libraries),
#     strips the shared objects, rewrites the paths that name the temporary folder, keeps pip's RECORD
#     files true to all that, and byte-compiles it (checked-hash .pyc files, named by their installed
#     paths);
#  3. lays out /etc/scim-ldap-bridge (the conffiles), /usr/share (docs, changelog, manual page generated
#     from --help, lintian overrides, the Grafana dashboard), /usr/lib/systemd/system and DEBIAN/
#     (Depends from dpkg-shlibdeps for the shared objects), sets every mtime to SOURCE_DATE_EPOCH
#     (default: the last commit's time) and runs dpkg-deb.
# The package is Architecture: all when every dependency is pure Python, else this machine's (PyYAML,
# falcon and cryptography ship compiled wheels), and depends on the python3.X the venv was made with.
# A self-contained venv under /opt is the design: one build carries the exact libraries the bridge is
# tested with, whatever versions the Debian release packages (lintian-overrides says so per tag).
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
for tool in dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev dpkg-parsechangelog:dpkg-dev strip:binutils; do
  command -v "${tool%:*}" >/dev/null || { echo "build.sh: ${tool%:*} is missing: apt-get install ${tool#*:}" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/$name-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT
src="$work/src"
root="$work/debian/$name" # where dpkg-shlibdeps expects a package's files, beside debian/control
venv="$root$prefix"
mkdir -p "$src" "$root"

# 1. The sources, as they are in the checkout (committed or not).
parts=(pyproject.toml README.md docs bridge config systemd packaging/debian packaging/grafana)
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
changelog="$src/packaging/debian/changelog"
if [ "$(dpkg-parsechangelog --file "$changelog" --show-field Version)" != "$version" ]; then
  echo "build.sh: the top entry of packaging/debian/changelog is not version $version (pyproject.toml)" >&2
  exit 1
fi

# 2. The venv: the locked wheels (each checked against its hash), then the bridge, built by the locked
# setuptools without fetching anything; `pip check` fails the build if the lock lacks a dependency.
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --quiet)
"${pip[@]}" install --no-compile --no-warn-script-location --only-binary=:all: --require-hashes \
  --requirement "$src/packaging/debian/requirements.lock"
"${pip[@]}" install --no-compile --no-warn-script-location --no-deps --no-build-isolation --no-index "$src"
"$venv/bin/python" -m pip check >"$work/pip-check" || { cat "$work/pip-check" >&2; exit 1; }
"${pip[@]}" uninstall --yes pip setuptools
# Production only: the command and its interpreter in bin/ (not the libraries' tools: falcon-bench,
# waitress-serve, falcon-inspect-app, cffi-gen-src...); not bridge.testing (the slapd and Samba
# launchers of the tests and the demo) nor falcon's benchmark.
site="$(echo "$venv"/lib/python*/site-packages)"
find "$venv/bin" -mindepth 1 ! -name "$name" ! -name 'python*' -delete
rm -rf "$site/bridge/testing" "$site/falcon/bench" "$site/falcon/cmd/bench.py"
find "$venv/include" -depth -type d -empty -delete # the venv's C headers folder: none
# Stripped as dh_strip does: the wheels' shared objects carry their symbol tables.
find "$venv" -name '*.so' -type f -exec strip --remove-section=.comment --remove-section=.note \
  --strip-unneeded {} +
# The scripts in bin/ and pyvenv.cfg name the venv where it was made: name where it is installed. pip's
# direct_url.json names the temporary source folder: it goes. Each RECORD then lists what is left, with
# the hashes of the files changed here (scripts, stripped objects).
"$python" - "$venv" "$prefix" <<'PY'
import base64, csv, hashlib, io, sys
from pathlib import Path

venv, prefix = Path(sys.argv[1]), sys.argv[2]
for path in [*sorted((venv / "bin").iterdir()), venv / "pyvenv.cfg"]:
    if path.is_file() and not path.is_symlink() and str(venv).encode() in path.read_bytes():
        path.write_bytes(path.read_bytes().replace(str(venv).encode(), prefix.encode()))
for record in venv.glob("lib/python*/site-packages/*.dist-info/RECORD"):
    (record.parent / "direct_url.json").unlink(missing_ok=True)
    rows = []
    for row in csv.reader(io.StringIO(record.read_text())):
        target = record.parent.parent / row[0]
        if not target.is_file():
            continue  # removed above
        if row[1]:
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
units=/usr/lib/systemd/system
install -d "$root/usr/bin" "$root$units" "$root/usr/share/$name/schema" \
  "$root/usr/share/$name/maps" "$root/usr/share/doc/$name/examples" "$root/usr/share/doc/$name/docs"
ln -s "$prefix/bin/$name" "$root/usr/bin/$name"
install -d -m 0750 "$root/etc/$name" "$root/etc/$name/maps"
install -m 0640 "$src/config/bridge.example.yaml" "$root/etc/$name/bridge.yaml"
install -m 0640 "$src"/config/maps/*.yaml "$root/etc/$name/maps/"
install -m 0644 "$src"/config/schema/* "$root/usr/share/$name/schema/"
install -m 0644 "$src"/config/maps/*.yaml "$root/usr/share/$name/maps/" # the shipped maps, which init copies
install -m 0644 "$src"/systemd/*.service "$src"/systemd/*.timer "$root$units/"
install -m 0644 "$src/README.md" "$src/packaging/debian/copyright" "$root/usr/share/doc/$name/"
# A native package's changelog is changelog.gz (Debian policy 12.7); -n: no name or time in the header.
gzip -9nc "$changelog" >"$root/usr/share/doc/$name/changelog.gz"
install -D -m 0644 "$src/packaging/debian/lintian-overrides" "$root/usr/share/lintian/overrides/$name"
install -d "$root/usr/share/man/man1"
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" "$src/packaging/debian/manpage.py" "$version" "$SOURCE_DATE_EPOCH" \
  -- "$venv/bin/python" -m bridge | gzip -9n >"$root/usr/share/man/man1/$name.1.gz"
install -m 0644 "$src"/docs/*.md "$root/usr/share/doc/$name/docs/" # the pages README.md links to
install -m 0644 "$src/config/bridge.example.yaml" "$root/usr/share/doc/$name/examples/"
# The Grafana dashboard: data an operator imports, so beside the schema rather than in /usr/share/doc,
# which a package may not need and minimal images leave out (dpkg path-exclude).
install -D -m 0644 "$src/packaging/grafana/$name.json" "$root/usr/share/$name/grafana/$name.json"
install -D -m 0644 "$src/packaging/debian/logrotate" "$root/etc/logrotate.d/$name"

arch=all
depends="python$pyver, adduser" # adduser: postinst makes the system user with it
if [ -n "$(find "$venv" -name '*.so' -print -quit)" ]; then
  arch="$(dpkg --print-architecture)"
  # The libraries the shared objects link to, at the versions whose symbols they use (libc6, libgcc-s1),
  # as dpkg-shlibdeps finds them in this machine's packages; its warnings are about the wheels' builds.
  printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" >"$work/debian/control"
  install -d "$root/DEBIAN" # how dpkg-shlibdeps knows the package's root
  shlibs="$(cd "$work" && find "debian/$name" -name '*.so' -type f -print0 | sort -z \
    | xargs -0 dpkg-shlibdeps -O --warnings=0 | sed -n 's/^shlibs:Depends=//p')"
  depends="$depends, $shlibs"
fi

install -d "$root/DEBIAN"
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -print0 | sort -z \
  | xargs -0 md5sum | sed 's|  \./|  |') >"$root/DEBIAN/md5sums"
installed_size="$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)"
control="$(<"$src/packaging/debian/control")"
control="${control//@VERSION@/"$version"}"
control="${control//@ARCH@/"$arch"}"
control="${control//@DEPENDS@/"$depends"}"
control="${control//@INSTALLED_SIZE@/"$installed_size"}"
printf '%s\n' "$control" >"$root/DEBIAN/control"
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
