"""Fixtures for the patient pages: the HAPI emulator, a console pointed at it, signed-in users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.appsettings import store_setting
from console.db import db
from tests.fhir.conftest import Hapi, hapi, hapi_server  # noqa: F401  (fixtures)
from tests.helpers import make_user, sign_in


def set_settings(app: Flask, **values: Any) -> None:
    """Store application settings, e.g. ``set_settings(app, **{"clinical.fhir_page_size": 2})``."""
    with app.app_context():
        for key, value in values.items():
            store_setting(key, value, None)
        db.session.commit()


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
    counter = {"n": 0}

    def make(roles: tuple[str, ...] = ("Clinician",)) -> FlaskClient:
        counter["n"] += 1
        username = f"user{counter['n']}"
        make_user(console, username, roles=roles)
        client = console.test_client()
        response = sign_in(client, username)
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
        return client

    return make


@pytest.fixture
def clinician(signed_in: Callable[..., FlaskClient]) -> FlaskClient:
    """A signed-in Clinician (patients.search and patients.view)."""
    return signed_in(("Clinician",))
