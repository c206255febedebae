"""Fixtures for the ops tests: HAPI and EHRbase emulators, apps wired to them, signed-in users."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.sandbox.ehrbase import start_ehrbase_emulator
from console.sandbox.hapi import start_hapi_emulator
from console.sandbox.server import EmulatorServer
from tests.helpers import make_user, sign_in

API_USER = "quill-console"
API_PASSWORD = "ehrbase-user-pw-7f3a9c"
ADMIN_USER = "quill-console-admin"
ADMIN_PASSWORD = "ehrbase-admin-pw-2b8e1d"


def _fresh(server: EmulatorServer) -> None:
    server.clear_faults()
    server.accept_connections()
    server.injector.requests.clear()


@pytest.fixture(scope="session")
def _hapi_server() -> Iterator[tuple[EmulatorServer, str]]:
    server, url = start_hapi_emulator()
    yield server, url
    server.stop()


@pytest.fixture(scope="session")
def _ehrbase_server() -> Iterator[tuple[EmulatorServer, str]]:
    server, url = start_ehrbase_emulator(
        user=API_USER, password=API_PASSWORD, admin_user=ADMIN_USER, admin_password=ADMIN_PASSWORD
    )
    yield server, url
    server.stop()


@pytest.fixture
def hapi(_hapi_server: tuple[EmulatorServer, str]) -> Iterator[tuple[EmulatorServer, str]]:
    """A HAPI FHIR emulator (shared by the ops tests), healthy at the start of each test."""
    _fresh(_hapi_server[0])
    yield _hapi_server
    _fresh(_hapi_server[0])


@pytest.fixture
def ehrbase(_ehrbase_server: tuple[EmulatorServer, str]) -> Iterator[tuple[EmulatorServer, str]]:
    """An EHRbase emulator (shared by the ops tests), healthy at the start of each test."""
    _fresh(_ehrbase_server[0])
    yield _ehrbase_server
    _fresh(_ehrbase_server[0])


@pytest.fixture
def stack_app(
    app_factory: Callable[..., Flask],
    hapi: tuple[EmulatorServer, str],
    ehrbase: tuple[EmulatorServer, str],
) -> Callable[..., Flask]:
    """Apps pointed at both emulators; keyword arguments override config."""

    def build(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "FHIR_SERVER_URL": hapi[1],
            "EHRBASE_URL": ehrbase[1],
            "EHRBASE_API_USER": API_USER,
            "EHRBASE_API_PASSWORD": API_PASSWORD,
            "EHRBASE_API_ADMIN_USER": ADMIN_USER,
            "EHRBASE_API_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "OPS_STARTUP_GRACE_SECONDS": 0,
        }
        config.update(overrides)
        return app_factory(**config)

    return build


def signed_in_client(app: Flask, username: str, roles: tuple[str, ...]) -> FlaskClient:
    """A browser signed in as a new user with ``roles``."""
    make_user(app, username, roles=roles)
    client = app.test_client()
    response = sign_in(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def request_lines(text: str) -> list[dict[str, Any]]:
    """The request log lines (JSON) in captured stderr."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "request":
                lines.append(entry)
    return lines
