"""Two administrators disabling each other at the same moment on PostgreSQL: one must lose."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from flask import Flask
from sqlalchemy import select

from console.admin.users.bulk import apply_to_user
from console.admin.users.guards import LastAdminError
from console.db import db
from console.db.models import User
from tests.support.admin import insert_users


@pytest.mark.postgres
def test_simultaneous_mutual_disabling_leaves_one_administrator(
    pg_app_factory: Callable[..., Flask],
) -> None:
    app = pg_app_factory()
    alice, bob = insert_users(app, [{"username": "alice"}, {"username": "bob"}],
                              roles=("System administrator",))  # fmt: skip
    dsn = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg", "postgresql")
    outcomes: dict[str, str] = {}

    def disable(name: str, target: int) -> None:
        with app.app_context():
            try:
                apply_to_user("disable", target)
                outcomes[name] = "done"
            except LastAdminError:
                outcomes[name] = "refused"

    with psycopg.connect(dsn) as holder:
        # Hold the administrators' rows so both changes start and queue behind the lock.
        holder.execute("SELECT id FROM users WHERE id IN (%s, %s) FOR UPDATE", (alice, bob))
        threads = [
            threading.Thread(target=disable, args=("alice disables bob", bob)),
            threading.Thread(target=disable, args=("bob disables alice", alice)),
        ]
        for thread in threads:
            thread.start()
        with psycopg.connect(dsn, autocommit=True) as watcher:
            for _ in range(500):  # wait until both are blocked on the lock
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0] >= 2:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the two changes never both waited for the lock")
        holder.rollback()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["done", "refused"]
    with app.app_context():
        active = list(db.session.scalars(select(User.username).where(User.active.is_(True))))
    assert len(active) == 1
