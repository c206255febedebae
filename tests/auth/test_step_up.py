"""Step-up re-authentication: replacing two-factor, new recovery codes, a password change,
granting administrative roles and changing security settings need the password (and a current
code) again once the window since sign-in or the last confirmation has passed."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from console.appsettings import get_setting, store_setting
from console.db import db
from console.db.models import Role, User
from tests.support.audit import audit_rows
from tests.support.auth import TOTP_SECRET, FakeClock, code_at, post_form, submit_code
from tests.support.users import DEFAULT_PASSWORD, get_user, make_user, role_id, sign_in

_SECRET_ON_PAGE = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
NEW_SECRET = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"


def _totp_client(app: Flask, clock: FakeClock, username: str = "tess", **fields: object):  # type: ignore[no-untyped-def]
    user_id = make_user(app, username, totp_secret=TOTP_SECRET, totp_enabled=True, **fields)
    client = app.test_client()
    sign_in(client, username)
    assert submit_code(client, code_at(TOTP_SECRET, clock.now())).status_code == 302
    return user_id, client


def _confirm(client: FlaskClient, next_path: str, **fields: str):  # type: ignore[no-untyped-def]
    return post_form(client, f"/auth/confirm?next={next_path}", fields, token_from="/auth/confirm")


def test_replacing_two_factor_needs_the_password_and_a_current_code(
    app: Flask, clock: FakeClock
) -> None:
    user_id, client = _totp_client(app, clock)
    clock.advance(minutes=6)  # past the default five-minute window since sign-in
    page = client.get("/auth/two-factor/set-up")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/auth/confirm?next=/auth/two-factor/set-up")
    # Posting a code of a new secret straight to set-up changes nothing.
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(as_text=True)
    )
    assert token
    with client.session_transaction() as session:
        session["_totp_enrol_secret"] = NEW_SECRET
    posted = client.post(
        "/auth/two-factor/set-up",
        data={"csrf_token": token.group(1), "code": code_at(NEW_SECRET, clock.now())},
    )
    assert posted.status_code == 302 and posted.headers["Location"].startswith("/auth/confirm")
    assert get_user(app, user_id).totp_secret == TOTP_SECRET

    # The password alone is not enough when two-factor is on; a wrong code neither.
    alone = _confirm(client, "/auth/two-factor/set-up", password=DEFAULT_PASSWORD)
    assert alone.status_code == 400
    assert "The password or code is not right." in alone.get_data(as_text=True)
    wrong = _confirm(
        client, "/auth/two-factor/set-up", password="nope", code=code_at(TOTP_SECRET, clock.now())
    )
    assert wrong.status_code == 400
    assert [e.outcome for e in audit_rows(app, "auth.step_up")] == ["failure", "failure"]
    assert get_user(app, user_id).failed_login_count == 2

    clock.advance(seconds=30)
    done = _confirm(
        client, "/auth/two-factor/set-up", password=DEFAULT_PASSWORD,
        code=code_at(TOTP_SECRET, clock.now()),
    )  # fmt: skip
    assert done.status_code == 302 and done.headers["Location"] == "/auth/two-factor/set-up"
    assert audit_rows(app, "auth.step_up")[-1].outcome == "success"
    page = client.get("/auth/two-factor/set-up")
    assert page.status_code == 200
    secret = _SECRET_ON_PAGE.search(page.get_data(as_text=True)).group(1).replace(" ", "")  # type: ignore[union-attr]
    replaced = post_form(
        client, "/auth/two-factor/set-up", {"code": code_at(secret, clock.now())},
        token_from="/auth/account",
    )  # fmt: skip
    assert replaced.status_code == 200
    assert get_user(app, user_id).totp_secret == secret


def test_new_recovery_codes_and_a_password_change_need_a_recent_confirmation(
    app: Flask, clock: FakeClock
) -> None:
    user_id, client = _totp_client(app, clock)
    clock.advance(minutes=5)
    codes = post_form(
        client, "/auth/two-factor/recovery-codes", {"code": code_at(TOTP_SECRET, clock.now())},
        token_from="/auth/account",
    )  # fmt: skip
    assert codes.status_code == 302 and codes.headers["Location"].startswith("/auth/confirm")
    assert audit_rows(app, "auth.recovery_codes_replaced") == []
    before = get_user(app, user_id).password_hash
    changed = post_form(
        client, "/auth/password",
        {"current_password": DEFAULT_PASSWORD, "new_password": "a brand new passphrase 77",
         "confirm_password": "a brand new passphrase 77"},
        token_from="/auth/account",
    )  # fmt: skip
    assert changed.status_code == 302 and changed.headers["Location"].startswith("/auth/confirm")
    assert get_user(app, user_id).password_hash == before


def test_the_window_is_a_setting(app: Flask, clock: FakeClock) -> None:
    make_user(app, "alice")
    with app.app_context():
        assert get_setting("security.step_up_minutes") == 5
        store_setting("security.step_up_minutes", 10, None)
        db.session.commit()
    client = app.test_client()
    sign_in(client, "alice")
    clock.advance(minutes=9)
    assert client.get("/auth/password").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/auth/password").headers["Location"].startswith("/auth/confirm")
    confirmed = _confirm(client, "/auth/password", password=DEFAULT_PASSWORD)
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/auth/password"
    assert client.get("/auth/password").status_code == 200


def test_granting_administration_and_security_settings_need_a_recent_confirmation(
    app: Flask, clock: FakeClock
) -> None:
    admin_id, admin = _totp_client(app, clock, "root", roles=("System administrator",))
    other = make_user(app, "bob")
    clock.advance(minutes=6)
    html = admin.get(f"/admin/users/{other}").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert version
    form = {"version": version.group(1), "full_name": "Bob", "email": "bob@example.org",
            "active": "y", "roles": [str(role_id(app, "System administrator"))]}  # fmt: skip
    granted = post_form(admin, f"/admin/users/{other}", form, token_from="/")
    assert granted.status_code == 302 and granted.headers["Location"].startswith("/auth/confirm")
    assert [r.name for r in get_user_roles(app, other)] == ["Clinician"]

    setting = post_form(
        admin, "/admin/settings",
        {"security.idle_timeout_minutes": "10", "original:security.idle_timeout_minutes": "15"},
        token_from="/admin/settings",
    )  # fmt: skip
    assert setting.status_code == 302 and setting.headers["Location"].startswith("/auth/confirm")
    with app.app_context():
        assert get_setting("security.idle_timeout_minutes") == 15
    display = post_form(
        admin, "/admin/settings",
        {"display.environment_banner": "TRAINING", "original:display.environment_banner": ""},
        token_from="/admin/settings",
    )  # fmt: skip
    assert display.status_code == 302 and display.headers["Location"] == "/admin/settings"

    clock.advance(seconds=30)
    assert _confirm(admin, "/admin/settings", password=DEFAULT_PASSWORD,
                    code=code_at(TOTP_SECRET, clock.now())).status_code == 302  # fmt: skip
    granted = post_form(admin, f"/admin/users/{other}", form, token_from="/")
    assert granted.status_code == 302 and granted.headers["Location"] == f"/admin/users/{other}"
    assert [r.name for r in get_user_roles(app, other)] == ["System administrator"]
    assert admin_id != other


def get_user_roles(app: Flask, user_id: int) -> list[Role]:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        roles = list(user.roles)
        for role in roles:
            db.session.expunge(role)
        return roles
