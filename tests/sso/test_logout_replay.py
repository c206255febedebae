"""Back-channel logout tokens are single-use: each accepted ``jti`` is remembered (in the auth
database, which every worker shares) until the token would be refused as expired anyway, and
the same token sent again is refused; remembered tokens are forgotten as sessions are purged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from console import create_app
from console.auth import clock
from console.db import db
from console.sso.logout import LEEWAY_SECONDS, MAX_AGE_SECONDS
from console.sso.models import SsoLogoutToken
from tests.sso.fake_idp import FakeIdp
from tests.support.audit import audit_rows
from tests.support.sso import configure, link, logout_claims, signed_in, sso_environ, sso_sign_in
from tests.support.users import make_user


@pytest.fixture
def replay_app(any_app_factory: Callable[..., Flask], fake_idp: FakeIdp) -> Flask:
    """A console on SQLite, then on PostgreSQL, with Alice linked to the fake provider."""
    app = any_app_factory(ENVIRON=sso_environ(fake_idp.issuer))
    configure(app, role_mapping="clinicians = Clinician")
    link(app, make_user(app, "alice"))
    return app


def back_channel(app: Flask, token: str) -> tuple[int, object]:
    answer = app.test_client().post("/auth/sso/backchannel-logout", data={"logout_token": token})
    return answer.status_code, answer.get_json(silent=True)


def signed_in_client(app: Flask, idp: FakeIdp) -> FlaskClient:
    client = app.test_client()
    sso_sign_in(client, idp)
    assert signed_in(client)
    return client


def remembered(app: Flask) -> list[SsoLogoutToken]:
    with app.app_context():
        rows = list(db.session.scalars(select(SsoLogoutToken)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_replayed_logout_token_is_refused_generically_and_audited_as_a_replay(
    replay_app: Flask, fake_idp: FakeIdp
) -> None:
    signed_in_client(replay_app, fake_idp)
    token = fake_idp.sign(logout_claims(fake_idp))
    assert back_channel(replay_app, token)[0] == 200
    again = signed_in_client(replay_app, fake_idp)

    assert back_channel(replay_app, token) == (400, {"error": "invalid_request"})

    assert signed_in(again)
    refused = audit_rows(replay_app, "sso.sign_in")
    assert [(e.outcome, e.details["reason"]) for e in refused] == [
        ("failure", "logout token refused: replayed: this jti was accepted before")
    ]


def test_logout_tokens_with_distinct_jti_are_each_accepted(
    replay_app: Flask, fake_idp: FakeIdp
) -> None:
    first = signed_in_client(replay_app, fake_idp)
    assert back_channel(replay_app, fake_idp.sign(logout_claims(fake_idp, jti="jti-1")))[0] == 200
    assert not signed_in(first)
    second = signed_in_client(replay_app, fake_idp)
    assert back_channel(replay_app, fake_idp.sign(logout_claims(fake_idp, jti="jti-2")))[0] == 200
    assert not signed_in(second)
    assert len(remembered(replay_app)) == 2


def test_a_token_is_remembered_until_it_would_be_refused_anyway(
    replay_app: Flask, fake_idp: FakeIdp
) -> None:
    issued = int(time.time())
    long_lived = logout_claims(fake_idp, jti="no-exp", iat=issued)
    short_lived = logout_claims(fake_idp, jti="with-exp", iat=issued, exp=issued + 60)
    for claims in (long_lived, short_lived):
        assert back_channel(replay_app, fake_idp.sign(claims))[0] == 200

    until = sorted(row.expires_at for row in remembered(replay_app))

    after_issue = [datetime.fromtimestamp(issued, UTC) + timedelta(seconds=s) for s in (
        60 + LEEWAY_SECONDS, MAX_AGE_SECONDS + LEEWAY_SECONDS)]  # fmt: skip
    assert until == after_issue


def test_the_same_jti_from_another_issuer_is_not_a_replay(
    replay_app: Flask, fake_idp: FakeIdp
) -> None:
    from console.sso.logout import remember_token

    with replay_app.app_context():
        claims = logout_claims(fake_idp, jti="shared")
        remember_token("https://another-issuer.example.org", claims)
        db.session.commit()
    assert back_channel(replay_app, fake_idp.sign(claims))[0] == 200


def test_expired_remembered_tokens_are_purged_with_expired_sessions(
    replay_app: Flask, fake_idp: FakeIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = int(time.time())
    for jti, lifetime in (("soon", 30), ("later", 300)):
        claims = logout_claims(fake_idp, jti=jti, iat=issued, exp=issued + lifetime)
        assert back_channel(replay_app, fake_idp.sign(claims))[0] == 200
    later = datetime.fromtimestamp(issued + 30 + LEEWAY_SECONDS, UTC)
    monkeypatch.setattr(clock, "now", lambda: later)

    result = replay_app.test_cli_runner().invoke(args=["sessions", "purge-expired"])

    assert result.exit_code == 0, result.output
    assert "Removed 1 expired logout token." in result.output
    assert [row.expires_at for row in remembered(replay_app)] == [
        datetime.fromtimestamp(issued + 300 + LEEWAY_SECONDS, UTC)
    ]


def test_a_new_session_purges_expired_remembered_tokens_too(
    replay_app: Flask, fake_idp: FakeIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = int(time.time())
    claims = logout_claims(fake_idp, jti="soon", iat=issued, exp=issued + 30)
    assert back_channel(replay_app, fake_idp.sign(claims))[0] == 200
    assert len(remembered(replay_app)) == 1
    later = datetime.fromtimestamp(issued + 30 + LEEWAY_SECONDS + 1, UTC)
    monkeypatch.setattr(clock, "now", lambda: later)

    signed_in_client(replay_app, fake_idp)

    assert remembered(replay_app) == []


def another_worker(app: Flask, idp: FakeIdp, tmp_path: Path) -> Flask:
    """A second console process on the same auth database (as gunicorn's workers are)."""
    return create_app(
        {
            "ENVIRON": sso_environ(idp.issuer),
            "INSTANCE_PATH": str(tmp_path / "worker-2"),
            "AUTH_DATABASE_URL": app.config["SETTINGS"].AUTH_DATABASE_URL.reveal(),
            "RATELIMIT_ENABLED": False,
        }
    )


def test_a_token_accepted_by_one_worker_is_refused_by_another(
    replay_app: Flask, fake_idp: FakeIdp, tmp_path: Path
) -> None:
    token = fake_idp.sign(logout_claims(fake_idp))
    assert back_channel(replay_app, token)[0] == 200
    assert back_channel(another_worker(replay_app, fake_idp, tmp_path), token)[0] == 400


@pytest.mark.postgres
def test_two_workers_given_the_same_token_at_once_accept_it_once(
    pg_app_factory: Callable[..., Flask], fake_idp: FakeIdp, tmp_path: Path
) -> None:
    first = pg_app_factory(ENVIRON=sso_environ(fake_idp.issuer))
    workers = [first, another_worker(first, fake_idp, tmp_path)]
    for worker in workers:  # both have read the discovery document and the key set
        assert back_channel(worker, fake_idp.sign(logout_claims(fake_idp)))[0] == 200
    token = fake_idp.sign(logout_claims(fake_idp))
    start = threading.Barrier(len(workers))
    answers: list[int] = []

    def send(worker: Flask) -> None:
        start.wait()
        answers.append(back_channel(worker, token)[0])

    threads = [threading.Thread(target=send, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 400]
