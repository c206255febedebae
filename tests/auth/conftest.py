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


@pytest.fixture
def db_app(any_app_factory: Callable[..., Flask]) -> Flask:
    """A console on SQLite, then on PostgreSQL."""
    return any_app_factory()
