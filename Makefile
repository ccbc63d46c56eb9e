# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8080
DIRECTORY ?= openldap

.PHONY: demo test lint unit deps test-deps bench drill clean deb

# What the demo needs (slapd, the virtualenv); test-deps adds what the tests and benchmarks run
# (HAProxy, nginx, Caddy, Apache, promtool, lintian and the package's build tools).
deps:
	@packaging/install-dev-deps.sh $(VENV)

test-deps:
	@packaging/install-dev-deps.sh --tests $(VENV)

demo: deps
	@if [ "$(DIRECTORY)" = ad ]; then packaging/install-samba.sh; fi
	$(PY) -m bridge demo --port $(PORT) --directory $(DIRECTORY)

lint: test-deps
	$(VENV)/bin/ruff check bridge tests bench
	$(VENV)/bin/ruff format --check bridge tests bench
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q

unit: deps
	$(PY) -m pytest -q tests/unit tests/http

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

bench: test-deps
	$(PY) -m bench.entra_load --uniqueness directory --processes 2
	$(PY) -m bench.scale
	$(PY) -m bench.encoding
	$(PY) -m bench.logs
	$(PY) -m bench.http_side
	$(PY) -m bench.memory --processes 2
	$(PY) -m bench.group_members
	$(PY) -m bench.group_members --shape dynlist
	$(PY) -m bench.list_users
	$(PY) -m bench.model_run --seeds 20 --steps 150 --directory both

# The fault and fuzz drill (bench/README.md): slapd killed, stopped and blackholed, the connection limit
# filled and 10,000 fuzzed requests, under an Entra-like load; a few minutes, loopback only; it prints figures.
drill: test-deps
	$(PY) -m bench.drill

# The Debian package, dist/scim-ldap-bridge_<version>_<arch>.deb (packaging/debian/build.sh says how).
deb:
	packaging/debian/build.sh dist
