"""Test support for openehr: helpers and fixtures shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import pytest

from console.fhir.breaker import CircuitBreaker
from console.openehr.client import EhrbaseClient
from console.sandbox.ehrbase import (
    DEFAULT_ADMIN,
    DEFAULT_USER,
    EhrbaseEmulator,
    emulator_of,
    start_ehrbase_emulator,
)
from console.sandbox.server import EmulatorServer


@dataclass
class Target:
    """Where a contract test runs: the emulator (with its state) or a live server."""

    url: str
    user: str
    password: str
    admin_user: str | None
    admin_password: str | None
    server: EmulatorServer | None = None

    @property
    def emulator(self) -> EhrbaseEmulator | None:
        return emulator_of(self.server) if self.server is not None else None

    def client(self, **overrides: object) -> EhrbaseClient:
        options: dict[str, object] = {
            "user": self.user,
            "password": self.password,
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
            "retries": 0,
            "backoff": 0,
            "read_timeout": 5.0 if self.server else 30.0,
            "breaker": CircuitBreaker(failure_threshold=1000, reset_after_s=60),
        }
        options.update(overrides)
        return EhrbaseClient(self.url, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ehrbase_server() -> Iterator[tuple[EmulatorServer, str]]:
    """One EHRbase emulator for the session (tests use their own subjects)."""
    server, url = start_ehrbase_emulator()
    try:
        yield server, url
    finally:
        server.stop()


@pytest.fixture
def ehrbase(ehrbase_server: tuple[EmulatorServer, str]) -> Iterator[Target]:
    """The EHRbase emulator, with no faults before or after the test."""
    server, url = ehrbase_server
    server.accept_connections()
    server.clear_faults()
    server.injector.reset_counts()
    emulator = emulator_of(server)
    try:
        yield Target(url, *DEFAULT_USER, *DEFAULT_ADMIN, server=server)
    finally:
        server.clear_faults()
        server.accept_connections()
        emulator.foreign_subject, emulator.foreign_only = None, False


class EhrbaseAccounts(Protocol):
    """Where an EHRbase answers and with which accounts (an emulator's or the real one's)."""

    url: str
    user: str
    password: str
    admin_user: str | None
    admin_password: str | None


def ehrbase_config(server: EhrbaseAccounts, **overrides: object) -> dict[str, object]:
    """The console's configuration for ``server`` (plus ``overrides``)."""
    return {
        "EHRBASE_URL": server.url,
        "EHRBASE_API_USER": server.user,
        "EHRBASE_API_PASSWORD": server.password,
        "EHRBASE_API_ADMIN_USER": server.admin_user,
        "EHRBASE_API_ADMIN_PASSWORD": server.admin_password,
        **overrides,
    }
