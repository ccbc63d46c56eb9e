#!/usr/bin/env bash
# Install what a fresh Debian machine lacks, from Debian's packages (without starting any system service
# they bring: slapd, haproxy, nginx, apache2, prometheus), then a virtualenv with the bridge and its
# development tools. Idempotent: quick when everything is there already.
#   packaging/install-dev-deps.sh [--tests] [VENV=.venv]
# Always: slapd, ldap-utils, openssl and python3-venv (what `make demo` needs). With --tests (`make test`,
# `make bench`) also what the tests run: haproxy (in front of two bridges in the replicated tests), nginx,
# caddy and apache2 (the reverse-proxy examples), prometheus (its promtool checks /metrics), and binutils,
# dpkg-dev, lintian and adduser (the Debian package's build and its test).
set -euo pipefail
tests=0
if [ "${1:-}" = --tests ]; then tests=1; shift; fi
venv="${1:-.venv}"
here="$(cd "$(dirname "$0")/.." && pwd)"

need_apt=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need_apt+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need_apt+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ "$tests" = 1 ]; then
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_apt+=(haproxy)
  # The reverse proxies of packaging/reverse-proxy/, run in front of a bridge by tests/e2e/test_reverse_proxies.py.
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
  command -v caddy >/dev/null 2>&1 || need_apt+=(caddy)
  command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || need_apt+=(apache2)
  command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)  # promtool checks the /metrics scrape
  # The Debian package's build (strip, dpkg-shlibdeps) and its test (lintian).
  command -v strip >/dev/null 2>&1 || need_apt+=(binutils)
  command -v dpkg-shlibdeps >/dev/null 2>&1 || need_apt+=(dpkg-dev)
  command -v lintian >/dev/null 2>&1 || need_apt+=(lintian)
  command -v adduser >/dev/null 2>&1 || need_apt+=(adduser) # the package depends on it; its test installs it
fi
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
