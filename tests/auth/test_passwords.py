"""Passwords: the policy, hashing with re-hash at sign-in, changing one's own password, and the
"must change password" action that blocks everything else until done."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from console.auth import passwords
from console.auth.password_policy import common_passwords, is_common, password_problems
from tests.support.audit import audit_rows
from tests.support.auth import login_form, post_form, signed_in
from tests.support.users import DEFAULT_PASSWORD, get_user, make_user, sign_in

NEW = "violet kettle harbour 9"


def _problems(password: str, **kwargs: str) -> list[str]:
    return password_problems(password, min_length=12, max_length=128, **kwargs)


def test_the_common_password_list_has_at_least_ten_thousand_entries() -> None:
    entries = common_passwords()
    assert len(entries) >= 10_000
    assert {"password", "123456", "qwerty", "iloveyou"} <= entries


@pytest.mark.parametrize(
    "password",
    ["password1234", "PASSWORD1234", "Qwertyqwerty", "aaaaaaaaaaaaaa", " 1qaz2wsx3edc "],
)
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert is_common(password)
    assert any("too common" in p for p in _problems(password))


def test_length_limits() -> None:
    assert _problems("eleven char") == ["Password must be at least 12 characters long."]
    assert _problems("twelve chars") == []
    assert _problems("x" * 100 + " long enough phrase" * 2) == [
        "Password must be at most 128 characters long."
    ]
    assert password_problems("tiny but ok", min_length=8, max_length=64) == []


def test_no_composition_rules() -> None:
    assert _problems("all lower case words here") == []
    assert _problems("1234 5678 9012 3456 7") == []


def test_passwords_containing_the_username_or_email_are_refused() -> None:
    assert _problems("my name is alice smith!", username="Alice") == [
        "Password must not contain your username."
    ]
    assert _problems("a.smith rules the ward", email="A.Smith@example.org") == [
        "Password must not contain your e-mail address."
    ]
    assert _problems("al is a fine short name", username="al") == []


def test_the_policy_lengths_come_from_settings(app: Flask) -> None:
    from console.appsettings import store_setting
    from console.db import db

    with app.test_request_context():
        assert password_problems("twelve chars") == []
        store_setting("security.password_min_length", 16, None)
        db.session.commit()
        assert password_problems("twelve chars") == [
            "Password must be at least 16 characters long."
        ]


def test_hashes_are_argon2id_with_owasp_parameters() -> None:
    hashed = passwords.hash_password("some long passphrase")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(hashed, "some long passphrase")
    assert not passwords.verify_password(hashed, "some long passphrasf")
    assert not passwords.verify_password(None, "some long passphrase")
    assert not passwords.verify_password("not a hash", "some long passphrase")


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(app: Flask, client: FlaskClient) -> None:
    user_id = make_user(app, "alice")
    old_hash = get_user(app, user_id).password_hash
    passwords.configure(time_cost=3, memory_cost_kib=19 * 1024, parallelism=1)
    try:
        assert sign_in(client, "alice").status_code == 302
        new_hash = get_user(app, user_id).password_hash
        assert new_hash != old_hash and ",t=3," in new_hash
        assert passwords.verify_password(new_hash, DEFAULT_PASSWORD)
    finally:
        passwords.configure(
            passwords.DEFAULT_TIME_COST,
            passwords.DEFAULT_MEMORY_COST_KIB,
            passwords.DEFAULT_PARALLELISM,
        )


def _change(client: FlaskClient, current: str | None, new: str, confirm: str | None = None):  # type: ignore[no-untyped-def]
    data = {"new_password": new, "confirm_password": new if confirm is None else confirm}
    if current is not None:
        data["current_password"] = current
    return post_form(client, "/auth/password", data, token_from="/auth/password")


def test_changing_ones_own_password(app: Flask, client: FlaskClient) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    response = _change(client, DEFAULT_PASSWORD, NEW)
    assert response.status_code == 302 and response.headers["Location"] == "/auth/account"
    assert "Your password has been changed" in client.get("/auth/account").get_data(as_text=True)
    post_form(client, "/auth/logout")
    assert login_form(client, "alice").status_code == 400
    assert login_form(client, "alice", NEW).status_code == 302
    assert get_user(app, user_id).password_changed_at is not None


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong current password!", NEW, None, "Your current password is not right."),
        (DEFAULT_PASSWORD, "short", None, "at least 12 characters"),
        (DEFAULT_PASSWORD, "password1234", None, "too common"),
        (DEFAULT_PASSWORD, "alice in wonderland 7", None, "must not contain your username"),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, None, "different from your current one"),
        (DEFAULT_PASSWORD, NEW, NEW + "x", "The two new passwords are not the same."),
    ],
)
def test_password_change_refusals(
    app: Flask, client: FlaskClient, current: str, new: str, confirm: str | None, message: str
) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    old_hash = get_user(app, user_id).password_hash
    response = _change(client, current, new, confirm)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert get_user(app, user_id).password_hash == old_hash
    assert signed_in(client)


def test_a_wrong_current_password_counts_towards_lockout(app: Flask, client: FlaskClient) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    _change(client, "wrong current password!", NEW)
    assert get_user(app, user_id).failed_login_count == 1
    [event] = audit_rows(app, "auth.password_change")
    assert (event.outcome, event.details) == ("failure", {"reason": "wrong current password"})


def test_must_change_password_blocks_everything_else_until_done(
    app: Flask, client: FlaskClient
) -> None:
    user_id = make_user(app, "nina", must_change_password=True)
    response = sign_in(client, "nina")
    assert response.headers["Location"] == "/auth/password?next=/"
    assert client.get("/").headers["Location"] == "/auth/password?next=/"
    assert client.get("/auth/account").headers["Location"].startswith("/auth/password")
    htmx = client.get("/auth/account", headers={"HX-Request": "true"})
    assert htmx.status_code == 403 and htmx.headers["HX-Redirect"].startswith("/auth/password")
    assert client.get("/static/js/console.js").status_code == 200

    page = client.get("/auth/password").get_data(as_text=True)
    assert "You need to choose a new password" in page
    assert "Current password" not in page  # the sign-in just proved it

    response = _change(client, None, NEW)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in(client)
    assert get_user(app, user_id).must_change_password is False
    [event] = audit_rows(app, "auth.password_change")
    assert event.details["required_action"] is True


def test_sign_out_still_works_with_a_pending_action(app: Flask, client: FlaskClient) -> None:
    make_user(app, "nina", must_change_password=True)
    sign_in(client, "nina")
    response = post_form(client, "/auth/logout", token_from="/auth/password")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert client.get("/").headers["Location"].startswith("/auth/login")


def test_an_action_set_during_a_session_applies_on_the_next_request(
    app: Flask, client: FlaskClient
) -> None:
    from sqlalchemy import update

    from console.db import db
    from console.db.models import User

    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    assert signed_in(client)
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(must_change_password=True))
        db.session.commit()
    assert client.get("/").headers["Location"].startswith("/auth/password")
