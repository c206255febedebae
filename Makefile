# Quill Console — the two quick-start commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HTMX := static/vendor/htmx.min.js
# npm ci's stamp: npm gives extracted files old timestamps, so they cannot stand for the install.
NODE_MODULES := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install assets run serve stack test lint format migrate clean hapi-server

install: $(INSTALLED) assets

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

## htmx is served from static/vendor; axe-core stays in node_modules for the browser tests.
assets: $(HTMX) $(NODE_MODULES)

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_MODULES)

$(HTMX): $(NODE_MODULES)
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)

## Install everything, migrate the embedded SQLite database, start the sandbox and the console.
run: install
	$(PY) -m console.sandbox.runner --host $(HOST) --port $(PORT)

## The platform of compose.dev.yml without Docker: the project's PostgreSQL with its three
## databases, real EHRbase and HAPI FHIR (stack/platform.py's SERVERS), Keycloak for single sign-on,
## the console on PostgreSQL against them, sandbox data loaded; prints the demo administrator and
## the single sign-on test user. Needs Java 25 and Maven; Ctrl-C stops it.
stack: install
	bash tests/install_system_tools.sh
	$(PY) -m stack serve --host $(HOST) --port $(PORT)

## Install everything and run the whole test suite (lint first) on the project's own PostgreSQL
## cluster (.stack/, port 54329); with CI=true or STACK_LIVE=1 real EHRbase and HAPI FHIR start alongside
## for the live tests. Everything started is stopped at the end.
test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	bash tests/install_system_tools.sh
	$(PY) -m stack test $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: install
	$(VENV)/bin/flask --app console db upgrade

## HAPI FHIR 8.8's JPA server (stack/hapi-server/), built with Maven only when its sources change.
HAPI_JAR := stack/hapi-server/target/quill-hapi-server.jar
HAPI_SOURCES := stack/hapi-server/pom.xml $(shell find stack/hapi-server/src -type f 2>/dev/null)

hapi-server: $(HAPI_JAR)

$(HAPI_JAR): $(HAPI_SOURCES) stack/hapi.py
	$(PYTHON) -m stack.hapi build

## The HAPI container's healthcheck probe (compose.dev.yml): rebuild after editing the source.
docker/hapi/HapiHealthCheck.class: docker/hapi/HapiHealthCheck.java
	javac --release 17 -Xlint:all -d docker/hapi $<

clean:
	rm -rf $(VENV) node_modules static/vendor instance .pytest_cache .ruff_cache
