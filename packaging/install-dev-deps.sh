#!/usr/bin/env bash
# Install what a fresh Debian machine lacks to run the demo and the tests: slapd, ldap-utils and
# haproxy (the load balancer in front of two bridges in the replicated tests) from Debian's packages
# (without starting the system's own slapd or haproxy service), then a virtualenv with
# the bridge and its development tools. Idempotent: quick when everything is there already.
#   packaging/install-dev-deps.sh [VENV=.venv]
set -euo pipefail
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"

need_apt=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need_apt+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need_apt+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -E)
  echo "installing Debian packages: ${need_apt[*]}" >&2
  # A policy-rc.d that refuses keeps apt from starting a system slapd on port 389 (or haproxy).
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if [ "$made_policy" = 1 ]; then "${sudo[@]}" rm -f "$policy"; fi
fi

stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q -e "$here[dev]"
  touch "$stamp"
fi
