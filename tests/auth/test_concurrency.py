"""Simultaneous attempts on PostgreSQL: every failed sign-in is counted (none lost to a stale
read), and one two-factor code signs in once however many requests race with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from flask import Flask

from console.auth import services, totp
from console.db import db
from console.db.models import User
from tests.support.audit import audit_rows
from tests.support.auth import TOTP_SECRET, FakeClock, code_at
from tests.support.users import get_user, make_user

pytestmark = pytest.mark.postgres


def _race(app: Flask, user_id: int, work: Callable[[], object], count: int) -> list[object]:
    """Run ``work`` on ``count`` threads at once, all held behind a lock on the user's row until
    every one is waiting, so they really overlap; their results in no particular order."""
    dsn = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg", "postgresql")
    results: list[object] = []

    def run() -> None:
        with app.app_context():
            results.append(work())
            db.session.commit()

    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
        threads = [threading.Thread(target=run) for _ in range(count)]
        for thread in threads:
            thread.start()
        with psycopg.connect(dsn, autocommit=True) as watcher:
            for _ in range(1000):
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0] >= count:
                    break
                time.sleep(0.01)
            else:
                pytest.fail(f"the {count} attempts never all waited for the row")
        holder.rollback()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == count
    return results


def test_simultaneous_wrong_passwords_are_all_counted(pg_app_factory: Callable[..., Flask]) -> None:
    app = pg_app_factory()
    user_id = make_user(app, "alice")
    results = _race(app, user_id, lambda: services.authenticate("alice", "wrong wrong wrong"), 5)
    assert results == [None] * 5
    assert get_user(app, user_id).failed_login_count == 5
    assert len(audit_rows(app, "auth.sign_in")) == 5


def test_one_code_signs_in_once_however_many_requests_race(
    pg_app_factory: Callable[..., Flask], clock: FakeClock
) -> None:
    app = pg_app_factory()
    user_id = make_user(app, "tess", totp_secret=TOTP_SECRET, totp_enabled=True)
    code = code_at(TOTP_SECRET, clock.now())

    def attempt() -> bool:
        user = db.session.get(User, user_id)
        assert user is not None
        return totp.accept_code(user, code)

    results = _race(app, user_id, attempt, 4)
    assert sorted(results) == [False, False, False, True]  # type: ignore[type-var]
