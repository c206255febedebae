"""Test support for fhir: helpers and fixtures shared by its tests."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from console.fhir import FhirClient
from console.nhs_number import check_digit
from console.sandbox.hapi import HapiEmulator, start_hapi_emulator
from console.sandbox.server import EmulatorServer
from tests.support.environment import IN_CI

LIVE_FHIR_URL_VARIABLE = "LIVE_FHIR_URL"


def live_fhir_url() -> str:
    """The real HAPI FHIR base URL of the ``live`` tier, e.g. ``http://127.0.0.1:18082/fhir``.

    Unset on a laptop without the servers: the test is skipped, saying why. Unset with
    ``CI=true``: the test fails, since CI starts real HAPI and must run the ``live`` tier.
    """
    url = os.environ.get(LIVE_FHIR_URL_VARIABLE, "").strip().rstrip("/")
    if url:
        return url
    message = (
        f"{LIVE_FHIR_URL_VARIABLE} is not set: no real HAPI FHIR server to run the live tests "
        "against (make test starts one when Java and Maven are installed)"
    )
    if IN_CI:
        pytest.fail(message + " (CI=true: the live tier must run)")
    pytest.skip(message)


@dataclass
class Hapi:
    """A running HAPI emulator."""

    server: EmulatorServer
    base_url: str
    app: HapiEmulator

    def requests_to(self, prefix: str = "/fhir") -> list[tuple[str, str]]:
        """The requests the emulator received whose path starts with ``prefix``."""
        return [(m, p) for m, p in self.server.injector.requests if p.startswith(prefix)]


@pytest.fixture(scope="session")
def hapi_server() -> Iterator[Hapi]:
    """One HAPI emulator for the session (stopping a server takes half a second)."""
    server, base_url = start_hapi_emulator()
    yield Hapi(server, base_url, server.injector.app)
    server.stop()


@pytest.fixture
def hapi(hapi_server: Hapi) -> Iterator[Hapi]:
    """The emulator, empty, listening, without faults and with a fresh request log."""
    injector = hapi_server.server.injector
    hapi_server.server.accept_connections()
    hapi_server.server.clear_faults()
    injector.app = hapi_server.app
    hapi_server.app.reset()
    injector.reset_counts()
    yield hapi_server
    hapi_server.server.clear_faults()
    injector.app = hapi_server.app


@pytest.fixture
def make_client(hapi: Hapi) -> Iterator[Callable[..., FhirClient]]:
    """Build clients for the emulator: no retries or backoff unless asked, short timeouts."""
    made: list[FhirClient] = []

    def build(**options: Any) -> FhirClient:
        base_url = options.pop("base_url", hapi.base_url)
        settings: dict[str, Any] = {
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "retries": 0,
            "backoff_factor": 0,
        }
        settings.update(options)
        client = FhirClient(base_url, **settings)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., FhirClient]) -> FhirClient:
    """A client of the emulator."""
    return make_client()


def random_nhs_number() -> str:
    while True:
        first_nine = f"999{random.randrange(1_000_000):06d}"
        digit = check_digit(first_nine)
        if digit is not None:
            return f"{first_nine}{digit}"
