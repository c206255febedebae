"""Single sign-on and the console's own two-factor: a sign-in that must still pass the code
step keeps the provider's session (for RP-initiated and back-channel logout), and the
provider's MFA stands in for the administrators' two-factor when the setting says so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from console.auth.sessions import ANONYMOUS_COOKIE_NAME
from console.db import db
from console.db.models import User
from console.sso.logout import ID_TOKEN_COOKIE_LIMIT
from tests.sso.fake_idp import CLIENT_ID, FakeIdp
from tests.support.audit import audit_rows
from tests.support.auth import TOTP_SECRET, code_at, post_form, submit_code
from tests.support.sso import configure, link, logout_claims, sso_sign_in
from tests.support.users import make_user


@pytest.fixture
def alice_with_totp(sso_app: Flask) -> Flask:
    """Alice, linked to the provider's ``subject-1``, with the console's two-factor on."""
    link(sso_app, make_user(sso_app, "alice", totp_enabled=True, totp_secret=TOTP_SECRET))
    return sso_app


def issued_tokens(idp: FakeIdp) -> list[str]:
    """Record every ID token the provider issues from now on."""
    tokens: list[str] = []

    def sign(claims: dict[str, Any]) -> str:
        tokens.append(idp.sign(claims))
        return tokens[-1]

    idp.make_token = sign
    return tokens


def through_the_code_step(client: FlaskClient, idp: FakeIdp, **claims: object) -> None:
    """Sign in with the provider, then with the authenticator app's code."""
    with client.application.app_context():  # codes are single-use; tests sign in again at once
        db.session.execute(update(User).values(totp_last_used_step=None))
        db.session.commit()
    response = sso_sign_in(client, idp, **claims)
    assert response.headers["Location"] == "/auth/login/code"
    done = submit_code(client, code_at(TOTP_SECRET, datetime.now(UTC)))
    assert done.status_code == 302, done.get_data(as_text=True)
    assert client.get("/auth/account").status_code == 200


def sign_out_target(client: FlaskClient) -> tuple[str, dict[str, list[str]]]:
    """Sign out; where the browser is sent (without query) and the query."""
    response = post_form(client, "/auth/logout", token_from="/auth/account")
    target = urlsplit(response.headers["Location"])
    return f"{target.scheme}://{target.netloc}{target.path}", parse_qs(target.query)


def test_after_the_code_step_signing_out_ends_the_provider_session_with_the_id_token(
    alice_with_totp: Flask, fake_idp: FakeIdp
) -> None:
    tokens = issued_tokens(fake_idp)
    client = alice_with_totp.test_client()
    through_the_code_step(client, fake_idp)

    where, query = sign_out_target(client)

    assert where == fake_idp.issuer + "/logout"
    assert query["id_token_hint"] == tokens
    assert client.get("/auth/account").status_code == 302
    methods = [e.details["method"] for e in audit_rows(alice_with_totp, "auth.sign_in")]
    assert methods == ["single sign-on and totp"]


def test_after_the_code_step_a_back_channel_logout_by_sid_ends_the_session(
    alice_with_totp: Flask, fake_idp: FakeIdp
) -> None:
    client = alice_with_totp.test_client()
    through_the_code_step(client, fake_idp, sid="idp-session-7")
    other = alice_with_totp.test_client()
    through_the_code_step(other, fake_idp, sid="idp-session-8")
    token = fake_idp.sign(logout_claims(fake_idp, sub=None, sid="idp-session-7"))

    answer = alice_with_totp.test_client().post(
        "/auth/sso/backchannel-logout", data={"logout_token": token}
    )

    assert answer.status_code == 200
    assert client.get("/auth/account").status_code == 302
    assert other.get("/auth/account").status_code == 200


def test_a_very_long_id_token_does_not_break_the_code_step(
    alice_with_totp: Flask, fake_idp: FakeIdp
) -> None:
    tokens = issued_tokens(fake_idp)
    client = alice_with_totp.test_client()
    response = sso_sign_in(client, fake_idp, padding="x" * (ID_TOKEN_COOKIE_LIMIT * 2))
    assert len(tokens[0]) > ID_TOKEN_COOKIE_LIMIT
    cookie = next(
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith(ANONYMOUS_COOKIE_NAME + "=")
    )
    assert len(cookie) < 4096  # what browsers keep
    submit_code(client, code_at(TOTP_SECRET, datetime.now(UTC)))
    assert client.get("/auth/account").status_code == 200

    where, query = sign_out_target(client)

    assert where == fake_idp.issuer + "/logout"
    assert "id_token_hint" not in query
    assert query["client_id"] == [CLIENT_ID]


