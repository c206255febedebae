"""Helpers of the sign-in tests: cookies, forms with CSRF tokens, audit rows, TOTP codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from console.auth import clock as auth_clock
from console.auth.sessions import COOKIE_NAME, SECURE_COOKIE_NAME
from console.db import db
from console.db.models import UserSession
from tests.support.users import DEFAULT_PASSWORD, csrf_token

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def session_cookie(client: FlaskClient, secure: bool = False) -> str | None:
    """The value of the session cookie the client holds."""
    cookie = client.get_cookie(SECURE_COOKIE_NAME if secure else COOKIE_NAME)
    return cookie.value if cookie is not None else None


def set_session_cookie(client: FlaskClient, value: str) -> None:
    """Make the client send this session cookie (replaying an old one)."""
    client.set_cookie(COOKIE_NAME, value)


def post_form(
    client: FlaskClient, path: str, data: dict[str, str] | None = None, *, token_from: str = "/"
) -> TestResponse:
    """POST a form with a valid CSRF token read from ``token_from``."""
    token = csrf_token(client, token_from)
    return client.post(path, data={"csrf_token": token, **(data or {})})


def login_form(
    client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD
) -> TestResponse:
    """Submit the sign-in form (first step)."""
    return post_form(
        client,
        "/auth/login",
        {"username": username, "password": password},
        token_from="/auth/login",
    )


def submit_code(client: FlaskClient, code: str) -> TestResponse:
    """Submit the second step of sign-in."""
    return post_form(client, "/auth/login/code", {"code": code}, token_from="/auth/login/code")


def code_at(secret: str, when: Any, steps_ahead: int = 0) -> str:
    """The TOTP code for ``when`` (a datetime), ``steps_ahead`` time steps later."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(when) + steps_ahead)


def session_rows(app: Flask, user_id: int | None = None) -> list[UserSession]:
    """Stored sessions (of one user when given), detached."""
    with app.app_context():
        query = select(UserSession)
        if user_id is not None:
            query = query.where(UserSession.user_id == user_id)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def signed_in(client: FlaskClient) -> bool:
    """True when the client reaches the dashboard (not sent to sign-in)."""
    return client.get("/").status_code == 200


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
