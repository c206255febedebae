"""Two-factor sign-in: enrolment confirmed by a code, single-use codes, recovery codes that work
once, the setting that requires it of administrators, and an administrator's reset."""

from __future__ import annotations

import re

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update

from console.appsettings import store_setting
from console.auth import totp
from console.db import db
from console.db.models import RecoveryCode, User
from tests.support.audit import audit_rows
from tests.support.auth import (
    TOTP_SECRET,
    FakeClock,
    code_at,
    login_form,
    post_form,
    session_cookie,
    set_session_cookie,
    signed_in,
    submit_code,
)
from tests.support.users import csrf_token, get_user, make_user, sign_in

_SECRET_ON_PAGE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
_CODES_ON_PAGE = re.compile(r"<li><code>([a-z0-9-]{19})</code></li>")


def _enrol(client: FlaskClient, clock: FakeClock) -> list[str]:
    """Set up two-factor through the pages; returns the recovery codes shown."""
    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    secret = _SECRET_ON_PAGE.search(page).group(1).replace(" ", "")  # type: ignore[union-attr]
    response = post_form(
        client,
        "/auth/two-factor/set-up",
        {"code": code_at(secret, clock.now())},
        token_from="/auth/two-factor/set-up",
    )
    assert response.status_code == 200
    return _CODES_ON_PAGE.findall(response.get_data(as_text=True))


def _totp_user(app: Flask, username: str = "tess", **fields: object) -> int:
    return make_user(app, username, totp_secret=TOTP_SECRET, totp_enabled=True, **fields)


