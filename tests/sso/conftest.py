"""Fixtures of the single sign-on tests: a fake provider for token validation, and a real
Keycloak (started once per test session) for the journeys."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from stack import keycloak as keycloak_stack
from stack.spec import ServerSpec
from tests.sso.fake_idp import FakeIdp, serve
from tests.support.sso import CONSOLE_PORT, KEYCLOAK_PORT, configure, sso_environ

FAKE_IDP_PORT = int(os.environ.get("SSO_TEST_FAKE_IDP_PORT", "18184"))


@pytest.fixture(scope="session")
def _fake_idp_server() -> Iterator[FakeIdp]:
    with serve(FAKE_IDP_PORT) as idp:
        yield idp


@pytest.fixture
def fake_idp(_fake_idp_server: FakeIdp) -> FakeIdp:
    """The fake provider, reset for this test."""
    _fake_idp_server.reset()
    return _fake_idp_server


@pytest.fixture
def sso_app(app_factory: Callable[..., Flask], fake_idp: FakeIdp) -> Flask:
    """A console signing in with the fake provider; ``clinicians`` maps to Clinician."""
    app = app_factory(ENVIRON=sso_environ(fake_idp.issuer))
    configure(app, role_mapping="clinicians = Clinician; auditors = Auditor")
    return app


# --- the real Keycloak ----------------------------------------------------------------------

KEYCLOAK_MANAGEMENT_PORT = int(os.environ.get("SSO_TEST_KEYCLOAK_MANAGEMENT_PORT", "19083"))
IN_CI = os.environ.get("CI", "").lower() == "true"
KEYCLOAK_START_SECONDS = float(os.environ.get("SSO_TEST_KEYCLOAK_START_SECONDS", "1200"))


def _unavailable(reason: str) -> None:
    """Skip on a laptop without the tools; fail in CI, where they must be there."""
    if IN_CI:
        pytest.fail(f"Keycloak journeys cannot run in CI: {reason}")
    pytest.skip(reason)


def run_server(spec: ServerSpec, log_path: Path) -> Iterator[None]:
    """Start ``spec``'s process, wait until its readiness URL answers 200, stop it afterwards
    (the whole process group: ``kc.sh`` starts Java as a child)."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        spec.command,
        cwd=spec.cwd,
        env={**os.environ, **spec.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + spec.ready_timeout_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{spec.name} exited with {process.returncode}; see {log_path}")
            try:
                if requests.get(spec.ready_url, timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{spec.name} was not ready in time; see {log_path}")
            time.sleep(1)
        yield
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Keycloak (Maven Central) with the test realm; yields its issuer URL.

    ``SSO_TEST_KEYCLOAK_RUNNING=1`` uses one already started from the same spec and realm
    (``python -m stack.keycloak``), to save its start-up time while working on the journeys.
    """
    if os.environ.get("SSO_TEST_KEYCLOAK_RUNNING") == "1":
        yield keycloak_stack.issuer(KEYCLOAK_PORT)
        return
    if keycloak_stack.java_home() is None:
        _unavailable(f"Keycloak needs Java {keycloak_stack.MIN_JAVA} or newer")
    try:
        keycloak_stack.fetch()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        _unavailable(f"Keycloak could not be fetched: {exc}")
    folder = tmp_path_factory.mktemp("keycloak")
    realm = keycloak_stack.write_realm(
        folder / "realm.json",
        f"http://127.0.0.1:{CONSOLE_PORT}",
        users=(keycloak_stack.SSO_TEST_USER,),
    )
    spec = keycloak_stack.spec(KEYCLOAK_PORT, realm, management_port=KEYCLOAK_MANAGEMENT_PORT)
    # A shared, busy machine can take many minutes to start it; the log outlives pytest's
    # temporary folders.
    spec = dataclasses.replace(spec, ready_timeout_seconds=KEYCLOAK_START_SECONDS)
    logs = keycloak_stack.STATE_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for _ in run_server(spec, logs / "keycloak-tests.log"):
        yield keycloak_stack.issuer(KEYCLOAK_PORT)
