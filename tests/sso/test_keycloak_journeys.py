"""Journeys against a real Keycloak (Maven Central, ``kc.sh start-dev`` on loopback): the
console served on a real port, a ``requests`` session following Keycloak's own login form.

First sign-in creates the user with the mapped role; a role removed in Keycloak is removed at
the next sign-in; signing out of the console ends the Keycloak session; a back-channel logout
sent by Keycloak (through its admin API) ends the console session.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
import requests
from flask import Flask
from sqlalchemy import select, update
from werkzeug.serving import make_server

from console.db import db
from console.db.models import AuditEvent, User
from stack import keycloak as kc
from stack.sandbox import configure_sso
from tests.support.sso import CONSOLE_PORT, KEYCLOAK_PORT

pytestmark = pytest.mark.live
CONSOLE = f"http://127.0.0.1:{CONSOLE_PORT}"
KEYCLOAK = f"http://127.0.0.1:{KEYCLOAK_PORT}"
USER = kc.SSO_TEST_USER
_FORM = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', re.S)
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def console(app_factory: Callable[..., Flask], keycloak: str) -> Iterator[Flask]:
    """The console, configured for the test realm, served on its registered address."""
    app = app_factory(
        ENVIRON={
            "CONSOLE_ENV": "testing",
            "OIDC_ISSUER": keycloak,
            "OIDC_CLIENT_ID": kc.CLIENT_ID,
            "OIDC_CLIENT_SECRET": kc.CLIENT_SECRET,
        }
    )
    configure_sso(app)  # the settings make stack gives the console
    server = make_server("127.0.0.1", CONSOLE_PORT, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        thread.join()


class KeycloakAdmin:
    """Keycloak's admin REST API, as the realm's administrator would use it."""

    def __init__(self) -> None:
        answer = requests.post(
            f"{KEYCLOAK}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": kc.ADMIN[0],
                "password": kc.ADMIN[1],
            },
            timeout=30,
        )
        answer.raise_for_status()
        self.http = requests.Session()
        self.http.headers["Authorization"] = "Bearer " + answer.json()["access_token"]
        self.base = f"{KEYCLOAK}/admin/realms/{kc.REALM}"

    def user_id(self, username: str) -> str:
        found = self.http.get(f"{self.base}/users", params={"username": username, "exact": "true"})
        found.raise_for_status()
        return str(found.json()[0]["id"])

    def sessions(self, username: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.base}/users/{self.user_id(username)}/sessions")
        answer.raise_for_status()
        return list(answer.json())

    def set_realm_role(self, username: str, role: str, granted: bool) -> None:
        role_body = self.http.get(f"{self.base}/roles/{role}").json()
        url = f"{self.base}/users/{self.user_id(username)}/role-mappings/realm"
        answer = (self.http.post if granted else self.http.delete)(url, json=[role_body])
        answer.raise_for_status()

    def log_out(self, username: str) -> None:
        """End the user's sessions; Keycloak sends back-channel logout tokens to clients."""
        self.http.post(f"{self.base}/users/{self.user_id(username)}/logout").raise_for_status()


@pytest.fixture
def keycloak_admin(keycloak: str) -> Iterator[KeycloakAdmin]:
    admin = KeycloakAdmin()
    yield admin
    admin.set_realm_role(USER.username, "clinician", True)
    admin.log_out(USER.username)


