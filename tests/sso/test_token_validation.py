"""Every way an ID token can be wrong is refused: a generic message for the person, the exact
reason in the audit log, no session. Tokens are made with keys generated here."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from console.db import db
from console.db.models import AuditEvent
from console.sso.signin import GENERIC_FAILURE
from tests.sso.fake_idp import CLIENT_ID, FakeIdp, new_key, unsigned
from tests.support.sso import configure, sso_sign_in


def failures(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "sso.sign_in", AuditEvent.outcome == "failure")
            .order_by(AuditEvent.id)
        )
        return [row.details or {} for row in rows]


def signed_in(client: Any) -> bool:
    return client.get("/auth/account").status_code == 200


@pytest.fixture
def linked_app(sso_app: Flask) -> Flask:
    """Unknown people are created, so only the token decides."""
    configure(sso_app, create_unknown_users=True)
    return sso_app


def _other_key_same_kid(idp: FakeIdp) -> Any:
    impostor = new_key(idp.keys[-1].kid)
    return lambda claims: idp.sign(claims, impostor)


def _now() -> int:
    return int(time.time())


CASES = {
    "bad signature": (_other_key_same_kid, {}, "bad signature"),
    "alg none": (lambda idp: unsigned, {}, "algorithm not allowed"),
    "wrong audience": (None, {"aud": "someone-else"}, "invalid claim: aud"),
    "another client's token naming us as azp": (
        None,
        {"aud": "someone-else", "azp": CLIENT_ID},
        "invalid claim: aud",
    ),
    "wrong issuer": (None, {"iss": "https://evil.example.org"}, "invalid claim: iss"),
    "expired": (None, {"exp": _now() - 3600, "iat": _now() - 7200}, "expired"),
    "wrong nonce": (None, {"nonce": "not-the-nonce"}, "invalid claim: nonce"),
    "missing subject": (None, {"sub": None}, "missing claim: sub"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_id_token_is_refused_with_a_generic_message_and_a_specific_audit_event(
    linked_app: Flask, fake_idp: FakeIdp, case: str
) -> None:
    make_token, claims, reason = CASES[case]
    if make_token is not None:
        fake_idp.make_token = make_token(fake_idp)
    client = linked_app.test_client()

    response = sso_sign_in(client, fake_idp, **claims)

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    page = client.get("/auth/login").get_data(as_text=True)
    assert GENERIC_FAILURE in page
    assert reason not in page
    assert not signed_in(client)
    assert [f["reason"] for f in failures(linked_app)] == [reason]


def test_the_same_token_is_accepted_when_nothing_is_wrong(
    linked_app: Flask, fake_idp: FakeIdp
) -> None:
    client = linked_app.test_client()
    response = sso_sign_in(client, fake_idp)
    assert response.status_code == 302
    assert signed_in(client)
    assert failures(linked_app) == []


def test_a_replayed_state_is_refused(linked_app: Flask, fake_idp: FakeIdp) -> None:
    client = linked_app.test_client()
    start = client.get("/auth/sso/login")
    state, nonce = fake_idp.authorize(start.headers["Location"])
    fake_idp.pending_nonce = nonce
    callback = f"/auth/sso/callback?code={fake_idp.last_code()}&state={state}"
    assert client.get(callback).status_code == 302
    fresh = linked_app.test_client()
    fresh.get("/auth/login")

    fresh.get(callback)
    client.get(callback)

    reasons = [f["reason"] for f in failures(linked_app)]
    assert reasons == ["state missing, mismatched or already used"] * 2
    assert not signed_in(fresh)


def test_an_error_from_the_provider_is_refused_and_audited(linked_app: Flask) -> None:
    client = linked_app.test_client()
    client.get("/auth/sso/login")
    response = client.get("/auth/sso/callback?error=access_denied&state=whatever")
    assert response.status_code == 302
    assert not signed_in(client)
    assert len(failures(linked_app)) == 1


def test_a_new_signing_key_is_fetched_when_the_provider_rotates(
    linked_app: Flask, fake_idp: FakeIdp
) -> None:
    client = linked_app.test_client()
    sso_sign_in(client, fake_idp)
    assert signed_in(client)
    fake_idp.keys = [new_key("key-2")]

    second = linked_app.test_client()
    sso_sign_in(second, fake_idp)

    assert signed_in(second)
    assert fake_idp.jwks_requests == 2


def test_a_token_signed_by_an_unknown_key_is_refused_even_after_refetching(
    linked_app: Flask, fake_idp: FakeIdp
) -> None:
    stranger = new_key("stranger")
    fake_idp.make_token = lambda claims: fake_idp.sign(claims, stranger)
    client = linked_app.test_client()
    sso_sign_in(client, fake_idp)
    assert not signed_in(client)
    assert [f["reason"] for f in failures(linked_app)] == ["unknown signing key"]
