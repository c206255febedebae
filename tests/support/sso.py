"""Single sign-on in tests: a console configured for the fake provider, the sign-in flow
through it, links to its identities, and back-channel logout tokens."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from console.appsettings import store_setting
from console.db import db
from console.sso.logout import LOGOUT_EVENT
from console.sso.models import SsoIdentity
from tests.sso.fake_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp


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


def sso_sign_in(client: FlaskClient, idp: FakeIdp, **claims: object) -> TestResponse:
    """Go through the flow: start, the provider's answer (with ``claims`` changed), callback."""
    start = client.get("/auth/sso/login")
    assert start.status_code == 302, start.get_data(as_text=True)
    state, nonce = idp.authorize(start.headers["Location"])
    idp.pending_nonce = nonce
    idp.claims = dict(claims)
    return client.get(f"/auth/sso/callback?code={idp.last_code()}&state={state}")


def link(app: Flask, user_id: int, subject: str = "subject-1", issuer: str = "") -> None:
    """Link the user to ``subject`` at ``issuer`` (the app's own by default)."""
    with app.app_context():
        issuer = issuer or app.config["SETTINGS"].OIDC_ISSUER
        db.session.add(SsoIdentity(user_id=user_id, issuer=issuer, subject=subject))
        db.session.commit()


def logout_claims(idp: FakeIdp, **changes: Any) -> dict[str, Any]:
    """A valid back-channel logout token's claims for ``subject-1``; a change to None drops
    the claim."""
    claims = {
        "iss": idp.issuer,
        "aud": CLIENT_ID,
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
        "sub": "subject-1",
        "sid": "idp-session-1",
        "events": {LOGOUT_EVENT: {}},
        **changes,
    }
    return {k: v for k, v in claims.items() if v is not None}


def signed_in(client: Any) -> bool:
    """True when the client reaches its own account page."""
    return client.get("/auth/account").status_code == 200


DEAD_PORT = int(os.environ.get("SSO_TEST_DEAD_PORT", "18185"))
KEYCLOAK_PORT = int(os.environ.get("STACK_KEYCLOAK_PORT", "18083"))
CONSOLE_PORT = int(os.environ.get("SSO_TEST_CONSOLE_PORT", "18186"))
