"""Test support for admin: helpers and fixtures shared by its tests."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from console.appsettings import get_setting
from console.auth.passwords import hash_password
from console.db import db
from console.db.models import AuditEvent, Role, User, UserRole, UserSession, utcnow
from tests.support.users import (
    DEFAULT_PASSWORD,
    as_user,
    csrf_token,
    user_id_of,
)

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
    client = as_user(app, *roles, username=username)
    return Admin(app, client, user_id_of(app, username))


BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def add_events(app: Flask, rows: list[dict[str, Any]]) -> None:
    """Insert audit events directly (the table is append-only, so only inserts)."""
    with app.app_context():
        defaults = {"outcome": "success", "occurred_at": BASE}
        db.session.execute(insert(AuditEvent), [defaults | row for row in rows])
        db.session.commit()


def shown_actions(html: str) -> list[str]:
    return re.findall(r"<div class=\"hint\"><code>([a-z0-9_.]+)</code></div></td>", html)


def role_form(admin: Admin, role_id: int) -> dict[str, str]:
    html = admin.get(f"/admin/roles/{role_id}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert version, html
    return {"version": version.group(1)}


def form_values(admin: Admin) -> dict[str, str]:
    """Every setting and its ``original:`` twin, as the page's form would send them."""
    html = admin.get("/admin/settings").get_data(as_text=True)
    values: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]*name="([a-z_.:]+)" value="([^"]*)"', html):
        values[name] = value
    for name, value in re.findall(
        r'<select[^>]*name="([a-z_.]+)"[^>]*>.*?<option value="(true|false)" selected>', html, re.S
    ):
        values[name] = value
    return values


def setting(app: Flask, key: str) -> Any:
    with app.test_request_context():
        return get_setting(key)


def edit_form(admin: Admin, user_id: int) -> dict[str, str]:
    """The edit form's hidden fields as the page shows them."""
    html = admin.get(f"/admin/users/{user_id}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    original = re.search(r'name="original"[^>]*value="([^"]*)"', html)
    assert version and original, html
    return {"version": version.group(1), "original": original.group(1).replace("&#34;", '"')}
