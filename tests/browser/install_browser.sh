#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests when it is missing.
# Idempotent; never downloads a browser build of its own. Always exits 0: the browser tests
# themselves skip (or fail when CI=true) with a clear reason when no Chromium is available.
set -u

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install_browser: $CHROMIUM is missing and this is not root; run 'apt-get install chromium' to run the browser tests."
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: $CHROMIUM is missing and apt-get is not available; the browser tests will not run."
    exit 0
fi

echo "install_browser: installing Debian's chromium package for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq; then
    echo "install_browser: apt-get update failed; the browser tests will not run."
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
    echo "install_browser: apt-get install chromium failed; the browser tests will not run."
    exit 0
fi
if [ -x "$CHROMIUM" ]; then
    echo "install_browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
else
    echo "install_browser: chromium installed but $CHROMIUM is not there; the browser tests will not run."
fi
exit 0
