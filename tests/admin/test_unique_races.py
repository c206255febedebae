"""Simultaneous saves of the same name on PostgreSQL: one wins, the others get the form back with
a message (409), never a 500. A held, uncommitted row makes the requests pass their own checks
and queue on the unique index, so the race happens on every run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import func, select

from console.db import db
from console.db.models import Role, User, UserRole
from tests.support.admin import Admin, insert_users, shared_hash, signed_in
from tests.support.users import role_id


def _dsn(app: Flask) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg", "postgresql")


def _race(
    app: Flask, hold_sql: str, hold_args: tuple[Any, ...], posts: list[Callable[[], Any]]
) -> list[Any]:
    """Hold a conflicting uncommitted row, start every post, wait until they all queue behind
    it, let go (roll back), and return the responses."""
    responses: list[Any] = [None] * len(posts)

    def run(index: int) -> None:
        responses[index] = posts[index]()

    with psycopg.connect(_dsn(app)) as holder:
        holder.execute(hold_sql, hold_args)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(posts))]
        for thread in threads:
            thread.start()
        with psycopg.connect(_dsn(app), autocommit=True) as watcher:
            for _ in range(1000):  # wait on a condition: every request blocked on a lock
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if row and row[0] >= len(posts):
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the requests never all queued behind the held row")
        holder.rollback()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def _admins(app: Flask, count: int) -> list[Admin]:
    return [signed_in(app, f"admin{i}", ("System administrator",)) for i in range(count)]


@pytest.mark.postgres
def test_simultaneous_creates_of_one_username_and_one_role_name(
    pg_app_factory: Callable[..., Flask],
) -> None:
    app = pg_app_factory()
    admins = _admins(app, 3)
    clinician = str(role_id(app, "Clinician"))
    tokens = [admin.token() for admin in admins]

    def create_user(i: int) -> Callable[[], Any]:
        form = {"csrf_token": tokens[i], "username": "racer", "full_name": f"Racer {i}",
                "email": f"racer{i}@example.org", "roles": [clinician],
                "password_mode": "generate"}  # fmt: skip
        return lambda: admins[i].client.post("/admin/users/new", data=form)

    responses = _race(
        app,
        "INSERT INTO users (username, email, full_name, password_hash, active, totp_enabled,"
        " failed_login_count, must_change_password, must_enrol_totp, created_at, updated_at,"
        " version) VALUES ('racer', 'held@example.org', 'Held', %s, true, false, 0, false,"
        " false, now(), now(), 1)",
        (shared_hash(),),
        [create_user(i) for i in range(3)],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [303, 409, 409]  # the winner is sent to its one-time password page
    for response in responses:
        if response.status_code == 409:
            assert "That username was taken a moment ago" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(User.username == "racer")) == 1

    def create_role(i: int) -> Callable[[], Any]:
        form = {"csrf_token": tokens[i], "name": "Ward clerk", "permissions": ["patients.search"]}
        return lambda: admins[i].client.post("/admin/roles/new", data=form)

    responses = _race(
        app,
        "INSERT INTO roles (name, description, created_at, updated_at, version)"
        " VALUES ('Ward clerk', '', now(), now(), 1)",
        (),
        [create_role(i) for i in range(3)],
    )
    assert sorted(r.status_code for r in responses) == [302, 409, 409]
    for response in responses:
        if response.status_code == 409:
            assert "A role with that name was created a moment ago" in response.get_data(
                as_text=True
            )
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Role.name == "Ward clerk")) == 1


@pytest.mark.postgres
def test_a_double_submitted_bulk_role_assignment(pg_app_factory: Callable[..., Flask]) -> None:
    app = pg_app_factory()
    (admin,) = _admins(app, 1)
    (target,) = insert_users(app, [{"username": "target"}])
    role = role_id(app, "Clinician")
    form = admin.confirmed(
        {"action": "assign_role", "role_id": str(role), "scope": "selected", "ids": [str(target)]}
    )
    form["csrf_token"] = admin.token()
    responses = _race(
        app,
        "INSERT INTO user_roles (user_id, role_id) VALUES (%s, %s)",
        (target, role),
        [lambda: admin.client.post("/admin/users/bulk", data=form) for _ in range(2)],
    )
    assert sorted(r.status_code for r in responses) == [302, 409]
    refused = next(r for r in responses if r.status_code == 409)
    assert "Someone else changed the roles of these users at the same moment" in refused.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(UserRole.user_id == target)) == 1
