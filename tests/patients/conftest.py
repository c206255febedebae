"""Fixtures for the patient pages: the HAPI emulator, a console pointed at it, signed-in users."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.fhir import Hapi, hapi, hapi_server  # noqa: F401  (fixtures)
from tests.support.users import as_user


@pytest.fixture
def console(app_factory: Callable[..., Flask], hapi: Hapi) -> Flask:  # noqa: F811
    """A console using the emulator: no retries or backoff, so faults show at once."""
    return app_factory(
        FHIR_SERVER_URL=hapi.base_url,
        FHIR_RETRIES=0,
        FHIR_BACKOFF_FACTOR=0,
        FHIR_BREAKER_THRESHOLD=1000,
    )


@pytest.fixture
def signed_in(console: Flask) -> Callable[..., FlaskClient]:
    """``signed_in(roles)`` → a test client signed in as a new user with those roles."""

    def make(roles: tuple[str, ...] = ("Clinician",)) -> FlaskClient:
        return as_user(console, *roles)

    return make


@pytest.fixture
def clinician(signed_in: Callable[..., FlaskClient]) -> FlaskClient:
    """A signed-in Clinician (patients.search and patients.view)."""
    return signed_in(("Clinician",))
