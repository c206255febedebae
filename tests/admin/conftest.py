"""Fixtures for the administration pages: a signed-in administrator, bulk users, sessions."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from console.auth.passwords import hash_password
from console.db import db
from console.db.models import Role, User, UserRole, UserSession, utcnow
from tests.helpers import DEFAULT_PASSWORD, csrf_token, make_user, sign_in

# Hashing once per run keeps bulk users cheap (argon2 costs ~30 ms a hash by design).
_HASH: dict[str, str] = {}


def shared_hash() -> str:
    """One real argon2 hash of the default password, computed once."""
    if "hash" not in _HASH:
        _HASH["hash"] = hash_password(DEFAULT_PASSWORD)
    return _HASH["hash"]


def insert_users(
    app: Flask, rows: Iterable[dict[str, Any]], roles: tuple[str, ...] = ()
) -> list[int]:
    """Insert users directly (no hashing per user); return their ids in insertion order."""
    now = utcnow()
    with app.app_context():
        role_ids = [db.session.scalar(select(Role.id).where(Role.name == name)) for name in roles]
        ids: list[int] = []
        for row in rows:
            values = {
                "full_name": row.get("username", "").title(),
                "email": f"{row['username']}@example.org",
                "password_hash": shared_hash(),
                "active": True,
                "totp_enabled": False,
                "failed_login_count": 0,
                "must_change_password": False,
                "must_enrol_totp": False,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            } | row
            user_id = db.session.execute(
                insert(User).values(**values).returning(User.id)
            ).scalar_one()
            ids.append(user_id)
            for role_id in role_ids:
                db.session.execute(insert(UserRole).values(user_id=user_id, role_id=role_id))
        db.session.commit()
        return ids


def add_session(
    app: Flask,
    user_id: int,
    *,
    expires_in: timedelta = timedelta(hours=1),
    last_seen: datetime | None = None,
    client: str = "10.0.0.1",
    browser: str = "Mozilla/5.0 Test",
) -> str:
    """A live server-side session row for the user; returns its id."""
    with app.app_context():
        session_id = secrets.token_hex(32)
        now = utcnow()
        db.session.add(
            UserSession(
                id=session_id,
                user_id=user_id,
                data={},
                created_at=now - timedelta(minutes=5),
                last_seen_at=last_seen or now,
                expires_at=now + expires_in,
                client_address=client,
                user_agent=browser,
            )
        )
        db.session.commit()
        return session_id


class Admin:
    """A signed-in administrator's browser: GETs and CSRF-protected POSTs."""

    def __init__(self, app: Flask, client: FlaskClient, user_id: int) -> None:
        self.app = app
        self.client = client
        self.user_id = user_id

    def token(self) -> str:
        return csrf_token(self.client, "/")

    def get(self, path: str, htmx: bool = False, **kwargs: Any) -> Any:
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(path, headers=headers, **kwargs)

    def confirmed(self, form: dict[str, Any]) -> dict[str, Any]:
        """The bulk form with the signed confirmation the confirmation dialog carries."""
        html = self.post("/admin/users/bulk/confirm", form).get_data(as_text=True)
        match = re.search(r'name="confirmation" value="([^"]+)"', html)
        assert match, html
        return form | {"confirmation": match.group(1)}

    def post(self, path: str, data: dict[str, Any] | None = None, htmx: bool = False) -> Any:
        payload = {"csrf_token": self.token()} | (data or {})
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(path, data=payload, headers=headers)


def signed_in(app: Flask, username: str, roles: tuple[str, ...]) -> Admin:
    """A new user with ``roles``, signed in through the real form."""
    user_id = make_user(app, username, roles=roles)
    client = app.test_client()
    response = sign_in(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return Admin(app, client, user_id)


@pytest.fixture
def admin(app: Flask) -> Admin:
    """A signed-in System administrator on a fresh SQLite database."""
    return signed_in(app, "root", ("System administrator",))