# --- the administrators' two-factor requirement -------------------------------------------


@pytest.fixture
def sso_admin(sso_app: Flask) -> Flask:
    """An administrator linked to the provider, without the console's two-factor."""
    admin = make_user(sso_app, "ada", roles=("System administrator",), totp_enabled=False)
    link(sso_app, admin)
    return sso_app


def lands_on(client: FlaskClient, path: str = "/admin/users") -> str:
    """Where a signed-in browser asking for ``path`` ends up (its own path, or a redirect's)."""
    response = client.get(path)
    if response.status_code == 200:
        return path
    assert response.status_code == 302, response.status_code
    return urlsplit(response.headers["Location"]).path


def test_an_administrator_whose_provider_reports_mfa_need_not_enrol_when_the_setting_is_on(
    sso_admin: Flask, fake_idp: FakeIdp
) -> None:
    configure(sso_admin, idp_mfa_satisfies_two_factor=True)
    client = sso_admin.test_client()
    sso_sign_in(client, fake_idp, amr=["pwd", "otp", "mfa"])
    assert lands_on(client) == "/admin/users"
    methods = [e.details["method"] for e in audit_rows(sso_admin, "auth.sign_in")]
    assert methods == ["single sign-on with MFA"]


def test_an_administrator_must_enrol_when_the_setting_is_off(
    sso_admin: Flask, fake_idp: FakeIdp
) -> None:
    client = sso_admin.test_client()
    response = sso_sign_in(client, fake_idp, amr=["pwd", "otp", "mfa"])
    assert urlsplit(response.headers["Location"]).path == "/auth/two-factor/set-up"
    assert lands_on(client) == "/auth/two-factor/set-up"


def test_an_administrator_must_enrol_when_the_provider_reports_one_factor(
    sso_admin: Flask, fake_idp: FakeIdp
) -> None:
    configure(sso_admin, idp_mfa_satisfies_two_factor=True)
    client = sso_admin.test_client()
    sso_sign_in(client, fake_idp, amr=["pwd"])
    assert lands_on(client) == "/auth/two-factor/set-up"


def test_turning_the_setting_off_asks_a_signed_in_administrator_to_enrol(
    sso_admin: Flask, fake_idp: FakeIdp
) -> None:
    configure(sso_admin, idp_mfa_satisfies_two_factor=True)
    client = sso_admin.test_client()
    sso_sign_in(client, fake_idp, acr="AAL3_ANY")
    assert lands_on(client) == "/admin/users"

    configure(sso_admin, idp_mfa_satisfies_two_factor=False)

    assert lands_on(client) == "/auth/two-factor/set-up"


def test_a_user_flagged_to_enrol_is_satisfied_by_the_providers_mfa_only_with_the_setting(
    sso_app: Flask, fake_idp: FakeIdp
) -> None:
    link(sso_app, make_user(sso_app, "alice", must_enrol_totp=True))
    configure(sso_app, idp_mfa_satisfies_two_factor=True)
    client = sso_app.test_client()
    sso_sign_in(client, fake_idp, amr=["mfa"])
    assert lands_on(client, "/auth/account") == "/auth/account"

    configure(sso_app, idp_mfa_satisfies_two_factor=False)
    again = sso_app.test_client()
    sso_sign_in(again, fake_idp, amr=["mfa"])
    assert lands_on(again, "/auth/account") == "/auth/two-factor/set-up"


def test_a_password_sign_in_never_counts_as_the_providers_mfa(sso_app: Flask) -> None:
    from tests.support.users import sign_in

    make_user(sso_app, "bob", roles=("System administrator",), totp_enabled=False)
    configure(sso_app, idp_mfa_satisfies_two_factor=True)
    client = sso_app.test_client()
    sign_in(client, "bob")
    assert lands_on(client) == "/auth/two-factor/set-up"
