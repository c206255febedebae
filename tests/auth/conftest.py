"""Fixtures of the sign-in and session tests: a controllable clock, apps on both databases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from console.auth import clock as auth_clock


@dataclass
class FakeClock:
    """Time that stands still until a test moves it forward."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Replace ``console.auth.clock.now``; the fake starts at the real current time."""
    fake = FakeClock(datetime.now(UTC).replace(microsecond=0))
    monkeypatch.setattr(auth_clock, "now", fake.now)
    return fake


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_app_factory(
    request: pytest.FixtureRequest, app_factory: Callable[..., Flask]
) -> Callable[..., Flask]:
    """Like ``any_app_factory``: the test runs on SQLite and on PostgreSQL, the PostgreSQL run
    carrying the ``postgres`` marker (so ``-m "not postgres"`` leaves it out)."""
    if request.param == "sqlite":
        return app_factory
    return request.getfixturevalue("pg_app_factory")


@pytest.fixture
def db_app(db_app_factory: Callable[..., Flask]) -> Flask:
    """A console on SQLite, then on PostgreSQL."""
    return db_app_factory()
