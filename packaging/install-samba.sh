#!/usr/bin/env bash
# Install what the Samba AD DC tests need (bridge/testing/samba.py, tests/samba_fixtures.py) on a
# Debian 12 machine: Debian's samba AD DC packages, openssl (the test CA and the DC's certificate)
# and ldap-utils (ldapsearch, ldapadd, ldapdelete). Nothing is started: when no
# /usr/sbin/policy-rc.d exists, a temporary one that refuses every service start is put there for
# the apt run and removed afterwards, so apt never starts smbd/nmbd/samba on the real interfaces.
# Idempotent: when everything is installed it only asks dpkg, and exits at once.
#   packaging/install-samba.sh
#
# samba-vfs-modules is required: without it `samba-tool domain provision` dies with
# "error probing vfs module 'acl_xattr'". winbind and samba-ad-dc are not needed for an LDAP-only DC.
set -euo pipefail

pkgs=(samba samba-dsdb-modules samba-ad-provision samba-vfs-modules openssl ldap-utils)

missing=()
while read -r name status; do
  [ "$status" = "installed" ] || missing+=("$name")
done < <(
  for p in "${pkgs[@]}"; do
    printf '%s %s\n' "$p" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo absent)"
  done
)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-samba.sh: ${pkgs[*]}: already installed"
  exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -E)
policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
  if [ "$made_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
if [ ! -e "$policy" ] && [ ! -L "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from scim-ldap-bridge packaging/install-samba.sh\nexit 101\n' \
    | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  made_policy=1
fi

start=$(date +%s%N)
echo "install-samba.sh: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for a dpkg lock held by another apt (e.g. a parallel test run) instead of failing at once.
apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${sudo[@]}" apt-get "${apt_opts[@]}" update -qq
"${sudo[@]}" apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-samba.sh: installed ${missing[*]} in $((($(date +%s%N) - start) / 1000000)) ms"
