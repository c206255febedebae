"""Fixtures for the letter pages: both emulators, a console pointed at them, patients, letters.

The EHRbase emulator is shared by the session, so each test gets its own EHR subject
namespace (a setting): patients of different tests never share an EHR.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.support.fhir import hapi, hapi_server  # noqa: F401  (fixtures)
from tests.support.letters import World
from tests.support.letters import world as world  # the fixture
from tests.support.openehr import ehrbase, ehrbase_server  # noqa: F401  (fixtures)
from tests.support.users import as_user


@pytest.fixture
def signed_in(world: World) -> Callable[..., FlaskClient]:
    """``signed_in(roles)`` → a test client signed in as a new user with those roles."""

    readers = itertools.count(1)

    def make(roles: tuple[str, ...] = ("Clinician",)) -> FlaskClient:
        return as_user(world.app, *roles, username=f"reader{next(readers)}")

    return make


@pytest.fixture
def clinician(signed_in: Callable[..., FlaskClient]) -> FlaskClient:
    """A signed-in Clinician (patients and letters)."""
    return signed_in(("Clinician",))
