"""Fixtures of the sign-in and session tests: a controllable clock, apps on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask import Flask

from console.auth import clock as auth_clock
from tests.support.auth import FakeClock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Replace ``console.auth.clock.now``; the fake starts at the real current time."""
    fake = FakeClock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(auth_clock, "now", fake.now)
    return fake


@pytest.fixture
def db_app(any_app_factory: Callable[..., Flask]) -> Flask:
    """A console on SQLite, then on PostgreSQL."""
    return any_app_factory()
