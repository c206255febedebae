"""Signing out: the console session ends, then the provider's (RP-initiated logout); and the
provider's back-channel logout token ends the matching console sessions at once."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select

from console.db import db
from console.db.models import AuditEvent, UserSession
from tests.sso.fake_idp import FakeIdp, new_key, unsigned
from tests.support.auth import post_form
from tests.support.sso import link, logout_claims, signed_in, sso_sign_in
from tests.support.users import make_user


@pytest.fixture
def alice_app(sso_app: Flask) -> Flask:
    link(sso_app, make_user(sso_app, "alice"))
    return sso_app


def session_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id.is_not(None))
        )


def test_sign_out_ends_the_console_session_then_goes_to_the_providers_logout(
    alice_app: Flask, fake_idp: FakeIdp
) -> None:
    client = alice_app.test_client()
    sso_sign_in(client, fake_idp)
    assert signed_in(client)

    response = post_form(client, "/auth/logout", token_from="/auth/account")

    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == fake_idp.issuer + "/logout"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == ["http://localhost/auth/login"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not signed_in(client)
    assert session_count(alice_app) == 0


def test_a_password_sign_out_stays_in_the_console(alice_app: Flask) -> None:
    make_user(alice_app, "bob")
    from tests.support.users import sign_in

    client = alice_app.test_client()
    sign_in(client, "bob")
    response = post_form(client, "/auth/logout", token_from="/auth/account")
    assert response.headers["Location"] == "/auth/login"


def test_a_back_channel_logout_ends_the_matching_session_at_once(
    alice_app: Flask, fake_idp: FakeIdp
) -> None:
    client = alice_app.test_client()
    sso_sign_in(client, fake_idp)
    other = alice_app.test_client()
    sso_sign_in(other, fake_idp, sid="idp-session-2")
    token = fake_idp.sign(logout_claims(fake_idp))

    response = alice_app.test_client().post(
        "/auth/sso/backchannel-logout", data={"logout_token": token}
    )

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert not signed_in(client)
    assert signed_in(other)
    with alice_app.app_context():
        ended = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "auth.session_ended")
        ).all()
        assert [e.details["reason"] for e in ended] == [
            "back-channel logout from the identity provider"
        ]


def test_a_back_channel_logout_without_sid_ends_every_sso_session_of_the_subject(
    alice_app: Flask, fake_idp: FakeIdp
) -> None:
    clients = [alice_app.test_client() for _ in range(2)]
    for number, client in enumerate(clients):
        sso_sign_in(client, fake_idp, sid=f"idp-session-{number}")
    token = fake_idp.sign(logout_claims(fake_idp, sid=None))
    alice_app.test_client().post("/auth/sso/backchannel-logout", data={"logout_token": token})
    assert not any(signed_in(client) for client in clients)


BAD_TOKENS = {
    "bad signature": lambda idp: idp.sign(logout_claims(idp), new_key(idp.keys[-1].kid)),
    "alg none": lambda idp: unsigned(logout_claims(idp)),
    "wrong audience": lambda idp: idp.sign(logout_claims(idp, aud="another-client")),
    "wrong issuer": lambda idp: idp.sign(logout_claims(idp, iss="https://evil.example.org")),
    "not a logout event": lambda idp: idp.sign(logout_claims(idp, events={"other": {}})),
    "with a nonce": lambda idp: idp.sign(logout_claims(idp, nonce="n")),
    "no sid nor sub": lambda idp: idp.sign(logout_claims(idp, sid=None, sub=None)),
    "no jti": lambda idp: idp.sign(logout_claims(idp, jti=None)),
    "jti not a string": lambda idp: idp.sign(logout_claims(idp, jti=12345)),
    "stale": lambda idp: idp.sign(logout_claims(idp, iat=int(time.time()) - 3600)),
    "missing": lambda idp: "",
    "garbage": lambda idp: "not-a-token",
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_logout_token_is_refused_and_ends_nothing(
    alice_app: Flask, fake_idp: FakeIdp, case: str
) -> None:
    client = alice_app.test_client()
    sso_sign_in(client, fake_idp)

    response = alice_app.test_client().post(
        "/auth/sso/backchannel-logout", data={"logout_token": BAD_TOKENS[case](fake_idp)}
    )

    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request"}
    assert signed_in(client)
    with alice_app.app_context():
        refused = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "sso.sign_in", AuditEvent.outcome == "failure"
            )
        ).all()
        assert len(refused) == 1
        assert refused[0].details["reason"].startswith("logout token refused")
