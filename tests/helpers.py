"""Helpers shared by the test suites: users, sign-in and CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console.admin.accounts import create_user
from console.db import db
from console.db.models import Role, User

DEFAULT_PASSWORD = "correct horse battery staple 42"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_CSRF_INPUT = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def make_user(
    app: Flask,
    username: str = "alice",
    *,
    roles: tuple[str, ...] = ("Clinician",),
    password: str = DEFAULT_PASSWORD,
    email: str | None = None,
    full_name: str | None = None,
    **fields: Any,
) -> int:
    """Create a user with the named roles (and any extra model fields); return its id."""
    with app.app_context():
        user = create_user(
            username=username,
            email=email or f"{username}@example.org",
            full_name=full_name or username.title(),
            password=password,
            role_names=list(roles),
            must_change_password=fields.pop("must_change_password", False),
        )
        for name, value in fields.items():
            setattr(user, name, value)
        db.session.commit()
        return user.id


def role_id(app: Flask, name: str) -> int:
    """The id of a seeded role."""
    with app.app_context():
        return db.session.scalar(select(Role.id).where(Role.name == name))


def get_user(app: Flask, user_id: int) -> User:
    """A fresh copy of a user (detached, attributes loaded)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        db.session.expunge(user)
        return user


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """A valid CSRF token for this client's session, read from a page."""
    html = client.get(path).get_data(as_text=True)
    match = _CSRF_META.search(html) or _CSRF_INPUT.search(html)
    assert match, f"no CSRF token on {path}"
    return next(g for g in match.groups() if g)


def sign_in(client: FlaskClient, username: str = "alice", password: str = DEFAULT_PASSWORD) -> Any:
    """Sign in through the real form; return the response."""
    token = csrf_token(client, "/auth/login")
    return client.post(
        "/auth/login", data={"csrf_token": token, "username": username, "password": password}
    )
