"""Fixtures of the single sign-on tests: a fake provider for token validation, and a real
Keycloak (started once per test session) for the journeys."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from console.appsettings import store_setting
from console.db import db
from tests.sso.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp, serve

FAKE_IDP_PORT = int(os.environ.get("SSO_TEST_FAKE_IDP_PORT", "18184"))
DEAD_PORT = int(os.environ.get("SSO_TEST_DEAD_PORT", "18185"))


@pytest.fixture(scope="session")
def _fake_idp_server() -> Iterator[FakeIdp]:
    with serve(FAKE_IDP_PORT) as idp:
        yield idp


@pytest.fixture
def fake_idp(_fake_idp_server: FakeIdp) -> FakeIdp:
    """The fake provider, reset for this test."""
    _fake_idp_server.reset()
    return _fake_idp_server


def sso_environ(issuer: str) -> dict[str, str]:
    """The environment of a console using ``issuer``."""
    return {
        "CONSOLE_ENV": "testing",
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }


def configure(app: Flask, **values: object) -> None:
    """Store ``sso.*`` settings (keyword names without the prefix)."""
    with app.app_context():
        for key, value in values.items():
            store_setting(f"sso.{key}", value, None)
        db.session.commit()


@pytest.fixture
def sso_app(app_factory: Callable[..., Flask], fake_idp: FakeIdp) -> Flask:
    """A console signing in with the fake provider; ``clinicians`` maps to Clinician."""
    app = app_factory(ENVIRON=sso_environ(fake_idp.issuer))
    configure(app, role_mapping="clinicians = Clinician; auditors = Auditor")
    return app


def sso_sign_in(client: FlaskClient, idp: FakeIdp, **claims: object) -> TestResponse:
    """Go through the flow: start, the provider's answer (with ``claims`` changed), callback."""
    start = client.get("/auth/sso/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    state, nonce = idp.authorize(start.headers["Location"])
    idp.pending_nonce = nonce
    idp.claims = dict(claims)
    return client.get(f"/auth/sso/callback?code={idp.last_code()}&state={state}")
