"""Fixtures for the ops tests: HAPI and EHRbase emulators, apps wired to them, signed-in users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from console.sandbox.ehrbase import start_ehrbase_emulator
from console.sandbox.hapi import start_hapi_emulator
from console.sandbox.server import EmulatorServer
from tests.support.ops import ADMIN_PASSWORD, API_PASSWORD

API_USER = "quill-console"
ADMIN_USER = "quill-console-admin"


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
