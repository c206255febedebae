"""Helpers shared by the test suites: users, sign-in and CSRF tokens."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from console.admin.users.accounts import create_user
from console.auth import clock as auth_clock
from console.db import db
from console.db.models import Role, User
from console.permissions import ADMIN_PERMISSIONS

DEFAULT_PASSWORD = "correct horse battery staple 42"
# The authenticator key given to test users whose roles make them administrators (two-factor is
# required of them by default); ``sign_in`` completes the code step for them.
ADMIN_TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
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
    """Create a user with the named roles (and any extra model fields); return its id.

    A user whose roles grant an administrative permission gets ``ADMIN_TOTP_SECRET`` as
    an enrolled authenticator unless the test sets ``totp_enabled`` itself.
    """
    with app.app_context():
        user = create_user(
            username=username,
            email=email or f"{username}@example.org",
            full_name=full_name or username.title(),
            password=password,
            role_names=list(roles),
            must_change_password=fields.pop("must_change_password", False),
        )
        if user.permissions & ADMIN_PERMISSIONS and "totp_enabled" not in fields:
            fields |= {"totp_secret": ADMIN_TOTP_SECRET, "totp_enabled": True}
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
    """Sign in through the real form; return the response. For a user enrolled with
    ``ADMIN_TOTP_SECRET`` the code step is completed too (its response is returned)."""
    token = csrf_token(client, "/auth/login")
    response = client.post(
        "/auth/login", data={"csrf_token": token, "username": username, "password": password}
    )
    if response.status_code == 302 and response.headers["Location"] == "/auth/login/code":
        app = client.application
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == username.lower()))
            if user is None or user.totp_secret != ADMIN_TOTP_SECRET:
                return response
            # Codes are single-use per time step; tests sign the same user in many times.
            db.session.execute(
                update(User).where(User.id == user.id).values(totp_last_used_step=None)
            )
            db.session.commit()
        token = csrf_token(client, "/auth/login/code")
        response = client.post(
            "/auth/login/code",
            data={"csrf_token": token, "code": pyotp.TOTP(ADMIN_TOTP_SECRET).at(auth_clock.now())},
        )
    return response


def as_user(app: Flask, *roles: str, username: str | None = None) -> FlaskClient:
    """A test client signed in, through the real form, as a new user holding ``roles``
    (``username``, or ``user1``, ``user2``... in the order they are made for ``app``); administrators complete the two-factor step."""
    name = (
        username or f"user{next(app.extensions.setdefault('tests.new_users', itertools.count(1)))}"
    )
    make_user(app, name, roles=roles)
    client = app.test_client()
    response = sign_in(client, name)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    return client


def user_id_of(app: Flask, username: str) -> int:
    """The id of the user called ``username``."""
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == username))
        assert found is not None, f"no user {username}"
        return found
