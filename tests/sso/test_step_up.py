"""Step-up at the identity provider: a user who signs in with it (and may have no console
password) confirms it is them by a fresh sign-in there before a sensitive change."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.sso.fake_idp import FakeIdp
from tests.support.audit import audit_rows
from tests.support.auth import FakeClock
from tests.support.auth import clock as clock  # the fixture
from tests.support.sso import configure, sso_sign_in
from tests.support.users import make_user, sign_in

SENSITIVE = "/auth/password"  # changing one's password asks for a recent confirmation


@pytest.fixture
def sso_only(sso_app: Flask, fake_idp: FakeIdp, clock: FakeClock) -> FlaskClient:
    """A user made at their first single sign-on (no console password), past the window."""
    configure(sso_app, create_unknown_users=True)
    client = sso_app.test_client()
    assert sso_sign_in(client, fake_idp).status_code == 302
    clock.advance(minutes=6)  # past the default five-minute window since sign-in
    return client


def confirm_at_provider(
    client: FlaskClient, idp: FakeIdp, **claims: object
) -> tuple[TestResponse, dict[str, str]]:
    """Start the step-up, let the provider answer with ``claims``; (callback's answer, the
    authorization request's parameters)."""
    start = client.get(f"/auth/sso/confirm?next={SENSITIVE}")
    assert start.status_code == 302, start.get_data(as_text=True)
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    state, nonce = idp.authorize(start.headers["Location"])
    idp.pending_nonce = nonce
    idp.claims = dict(claims)
    return client.get(f"/auth/sso/callback?code={idp.last_code()}&state={state}"), query


def test_a_user_without_a_password_confirms_at_the_provider(
    sso_app: Flask, sso_only: FlaskClient, fake_idp: FakeIdp, clock: FakeClock
) -> None:
    asked = sso_only.get(SENSITIVE)
    assert asked.headers["Location"].startswith("/auth/confirm")
    page = sso_only.get(asked.headers["Location"]).get_data(as_text=True)
    assert "Confirm with" in page and 'name="password"' not in page

    answer, query = confirm_at_provider(sso_only, fake_idp, auth_time=int(clock.now().timestamp()))
    assert query["prompt"] == "login" and query["max_age"] == "0"
    assert answer.status_code == 302 and answer.headers["Location"] == SENSITIVE
    assert sso_only.get(SENSITIVE).status_code == 200
    [row] = audit_rows(sso_app, "auth.step_up")
    assert row.outcome == "success" and row.details == {"method": "single sign-on"}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "someone-else"}, "another identity at the provider"),
        ({"auth_time": None}, "no auth_time: the sign-in may not be fresh"),
        ({"auth_time": "stale"}, "not a fresh sign-in at the provider"),
    ],
)
def test_an_answer_that_is_not_a_fresh_sign_in_as_this_user_confirms_nothing(
    sso_app: Flask,
    sso_only: FlaskClient,
    fake_idp: FakeIdp,
    clock: FakeClock,
    claims: dict[str, object],
    reason: str,
) -> None:
    now = int(clock.now().timestamp())
    given = {"auth_time": now, **claims}
    if given["auth_time"] == "stale":
        given["auth_time"] = now - 3600  # a sign-in at the provider an hour before
    answer, _query = confirm_at_provider(sso_only, fake_idp, **given)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/auth/confirm")
    page = sso_only.get(answer.headers["Location"]).get_data(as_text=True)
    assert "That did not confirm it is you" in page
    assert sso_only.get(SENSITIVE).headers["Location"].startswith("/auth/confirm")
    [row] = audit_rows(sso_app, "auth.step_up")
    assert row.outcome == "failure" and row.details["reason"] == reason
    # The person stays signed in as themselves.
    assert sso_only.get("/auth/account").status_code == 200


def test_a_user_with_a_password_sees_both_ways_and_unlinked_users_only_the_password(
    sso_app: Flask, fake_idp: FakeIdp, clock: FakeClock
) -> None:
    make_user(sso_app, "local")
    client = sso_app.test_client()
    sign_in(client, "local")
    clock.advance(minutes=6)
    page = client.get(f"/auth/confirm?next={SENSITIVE}").get_data(as_text=True)
    assert 'name="password"' in page and "Confirm with" not in page
    refused = client.get(f"/auth/sso/confirm?next={SENSITIVE}")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/auth/confirm")
    assert fake_idp.challenges == {}  # the provider was never asked
