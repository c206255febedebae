#!/usr/bin/env bash
# Install the Debian tools some tests need when they are missing: Chromium for the browser
# tests, docker-compose to validate compose.dev.yml (it parses the file; no engine needed), a
# JDK for the HAPI healthcheck probe, PostgreSQL for the project's own cluster (stack/postgres.py)
# and Maven to resolve the live tier's EHRbase (stack/ehrbase.py).
# Idempotent; never downloads a browser build of its own. Always exits 0: the tests that need
# a missing tool skip (or fail when CI=true) with a clear reason.
set -u

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium fonts-dejavu-core)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# A JDK runs and checks the HAPI container's healthcheck probe (docker/hapi/).
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
# PostgreSQL's server programs: Debian keeps them out of the PATH, under /usr/lib/postgresql.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v mvn >/dev/null 2>&1 || missing+=(maven)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install_system_tools: missing ${missing[*]} and this is not root; run 'apt-get install ${missing[*]}' to run every test."
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_tools: missing ${missing[*]} and apt-get is not available; the tests needing them will not run."
    exit 0
fi

echo "install_system_tools: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq; then
    echo "install_system_tools: apt-get update failed; the tests needing ${missing[*]} will not run."
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "install_system_tools: apt-get install ${missing[*]} failed; the tests needing them will not run."
    exit 0
fi
[ -x "$CHROMIUM" ] && echo "install_system_tools: $("$CHROMIUM" --version 2>/dev/null || echo chromium) ready"
command -v docker-compose >/dev/null 2>&1 && echo "install_system_tools: $(docker-compose version --short 2>/dev/null || echo docker-compose) ready"
command -v javac >/dev/null 2>&1 && echo "install_system_tools: $(javac -version 2>&1) ready"
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && echo "install_system_tools: PostgreSQL server ready"
command -v mvn >/dev/null 2>&1 && echo "install_system_tools: $(mvn -v 2>/dev/null | head -1) ready"
exit 0