def test_enrolment_shows_a_qr_code_and_key_and_takes_effect_only_when_confirmed(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    page = client.get("/auth/two-factor/set-up").get_data(as_text=True)
    assert 'src="/auth/two-factor/qr.svg"' in page
    secret = _SECRET_ON_PAGE.search(page).group(1).replace(" ", "")  # type: ignore[union-attr]
    assert len(secret) == 32

    qr = client.get("/auth/two-factor/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert qr.data.startswith(b"<svg") and b"<path" in qr.data
    assert qr.headers["Cache-Control"] == "no-store"

    # The key is not the account's until a code proves the app has it.
    assert get_user(app, user_id).totp_secret is None
    response = post_form(
        client, "/auth/two-factor/set-up", {"code": "000000"}, token_from="/auth/two-factor/set-up"
    )
    assert response.status_code == 400
    assert "The code is not right" in response.get_data(as_text=True)
    user = get_user(app, user_id)
    assert (user.totp_enabled, user.totp_secret) == (False, None)

    before = session_cookie(client)
    response = post_form(
        client,
        "/auth/two-factor/set-up",
        {"code": code_at(secret, clock.now())},
        token_from="/auth/two-factor/set-up",
    )
    assert response.status_code == 200
    codes = _CODES_ON_PAGE.findall(response.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    user = get_user(app, user_id)
    assert (user.totp_enabled, user.totp_secret) == (True, secret)
    assert session_cookie(client) != before  # new session id after a two-factor change
    assert signed_in(client)
    replay = app.test_client()
    set_session_cookie(replay, before or "")
    assert not signed_in(replay)  # the id from before the change no longer works
    with app.app_context():
        stored = list(db.session.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not set(codes) & set(stored)
    assert [e.outcome for e in audit_rows(app, "auth.totp_enrol")] == ["success"]
    assert client.get("/auth/two-factor/qr.svg").status_code == 404  # the pending key is gone


def test_enrolment_ends_the_users_other_sessions(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    make_user(app, "alice")
    other = app.test_client()
    sign_in(client, "alice")
    sign_in(other, "alice")
    _enrol(client, clock)
    assert signed_in(client) and not signed_in(other)


def test_sign_in_asks_for_the_code_after_the_password(db_app: Flask, clock: FakeClock) -> None:
    user_id = _totp_user(db_app)
    client = db_app.test_client()
    response = login_form(client, "tess")
    assert response.headers["Location"] == "/auth/login/code"
    assert not signed_in(client)  # a right password alone is not a sign-in
    response = submit_code(client, code_at(TOTP_SECRET, clock.now()))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in(client)
    [event] = [e for e in audit_rows(db_app, "auth.sign_in") if e.outcome == "success"]
    assert event.details == {"method": "totp"} and event.target_id == str(user_id)


def test_a_code_cannot_be_used_twice(db_app: Flask, clock: FakeClock) -> None:
    _totp_user(db_app)
    code = code_at(TOTP_SECRET, clock.now())
    first = db_app.test_client()
    login_form(first, "tess")
    assert submit_code(first, code).status_code == 302

    replay = db_app.test_client()
    login_form(replay, "tess")
    response = submit_code(replay, code)
    assert response.status_code == 400 and not signed_in(replay)
    # An earlier code of the window is refused too; the next one works.
    assert submit_code(replay, code_at(TOTP_SECRET, clock.now(), -1)).status_code == 400
    assert submit_code(replay, code_at(TOTP_SECRET, clock.now(), 1)).status_code == 302


def test_codes_outside_the_allowed_drift_are_refused(app: Flask, clock: FakeClock) -> None:
    _totp_user(app)
    client = app.test_client()
    login_form(client, "tess")
    assert submit_code(client, code_at(TOTP_SECRET, clock.now(), 2)).status_code == 400
    assert submit_code(client, code_at(TOTP_SECRET, clock.now(), -2)).status_code == 400


def test_a_recovery_code_works_once(db_app: Flask, clock: FakeClock) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    codes = _enrol(client, clock)
    post_form(client, "/auth/logout")

    login_form(client, "alice")
    response = submit_code(client, codes[3].upper())  # case and dashes do not matter
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and "9 unused codes are left" in page.get_data(as_text=True)
    post_form(client, "/auth/logout")

    login_form(client, "alice")
    assert submit_code(client, codes[3]).status_code == 400
    assert not signed_in(client)
    [used] = audit_rows(db_app, "auth.recovery_code_used")
    assert used.details == {"remaining": 9} and used.target_id == str(user_id)


def test_the_code_step_expires_and_needs_the_password_again(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    _totp_user(app)
    login_form(client, "tess")
    token = csrf_token(client, "/auth/login/code")
    clock.advance(minutes=5, seconds=1)
    response = client.post(
        "/auth/login/code", data={"csrf_token": token, "code": code_at(TOTP_SECRET, clock.now())}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert not signed_in(client)


def test_the_code_page_without_a_password_step_goes_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/auth/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"


def test_cancelling_the_code_step(app: Flask, client: FlaskClient, clock: FakeClock) -> None:
    _totp_user(app)
    login_form(client, "tess")
    post_form(client, "/auth/login/cancel", token_from="/auth/login/code")
    assert client.get("/auth/login/code").headers["Location"] == "/auth/login"


def test_administrators_are_sent_to_enrolment_by_default(db_app: Flask, clock: FakeClock) -> None:
    runner = db_app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create-admin", "--username", "root", "--email", "root@example.org",
              "--full-name", "Root", "--password", "correct horse battery staple 42"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    make_user(db_app, "audrey", roles=("Auditor",), totp_enabled=False)
    make_user(db_app, "clin", roles=("Clinician",))
    admin, auditor, clinician = (db_app.test_client() for _ in range(3))

    response = sign_in(admin, "root")
    assert response.headers["Location"] == "/auth/two-factor/set-up?next=/"
    assert admin.get("/").headers["Location"].startswith("/auth/two-factor/set-up")
    assert admin.get("/admin/users").headers["Location"].startswith("/auth/two-factor/set-up")
    assert sign_in(auditor, "audrey").headers["Location"].startswith("/auth/two-factor/set-up")
    assert sign_in(clinician, "clin").headers["Location"] == "/"

    _enrol(admin, clock)
    assert signed_in(admin)


def test_the_requirement_can_be_turned_off_for_administrators(app: Flask) -> None:
    with app.app_context():
        store_setting("security.require_totp_for_admins", False, None)
        db.session.commit()
    make_user(app, "root", roles=("System administrator",), totp_enabled=False)
    assert sign_in(app.test_client(), "root").headers["Location"] == "/"


def test_must_enrol_sends_the_user_to_enrolment(app: Flask, clock: FakeClock) -> None:
    make_user(app, "nina", must_enrol_totp=True)
    client = app.test_client()
    assert sign_in(client, "nina").headers["Location"].startswith("/auth/two-factor/set-up")
    assert client.get("/auth/account").status_code == 302
    codes = _enrol(client, clock)
    assert len(codes) == 10
    assert signed_in(client)


def test_an_administrator_resets_two_factor_by_clearing_the_fields(
    db_app: Flask, clock: FakeClock
) -> None:
    user_id = _totp_user(db_app)
    with db_app.app_context():
        db.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(totp_secret=None, totp_enabled=False, totp_last_used_step=None)
        )
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        db.session.commit()
    client = db_app.test_client()
    assert login_form(client, "tess").headers["Location"] == "/"
    assert signed_in(client)


def test_the_reset_service_clears_two_factor_and_recovery_codes(
    app: Flask, clock: FakeClock
) -> None:
    user_id = make_user(app, "alice")
    client = app.test_client()
    sign_in(client, "alice")
    _enrol(client, clock)
    with app.test_request_context():
        user = db.session.get(User, user_id)
        assert user is not None
        totp.reset(user)
        db.session.commit()
        assert db.session.scalars(select(RecoveryCode)).all() == []
    user = get_user(app, user_id)
    assert (user.totp_enabled, user.totp_secret) == (False, None)
    assert len(audit_rows(app, "auth.totp_reset")) == 1


def test_new_recovery_codes_need_a_current_code_and_replace_the_old_ones(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    make_user(app, "alice")
    sign_in(client, "alice")
    old_codes = _enrol(client, clock)
    page = client.get("/auth/account").get_data(as_text=True)
    assert "10 unused recovery codes left" in page

    response = post_form(client, "/auth/two-factor/recovery-codes", {"code": "000000"})
    assert response.status_code == 302
    assert "were not replaced" in client.get("/auth/account").get_data(as_text=True)

    secret = get_user(app, make_user_id(app, "alice")).totp_secret or ""
    clock.advance(seconds=30)
    response = post_form(
        client, "/auth/two-factor/recovery-codes", {"code": pyotp.TOTP(secret).at(clock.now())}
    )
    new_codes = _CODES_ON_PAGE.findall(response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    post_form(client, "/auth/logout")
    login_form(client, "alice")
    assert submit_code(client, old_codes[0]).status_code == 400
    assert submit_code(client, new_codes[0]).status_code == 302


def make_user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def test_digits_that_are_not_ascii_are_a_wrong_code_not_an_error(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    user_id = _totp_user(app)
    login_form(client, "tess")
    for code in ("²²²²²²", "١٢٣٤٥٦"):  # str.isdigit() accepts both
        response = submit_code(client, code)
        assert response.status_code == 400
        assert "The code is not right" in response.get_data(as_text=True)
    assert get_user(app, user_id).failed_login_count == 2

    make_user(app, "alice")
    other = app.test_client()
    sign_in(other, "alice")
    response = post_form(
        other, "/auth/two-factor/set-up", {"code": "١٢٣٤٥٦"}, token_from="/auth/two-factor/set-up"
    )
    assert response.status_code == 400
    assert "The code is not right" in response.get_data(as_text=True)
