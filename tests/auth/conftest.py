"""Fixtures of the sign-in and session tests: a controllable clock, apps on both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.support.auth import clock as clock  # the fixture


@pytest.fixture
def db_app(any_app_factory: Callable[..., Flask]) -> Flask:
    """A console on SQLite, then on PostgreSQL."""
    return any_app_factory()
