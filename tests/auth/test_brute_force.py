"""Per-account lockout, after Keycloak's BruteForceTest: lockout at the threshold, the same answer
as a wrong password while locked, the wait running out on a controlled clock, growing and capped
waits, the failure-reset window, username case variants, wrong or missing two-factor codes
counting as failures, and unlocking by an administrator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from console.appsettings import store_setting
from console.auth import lockout, passwords
from console.db import db
from console.db.models import User
from tests.support.audit import audit_rows
from tests.support.auth import TOTP_SECRET, FakeClock, code_at, login_form, signed_in, submit_code
from tests.support.users import get_user, make_user

WRONG = "not the right password at all"
INVALID = "The username or password is not right."


def _policy(app: Flask, failures: int = 2, increment: int = 60, max_wait: int = 900) -> None:
    with app.app_context():
        store_setting("security.lockout_failures", failures, None)
        store_setting("security.lockout_wait_increment_seconds", increment, None)
        store_setting("security.lockout_max_wait_seconds", max_wait, None)
        db.session.commit()


def _fail(client: FlaskClient, username: str = "alice", password: str = WRONG) -> str:
    response = login_form(client, username, password)
    assert response.status_code == 400
    return response.get_data(as_text=True)


def test_lockout_at_the_threshold_refuses_the_right_password_with_the_same_message(
    db_app: Flask, clock: FakeClock
) -> None:
    _policy(db_app)
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    _fail(client)
    assert not get_user(db_app, user_id).is_locked(clock.now())
    _fail(client)
    user = get_user(db_app, user_id)
    assert user.failed_login_count == 2
    assert user.locked_until == clock.now() + timedelta(seconds=60)

    page = _fail(client, password="correct horse battery staple 42")
    assert INVALID in page and "locked" not in page.lower()
    assert not signed_in(client)

    lockouts = audit_rows(db_app, "auth.lockout")
    assert [(e.outcome, e.details["failures"], e.details["wait_seconds"]) for e in lockouts] == [
        ("denied", 2, 60)
    ]
    reasons = [e.details["reason"] for e in audit_rows(db_app, "auth.sign_in")]
    assert reasons == ["wrong password", "wrong password", "locked"]


def test_the_lockout_ends_when_the_wait_is_over(db_app: Flask, clock: FakeClock) -> None:
    _policy(db_app)
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    _fail(client)
    _fail(client)
    clock.advance(seconds=59)
    _fail(client, password="correct horse battery staple 42")
    clock.advance(seconds=2)
    assert login_form(client, "alice").status_code == 302
    assert signed_in(client)
    user = get_user(db_app, user_id)
    assert (user.failed_login_count, user.locked_until) == (0, None)


def test_failures_while_locked_neither_count_nor_extend_the_lockout(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    _policy(app)
    user_id = make_user(app, "alice")
    _fail(client)
    _fail(client)
    locked = get_user(app, user_id)
    for _ in range(3):
        clock.advance(seconds=10)
        _fail(client)
    user = get_user(app, user_id)
    assert user.failed_login_count == 2
    assert user.locked_until == locked.locked_until
    assert len(audit_rows(app, "auth.lockout")) == 1


def test_the_wait_grows_by_the_increment_and_stops_at_the_maximum(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    _policy(app, failures=2, increment=60, max_wait=150)
    user_id = make_user(app, "alice")
    waits = []
    for _ in range(7):
        _fail(client)
        user = get_user(app, user_id)
        wait = (user.locked_until - clock.now()) if user.is_locked(clock.now()) else timedelta(0)
        waits.append(int(wait.total_seconds()))
        clock.advance(seconds=151)  # past any lockout, well inside the failure-reset window
    # failures 1..7 with a threshold of 2: wait = 60 * (failures // 2), at most 150
    assert waits == [0, 60, 60, 120, 120, 150, 150]


def test_failures_older_than_the_reset_window_are_forgotten(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    _policy(app, failures=3)
    user_id = make_user(app, "alice")
    _fail(client)
    _fail(client)
    clock.advance(seconds=43200 + 1)
    _fail(client)
    user = get_user(app, user_id)
    assert user.failed_login_count == 1 and not user.is_locked(clock.now())


def test_a_successful_sign_in_clears_the_failures(app: Flask, client: FlaskClient) -> None:
    _policy(app, failures=3)
    user_id = make_user(app, "alice")
    _fail(client)
    _fail(client)
    assert login_form(client, "alice").status_code == 302
    assert get_user(app, user_id).failed_login_count == 0


def test_username_case_variants_all_count_against_one_account(
    db_app: Flask, clock: FakeClock
) -> None:
    _policy(db_app, failures=3)
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    for variant in ("Alice", "ALICE", "  alice "):
        _fail(client, variant)
    assert get_user(db_app, user_id).is_locked(clock.now())
    assert INVALID in _fail(client, "aLiCe", "correct horse battery staple 42")


def test_unknown_usernames_are_refused_quietly_and_lock_nothing(
    app: Flask, client: FlaskClient
) -> None:
    _policy(app)
    user_id = make_user(app, "alice")
    for _ in range(3):
        assert INVALID in _fail(client, "nobody-here")
    assert get_user(app, user_id).failed_login_count == 0
    assert {e.details["reason"] for e in audit_rows(app, "auth.sign_in")} == {"unknown user"}


def test_unknown_usernames_cost_a_password_hash_check_like_real_ones(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app, "alice")
    checked: list[str] = []
    real_hasher = passwords._hasher

    class CountingHasher:
        def verify(self, password_hash: str, password: str) -> bool:
            checked.append(password_hash)
            return real_hasher.verify(password_hash, password)

        def __getattr__(self, name: str) -> object:
            return getattr(real_hasher, name)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    _fail(client, "nobody-here")
    _fail(client, "alice")
    assert len(checked) == 2
    assert checked[0] == passwords._DUMMY_HASH
    assert checked[1] != passwords._DUMMY_HASH and checked[1].startswith("$argon2id$")


def _totp_user(app: Flask) -> int:
    return make_user(app, "tess", totp_secret=TOTP_SECRET, totp_enabled=True)


def test_wrong_two_factor_codes_count_as_failures(db_app: Flask, clock: FakeClock) -> None:
    _policy(db_app)
    user_id = _totp_user(db_app)
    client = db_app.test_client()
    assert login_form(client, "tess").headers["Location"] == "/auth/login/code"
    assert submit_code(client, "000000").status_code == 400
    assert get_user(db_app, user_id).failed_login_count == 1
    assert submit_code(client, "123456").status_code == 400
    assert get_user(db_app, user_id).is_locked(clock.now())

    # While locked, even the right code is refused and does not count.
    response = submit_code(client, code_at(TOTP_SECRET, clock.now()))
    assert response.status_code == 400 and not signed_in(client)
    assert get_user(db_app, user_id).failed_login_count == 2
    reasons = [e.details["reason"] for e in audit_rows(db_app, "auth.sign_in")]
    assert reasons == ["wrong code", "wrong code", "locked"]


def test_a_missing_two_factor_code_counts_as_a_failure(app: Flask, clock: FakeClock) -> None:
    _policy(app)
    user_id = _totp_user(app)
    client = app.test_client()
    login_form(client, "tess")
    response = submit_code(client, "")
    assert response.status_code == 400
    assert "The code is not right" in response.get_data(as_text=True)
    assert get_user(app, user_id).failed_login_count == 1
    assert audit_rows(app, "auth.sign_in")[-1].details["reason"] == "missing code"


def test_the_right_password_alone_does_not_clear_failures_when_a_code_is_due(
    app: Flask, clock: FakeClock
) -> None:
    _policy(app, failures=3)
    user_id = _totp_user(app)
    client = app.test_client()
    _fail(client, "tess")
    _fail(client, "tess")
    assert login_form(client, "tess").status_code == 302  # on to the code step
    assert get_user(app, user_id).failed_login_count == 2
    submit_code(client, "999999")
    assert get_user(app, user_id).is_locked(clock.now())


def test_an_administrator_unlocks_by_clearing_the_fields(db_app: Flask, clock: FakeClock) -> None:
    _policy(db_app)
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    _fail(client)
    _fail(client)
    assert get_user(db_app, user_id).is_locked(clock.now())
    with db_app.app_context():
        db.session.execute(
            update(User).where(User.id == user_id).values(failed_login_count=0, locked_until=None)
        )
        db.session.commit()
    assert login_form(client, "alice").status_code == 302
    assert signed_in(client)


def test_the_unlock_service_clears_the_lockout_and_audits_it(app: Flask, clock: FakeClock) -> None:
    _policy(app)
    user_id = make_user(app, "alice")
    client = app.test_client()
    _fail(client)
    _fail(client)
    with app.test_request_context():
        user = db.session.get(User, user_id)
        assert user is not None
        lockout.unlock(user)
        db.session.commit()
    assert login_form(client, "alice").status_code == 302
    [event] = audit_rows(app, "auth.unlock")
    assert event.before == {"failed_login_count": 2, "locked": True}
    assert event.after == {"failed_login_count": 0, "locked": False}


def test_a_disabled_account_with_the_right_password_is_refused_like_a_wrong_one(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, "gone", active=False)
    page = _fail(client, "gone", "correct horse battery staple 42")
    assert INVALID in page
    assert audit_rows(app, "auth.sign_in")[-1].details["reason"] == "disabled"
