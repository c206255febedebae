"""Temporary passwords set by an administrator expire (a setting, default 72 hours) and are
single-use: the first sign-in forces a change, after which the temporary one is gone."""

from __future__ import annotations

import re

from flask import Flask

from console.appsettings import CATALOGUE, store_setting
from console.db import db
from tests.support.admin import signed_in
from tests.support.audit import audit_rows
from tests.support.auth import FakeClock, login_form, post_form
from tests.support.users import get_user, make_user

EXPIRED = "Your temporary password has expired. Ask an administrator to set a new one for you."


def _reset_by_admin(app: Flask, user_id: int) -> str:
    admin = signed_in(app, "root", ("System administrator",))
    response = admin.post(
        f"/admin/users/{user_id}/actions/reset-password", {"password_mode": "generate"}
    )
    assert response.status_code == 303  # to the page that shows the password once
    shown = admin.get(response.headers["Location"]).get_data(as_text=True)
    match = re.search(r'<code id="temporary-password">([^<]+)</code>', shown)
    assert match, shown
    return match.group(1).strip()


def test_a_temporary_password_expires_after_72_hours_by_default(
    app: Flask, clock: FakeClock
) -> None:
    definition = CATALOGUE["security.temporary_password_minutes"]
    assert (definition.default, definition.minimum) == (72 * 60, 1)
    user_id = make_user(app, "bob")
    temporary = _reset_by_admin(app, user_id)
    clock.advance(hours=72)
    response = login_form(app.test_client(), "bob", temporary)
    assert response.status_code == 400
    assert EXPIRED in response.get_data(as_text=True)
    assert audit_rows(app, "auth.sign_in")[-1].details["reason"] == "temporary password expired"
    assert get_user(app, user_id).failed_login_count == 0


def test_within_its_time_it_works_once_and_forces_a_change(app: Flask, clock: FakeClock) -> None:
    user_id = make_user(app, "bob")
    temporary = _reset_by_admin(app, user_id)
    clock.advance(hours=71)
    client = app.test_client()
    response = login_form(client, "bob", temporary)
    assert response.headers["Location"].startswith("/auth/password")
    chosen = "my own new passphrase 2026"
    changed = post_form(
        client, "/auth/password", {"new_password": chosen, "confirm_password": chosen},
        token_from="/auth/password",
    )  # fmt: skip
    assert changed.status_code == 302
    assert get_user(app, user_id).temporary_password_set_at is None
    clock.advance(hours=10)  # one's own password does not expire
    assert login_form(app.test_client(), "bob", chosen).status_code == 302
    refused = login_form(app.test_client(), "bob", temporary)
    assert "The username or password is not right." in refused.get_data(as_text=True)


def test_the_lifetime_is_a_setting_down_to_one_minute(app: Flask, clock: FakeClock) -> None:
    with app.app_context():
        store_setting("security.temporary_password_minutes", 1, None)
        db.session.commit()
    user_id = make_user(app, "bob")
    temporary = _reset_by_admin(app, user_id)
    clock.advance(seconds=61)
    assert EXPIRED in login_form(app.test_client(), "bob", temporary).get_data(as_text=True)
