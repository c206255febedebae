"""The ``live`` tier: the real servers ``make test`` starts alongside the suite.

``python -m stack test`` (``make test``) starts them in the background when ``CI=true`` or
``STACK_LIVE=1`` and names them in ``LIVE_*`` variables (``stack.platform.live_environment``).
The first live test waits for its server, within ``LIVE_READY_TIMEOUT`` seconds; without the
variables live tests are skipped on a laptop and fail with ``CI=true``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.environment import IN_CI

READY_TIMEOUT_SECONDS = float(os.environ.get("LIVE_READY_TIMEOUT", "2400"))
_ready: set[str] = set()


@dataclass(frozen=True)
class LiveEhrbase:
    """A running real EHRbase and the console's two accounts on it."""

    url: str
    user: str
    password: str
    admin_user: str
    admin_password: str


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the live tier must run)")
    pytest.skip(message)


def _startup_failure() -> str | None:
    path = os.environ.get("LIVE_FAILURE_FILE")
    if path and Path(path).exists():
        return Path(path).read_text()
    return None


def wait_until_ready(name: str, url: str, auth: tuple[str, str] | None = None) -> None:
    """Wait for ``url`` to answer 200 (once per session); fail with the start-up error if the
    servers could not be started, or when the bounded wait is over."""
    if url in _ready:
        return
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        failure = _startup_failure()
        if failure:
            _missing(f"{name} could not be started: {failure}")
        try:
            response = requests.get(
                url, auth=auth, headers={"Accept": "application/json"}, timeout=5
            )
            if response.status_code == 200:
                _ready.add(url)
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"{name} did not answer at {url} within {READY_TIMEOUT_SECONDS:.0f} s "
                "(see .stack/logs/)"
            )
        time.sleep(1)


def live_ehrbase() -> LiveEhrbase:
    """The real EHRbase, once it is ready; skips (or fails in CI) when it is not running."""
    url = os.environ.get("LIVE_EHRBASE_URL")
    if not url:
        _missing(
            "LIVE_EHRBASE_URL is not set: the live servers run under "
            "'make test' with CI=true or STACK_LIVE=1"
        )
    server = LiveEhrbase(
        url=str(url).rstrip("/"),
        user=os.environ["LIVE_EHRBASE_USER"],
        password=os.environ["LIVE_EHRBASE_PASSWORD"],
        admin_user=os.environ["LIVE_EHRBASE_ADMIN_USER"],
        admin_password=os.environ["LIVE_EHRBASE_ADMIN_PASSWORD"],
    )
    wait_until_ready("EHRbase", f"{server.url}/rest/status", (server.user, server.password))
    return server


def live_fhir_url() -> str:
    """The real HAPI FHIR base URL (``.../fhir``), once it answers ``/metadata``."""
    url = os.environ.get("LIVE_FHIR_URL")
    if not url:
        _missing(
            "LIVE_FHIR_URL is not set: the live servers run under "
            "'make test' with CI=true or STACK_LIVE=1"
        )
    base = str(url).rstrip("/")
    wait_until_ready("HAPI FHIR", f"{base}/metadata")
    return base