class LoopbackBrowser(requests.Session):
    """A ``requests`` session that sends ``Secure`` cookies to loopback over plain HTTP, as
    browsers do (Keycloak marks its login cookies ``Secure``)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response


def new_browser() -> requests.Session:
    """A browser-like ``requests`` session."""
    return LoopbackBrowser()


def sign_in_through_keycloak(browser: requests.Session) -> requests.Response:
    """Start at the console's button, fill Keycloak's login form, come back signed in."""
    page = browser.get(f"{CONSOLE}/auth/sso/login", timeout=30)
    assert page.url.startswith(KEYCLOAK), page.url
    form = _FORM.search(page.text)
    assert form, "no Keycloak login form"
    return browser.post(
        html.unescape(form.group(1)),
        data={"username": USER.username, "password": USER.password, "credentialId": ""},
        timeout=30,
    )


def signed_in(browser: requests.Session) -> bool:
    answer = browser.get(f"{CONSOLE}/auth/account", allow_redirects=False, timeout=30)
    return answer.status_code == 200


def console_roles(app: Flask) -> list[str]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == USER.email))
        assert user is not None
        return sorted(role.name for role in user.roles)


def test_first_sign_in_creates_the_user_with_the_mapped_role(
    console: Flask, keycloak_admin: KeycloakAdmin
) -> None:
    browser = new_browser()
    landing = sign_in_through_keycloak(browser)
    assert landing.url.startswith(CONSOLE), landing.url
    assert signed_in(browser)
    assert console_roles(console) == ["Clinician"]
    with console.app_context():
        added = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "sso.role_added")
        ).all()
        assert [(e.details["role"], e.details["claim"]) for e in added] == [
            ("Clinician", "realm_access.roles")
        ]


def test_a_role_removed_in_keycloak_is_removed_at_the_next_sign_in(
    console: Flask, keycloak_admin: KeycloakAdmin
) -> None:
    sign_in_through_keycloak(new_browser())
    assert console_roles(console) == ["Clinician"]
    keycloak_admin.set_realm_role(USER.username, "clinician", False)
    keycloak_admin.log_out(USER.username)

    browser = new_browser()
    sign_in_through_keycloak(browser)

    assert signed_in(browser)
    assert console_roles(console) == []


def test_signing_out_of_the_console_ends_the_keycloak_session(
    console: Flask, keycloak_admin: KeycloakAdmin
) -> None:
    browser = new_browser()
    sign_in_through_keycloak(browser)
    assert keycloak_admin.sessions(USER.username)
    account = browser.get(f"{CONSOLE}/auth/account", timeout=30)
    token = _CSRF.search(account.text)
    assert token

    final = browser.post(f"{CONSOLE}/auth/logout", data={"csrf_token": token.group(1)}, timeout=30)

    assert final.url.startswith(f"{CONSOLE}/auth/login"), final.url
    assert not signed_in(browser)
    assert keycloak_admin.sessions(USER.username) == []


def test_a_back_channel_logout_from_keycloak_ends_the_console_session(
    console: Flask, keycloak_admin: KeycloakAdmin
) -> None:
    browser = new_browser()
    sign_in_through_keycloak(browser)
    assert signed_in(browser)

    keycloak_admin.log_out(USER.username)

    deadline = time.monotonic() + 30
    while signed_in(browser) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not signed_in(browser)
    with console.app_context():
        ended = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.session_ended")
        ).all()
        assert [e.details["reason"] for e in ended] == [
            "back-channel logout from the identity provider"
        ]


def test_after_the_consoles_own_code_step_sign_out_and_back_channel_logout_still_work(
    console: Flask, keycloak_admin: KeycloakAdmin
) -> None:
    """A console user with two-factor passes the code step after Keycloak: the session it
    opens still knows Keycloak's session (the ID token for the logout hint, the sid)."""
    sign_in_through_keycloak(new_browser())  # the first sign-in makes the account
    with console.app_context():
        user = db.session.scalar(select(User).where(User.email == USER.email))
        assert user is not None
        user.totp_secret, user.totp_enabled = pyotp.random_base32(), True
        secret = user.totp_secret
        db.session.commit()
    keycloak_admin.log_out(USER.username)

    def through_the_code_step() -> requests.Session:
        browser = new_browser()
        landing = sign_in_through_keycloak(browser)
        assert landing.url == f"{CONSOLE}/auth/login/code", landing.url
        token = _CSRF_FIELD.search(landing.text)  # signed out yet: the form's own field
        assert token
        code = pyotp.TOTP(secret).now()
        with console.app_context():  # a code is single-use: the second sign-in reuses it
            db.session.execute(update(User).values(totp_last_used_step=None))
            db.session.commit()
        browser.post(
            f"{CONSOLE}/auth/login/code",
            data={"csrf_token": token.group(1), "code": code},
            timeout=30,
        )
        assert signed_in(browser)
        return browser

    browser = through_the_code_step()
    account = browser.get(f"{CONSOLE}/auth/account", timeout=30)
    token = _CSRF.search(account.text)
    assert token
    final = browser.post(f"{CONSOLE}/auth/logout", data={"csrf_token": token.group(1)}, timeout=30)
    # With the ID token as hint Keycloak ends its session without asking and comes back.
    assert final.url.startswith(f"{CONSOLE}/auth/login"), final.url
    assert keycloak_admin.sessions(USER.username) == []

    browser = through_the_code_step()
    keycloak_admin.log_out(USER.username)
    deadline = time.monotonic() + 30
    while signed_in(browser) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not signed_in(browser)
