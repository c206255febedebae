"""Server-side sessions: new ids at sign-in, dead cookies after sign-out, timeouts, the stored
state (rows, the user's flags) as the truth on every request, and the user's own session list."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, update

from console.admin.users.accounts import reset_password
from console.appsettings import store_setting
from console.auth import sessions as auth_sessions
from console.auth.sessions import ANONYMOUS_COOKIE_NAME
from console.db import db
from console.db.models import User, UserSession
from tests.support.audit import audit_rows
from tests.support.auth import (
    FakeClock,
    post_form,
    session_cookie,
    session_rows,
    set_session_cookie,
    signed_in,
)
from tests.support.users import csrf_token, make_user, sign_in


def _set(app: Flask, **settings: object) -> None:
    with app.app_context():
        for key, value in settings.items():
            store_setting(f"security.{key}", value, None)
        db.session.commit()


def _update_user(app: Flask, user_id: int, **values: object) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(**values))
        db.session.commit()


def test_sign_in_gives_a_new_session_id_and_the_old_cookie_is_dead(db_app: Flask) -> None:
    make_user(db_app, "alice")
    client = db_app.test_client()
    csrf_token(client)  # the sign-in page keeps its token in a signed pre-sign-in cookie
    anonymous = client.get_cookie(ANONYMOUS_COOKIE_NAME)
    assert anonymous is not None and session_cookie(client) is None

    assert sign_in(client, "alice").status_code == 302
    signed_in_cookie = session_cookie(client)
    assert signed_in_cookie and signed_in_cookie != anonymous.value
    assert client.get_cookie(ANONYMOUS_COOKIE_NAME) is None  # dropped at sign-in
    assert signed_in(client)

    # The pre-sign-in cookie signs nobody in, wherever it is replayed.
    other = db_app.test_client()
    other.set_cookie(ANONYMOUS_COOKIE_NAME, anonymous.value)
    set_session_cookie(other, anonymous.value)
    assert other.get("/").status_code == 302


def test_csrf_token_from_before_sign_in_is_refused_after_it(db_app: Flask) -> None:
    make_user(db_app, "alice")
    client = db_app.test_client()
    old_token = csrf_token(client)
    sign_in(client, "alice")
    response = client.post("/auth/logout", data={"csrf_token": old_token})
    assert response.status_code == 400
    assert signed_in(client)
    assert (
        client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    )


def test_replaying_the_cookie_after_sign_out_is_rejected(db_app: Flask) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    cookie = session_cookie(client)
    assert cookie

    response = post_form(client, "/auth/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert "You have signed out." in client.get("/auth/login").get_data(as_text=True)
    assert session_rows(db_app, user_id) == []

    thief = db_app.test_client()
    set_session_cookie(thief, cookie)
    response = thief.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    assert [e.outcome for e in audit_rows(db_app, "auth.sign_out")] == ["success"]


def test_the_cookie_is_a_random_token_and_only_its_hash_is_stored(
    app: Flask, client: FlaskClient
) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    cookie = session_cookie(client)
    assert cookie and len(cookie) >= 43
    rows = session_rows(app, user_id)
    assert [r.id for r in rows] == [hashlib.sha256(cookie.encode()).hexdigest()]
    assert cookie not in str(rows[0].data)


def test_session_cookie_flags_over_http(app: Flask, client: FlaskClient) -> None:
    response = client.get("/auth/login")  # before sign-in: the signed pre-sign-in cookie
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("quill_pre_session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "path"} <= attributes
    assert "samesite=lax" in header.lower()
    assert "secure" not in attributes
    assert "expires" not in attributes and "max-age" not in attributes  # ends with the browser
    assert "domain" not in attributes


def test_session_cookie_over_https_is_secure_with_the_host_prefix(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = app_factory(HTTPS=True)
    make_user(app, "alice")
    client = app.test_client()
    response = client.get("/auth/login", base_url="https://console.example")
    header = next(h for h in response.headers.getlist("Set-Cookie") if "quill_pre_session" in h)
    assert header.startswith("__Host-quill_pre_session=")
    lowered = header.lower()
    assert "; secure" in lowered and "; httponly" in lowered and "; path=/" in lowered
    assert "samesite=lax" in lowered and "domain=" not in lowered
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    token = csrf_token(client, "https://console.example/auth/login")
    response = client.post(
        "https://console.example/auth/login",
        data={
            "csrf_token": token,
            "username": "alice",
            "password": "correct horse battery staple 42",
        },
        headers={"Referer": "https://console.example/auth/login"},
    )
    assert response.status_code == 302
    header = next(h for h in response.headers.getlist("Set-Cookie") if "quill_session=" in h)
    assert header.startswith("__Host-quill_session=") and "; secure" in header.lower()
    assert client.get("/", base_url="https://console.example").status_code == 200


def test_remember_me_cookies_sign_nobody_in(app: Flask, client: FlaskClient) -> None:
    from flask_login.utils import encode_cookie

    user_id = make_user(app, "alice")
    with app.test_request_context():
        forged = encode_cookie(str(user_id))  # what a "remember me" cookie would carry
    client.set_cookie("remember_token", forged)
    assert client.get("/").status_code == 302


def test_idle_timeout_ends_the_session(db_app: Flask, clock: FakeClock) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    clock.advance(minutes=14)
    assert signed_in(client)
    clock.advance(minutes=14)  # activity keeps it alive
    assert signed_in(client)
    clock.advance(minutes=15, seconds=1)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You were signed out after 15 minutes of inactivity." in page
    assert session_rows(db_app, user_id) == []
    [event] = audit_rows(db_app, "auth.session_expired")
    assert event.details == {"reason": "idle"} and event.target_id == str(user_id)


def test_idle_timeout_comes_from_settings(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    _set(app, idle_timeout_minutes=5)
    make_user(app, "alice")
    sign_in(client, "alice")
    clock.advance(minutes=4)
    assert signed_in(client)
    clock.advance(minutes=5)
    assert not signed_in(client)


def test_absolute_timeout_ends_even_a_busy_session(db_app: Flask, clock: FakeClock) -> None:
    _set(db_app, idle_timeout_minutes=1440, absolute_timeout_hours=12)
    make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    clock.advance(hours=6)
    assert signed_in(client)
    clock.advance(hours=5, minutes=59)
    assert signed_in(client)
    clock.advance(minutes=2)
    response = client.get("/")
    assert response.status_code == 302
    assert "reached its time limit" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert [e.details["reason"] for e in audit_rows(db_app, "auth.session_expired")] == ["absolute"]


def test_last_seen_is_written_at_most_once_a_minute(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    assert signed_in(client)  # the first page stores its CSRF token in the session
    [row] = session_rows(app, user_id)
    clock.advance(seconds=30)
    assert signed_in(client)
    assert session_rows(app, user_id)[0].last_seen_at == row.last_seen_at
    clock.advance(seconds=31)
    assert signed_in(client)
    [later] = session_rows(app, user_id)
    assert later.last_seen_at == clock.now()
    assert later.expires_at == clock.now() + (later.expires_at - later.last_seen_at)


def test_session_records_address_and_browser(app: Flask) -> None:
    user_id = make_user(app, "alice")
    client = app.test_client()
    client.environ_base.update(
        {"REMOTE_ADDR": "10.1.2.3", "HTTP_USER_AGENT": "Ward PC Browser/1.0"}
    )
    sign_in(client, "alice")
    [row] = session_rows(app, user_id)
    assert row.client_address == "10.1.2.3"
    assert row.user_agent == "Ward PC Browser/1.0"


def test_anonymous_pages_that_hold_nothing_store_no_session(
    app: Flask, client: FlaskClient
) -> None:
    client.get("/")
    client.get("/no/such/page")
    assert session_rows(app) == []
    assert session_cookie(client) is None


def test_disabled_users_live_session_dies_on_the_next_request(db_app: Flask) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    cookie = session_cookie(client)
    assert cookie and signed_in(client)

    _update_user(db_app, user_id, active=False)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    assert session_rows(db_app, user_id) == []
    assert [e.details["reason"] for e in audit_rows(db_app, "auth.session_ended")] == [
        "user disabled"
    ]

    # Enabling the account again does not bring the old session back.
    _update_user(db_app, user_id, active=True)
    replay = db_app.test_client()
    set_session_cookie(replay, cookie)
    assert not signed_in(replay)


def test_deleting_session_rows_signs_the_user_out(db_app: Flask) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    with db_app.app_context():
        db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        db.session.commit()
    assert not signed_in(client)


def test_a_password_reset_by_an_administrator_ends_live_sessions(
    app: Flask, client: FlaskClient
) -> None:
    user_id = make_user(app, "alice")
    sign_in(client, "alice")
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        reset_password(user, "a temporary password 77", must_change=True, audit_action="user.reset")
        db.session.commit()  # the rows are left in place: the changed password alone ends them
    assert not signed_in(client)
    assert [e.details["reason"] for e in audit_rows(app, "auth.session_ended")] == [
        "password changed"
    ]


def test_password_change_gives_a_new_session_id_and_ends_other_sessions(db_app: Flask) -> None:
    make_user(db_app, "alice")
    laptop, phone = db_app.test_client(), db_app.test_client()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    before = session_cookie(laptop)

    response = post_form(
        laptop,
        "/auth/password",
        {
            "current_password": "correct horse battery staple 42",
            "new_password": "violet kettle harbour 9",
            "confirm_password": "violet kettle harbour 9",
        },
        token_from="/auth/password",
    )
    assert response.status_code == 302
    after = session_cookie(laptop)
    assert after and after != before
    assert signed_in(laptop)
    assert not signed_in(phone)
    replay = db_app.test_client()
    set_session_cookie(replay, before or "")
    assert not signed_in(replay)
    [event] = audit_rows(db_app, "auth.password_change")
    assert event.outcome == "success" and event.details["other_sessions_ended"] == 1


def test_users_see_their_sessions_and_end_one(app: Flask) -> None:
    make_user(app, "alice")
    make_user(app, "bob")
    mine, other_device, bobs = app.test_client(), app.test_client(), app.test_client()
    other_device.environ_base["HTTP_USER_AGENT"] = "Tablet Browser/2"
    sign_in(mine, "alice")
    sign_in(other_device, "alice")
    sign_in(bobs, "bob")

    page = mine.get("/auth/account").get_data(as_text=True)
    assert "This session" in page and "Tablet Browser/2" in page
    assert len(re.findall(r"/auth/account/sessions/[0-9a-f]{64}/end", page)) == 1

    other_id = hashlib.sha256((session_cookie(other_device) or "").encode()).hexdigest()
    bobs_id = hashlib.sha256((session_cookie(bobs) or "").encode()).hexdigest()
    assert post_form(mine, f"/auth/account/sessions/{bobs_id}/end").status_code == 404
    assert signed_in(bobs)

    response = post_form(mine, f"/auth/account/sessions/{other_id}/end")
    assert response.status_code == 302
    assert not signed_in(other_device)
    assert signed_in(mine)
    [event] = audit_rows(app, "auth.session_ended")
    assert event.details["reason"] == "ended by the user"


def test_ending_the_current_session_from_the_list_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    make_user(app, "alice")
    sign_in(client, "alice")
    own_id = hashlib.sha256((session_cookie(client) or "").encode()).hexdigest()
    response = post_form(client, f"/auth/account/sessions/{own_id}/end")
    assert response.status_code == 302
    assert signed_in(client)


def test_sign_out_everywhere_else(app: Flask) -> None:
    make_user(app, "alice")
    clients = [app.test_client() for _ in range(3)]
    for c in clients:
        sign_in(c, "alice")
    response = post_form(clients[0], "/auth/account/sessions/end-others")
    assert response.status_code == 302
    assert "2 other sessions have ended." in clients[0].get("/auth/account").get_data(as_text=True)
    assert [signed_in(c) for c in clients] == [True, False, False]


def test_sign_in_and_sign_out_pages_are_not_cached(app: Flask, client: FlaskClient) -> None:
    make_user(app, "alice")
    assert client.get("/auth/login").headers["Cache-Control"] == "no-store"
    response = sign_in(client, "alice")
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert client.get("/auth/account").headers["Cache-Control"] == "no-store"
    response = post_form(client, "/auth/logout")
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/auth/login").headers["Cache-Control"] == "no-store"


def test_expired_rows_are_purged_at_sign_in(
    app_factory: Callable[..., Flask], clock: FakeClock
) -> None:
    app = app_factory()
    user_id = make_user(app, "alice")
    make_user(app, "bob")
    sign_in(app.test_client(), "alice")  # a session never used again
    clock.advance(hours=1)
    sign_in(app.test_client(), "bob")
    assert session_rows(app, user_id) == []
    assert [e.target_id for e in audit_rows(app, "auth.session_expired")] == [str(user_id)]


def test_ended_and_expired_sessions_are_audited_with_the_request_id(
    db_app: Flask, clock: FakeClock
) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    clock.advance(minutes=16)
    response = client.get("/", headers={"X-Request-ID": "expiry-0001"})
    assert response.status_code == 302 and response.headers["X-Request-ID"] == "expiry-0001"
    [expired] = audit_rows(db_app, "auth.session_expired")
    assert expired.request_id == "expiry-0001" and expired.target_id == str(user_id)

    sign_in(client, "alice")
    _update_user(db_app, user_id, active=False)
    response = client.get("/")  # no id from the caller: the console's own id is recorded
    assert response.status_code == 302
    [ended] = audit_rows(db_app, "auth.session_ended")
    assert ended.request_id == response.headers["X-Request-ID"]
    assert ended.request_id and ended.details == {"reason": "user disabled"}
    assert session_rows(db_app, user_id) == []


def _stored_session(app: Flask, user_id: int | None, *, expired: bool) -> str:
    """A session row that expired a minute ago (or expires in an hour); its id."""
    now = datetime.now(UTC)
    sid = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    with app.app_context():
        db.session.add(
            UserSession(
                id=sid,
                user_id=user_id,
                data={"csrf_token": "x"},
                created_at=now - timedelta(hours=2),
                last_seen_at=now - timedelta(minutes=20 if expired else 1),
                expires_at=now + (timedelta(minutes=-1) if expired else timedelta(hours=1)),
                client_address="192.0.2.44",
            )
        )
        db.session.commit()
    return sid


def test_expired_anonymous_and_signed_in_rows_are_purged_as_new_sessions_start(
    app: Flask, clock: FakeClock
) -> None:
    user_id = make_user(app, "alice")
    stale = {_stored_session(app, None, expired=True), _stored_session(app, user_id, expired=True)}
    live = _stored_session(app, user_id, expired=False)
    sign_in(app.test_client(), "alice")  # a sign-in starts a session: the purge runs
    remaining = {row.id for row in session_rows(app)}
    assert live in remaining and not remaining & stale
    [event] = audit_rows(app, "auth.session_expired")
    assert event.target_id == str(user_id) and event.actor_id == user_id
    assert event.details == {
        "reason": "idle",
        "removed_by": "cleanup",
        "session_client_address": "192.0.2.44",
    }
    # The visitor whose request happened to run the clean-up is not recorded as its cause.
    assert (event.request_id, event.client_address) == (None, None)

    # At most once every few minutes per process, so busy sign-in pages stay cheap.
    later = _stored_session(app, None, expired=True)
    sign_in(app.test_client(), "alice")
    assert later in {row.id for row in session_rows(app)}
    clock.advance(minutes=5)
    sign_in(app.test_client(), "alice")
    assert later not in {row.id for row in session_rows(app)}


def test_the_purge_command_removes_every_expired_session(db_app: Flask) -> None:
    user_id = make_user(db_app, "alice")
    for _ in range(3):
        _stored_session(db_app, None, expired=True)
    _stored_session(db_app, user_id, expired=True)
    live = _stored_session(db_app, user_id, expired=False)
    result = db_app.test_cli_runner().invoke(args=["sessions", "purge-expired"])
    assert result.exit_code == 0, result.output
    assert "Removed 4 expired sessions." in result.output
    assert [row.id for row in session_rows(db_app)] == [live]
    assert [e.target_id for e in audit_rows(db_app, "auth.session_expired")] == [str(user_id)]
    again = db_app.test_cli_runner().invoke(args=["sessions", "purge-expired"])
    assert "Removed 0 expired sessions." in again.output


def test_the_clean_up_catches_up_while_batches_come_back_full(
    app: Flask, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_sessions, "PURGE_BATCH", 2)
    make_user(app, "alice")
    stale = [_stored_session(app, None, expired=True) for _ in range(5)]

    def left() -> int:
        return len({row.id for row in session_rows(app)} & set(stale))

    counts = []
    for _ in range(4):
        sign_in(app.test_client(), "alice")  # each sign-in starts a new session
        counts.append(left())
    assert counts == [3, 1, 0, 0]
    later = _stored_session(app, None, expired=True)
    sign_in(app.test_client(), "alice")  # the last batch was not full: wait for the interval
    assert later in {row.id for row in session_rows(app)}


def test_activity_keeps_a_session_alive_even_with_a_one_minute_idle_timeout(
    app: Flask, client: FlaskClient, clock: FakeClock
) -> None:
    _set(app, idle_timeout_minutes=1)
    make_user(app, "alice")
    sign_in(client, "alice")
    for _ in range(4):  # a page every 50 s: never a minute without activity
        clock.advance(seconds=50)
        assert signed_in(client)
    clock.advance(seconds=61)
    assert not signed_in(client)


def test_anonymous_visits_write_no_session_rows(app: Flask) -> None:
    """A flood of anonymous requests (sign-in page, its CSRF token, a refused form, a protected
    page) leaves the sessions table as it was; sign-in still starts a new, rotated session."""
    make_user(app, "alice")
    before = session_rows(app)
    clients = [app.test_client() for _ in range(4)]
    for i in range(250):
        client = clients[i % len(clients)]
        assert client.get("/auth/login").status_code == 200
        assert client.get("/").status_code == 302
        assert client.post("/auth/login", data={"username": "x"}).status_code == 400
        assert client.get("/auth/login/code").status_code == 302
    assert [row.id for row in session_rows(app)] == [row.id for row in before]
    client = clients[0]
    assert sign_in(client, "alice").status_code == 302
    rows = session_rows(app)
    assert len(rows) == 1 and rows[0].user_id is not None
    assert signed_in(client)


def _ended_page(client: FlaskClient) -> str:
    """Where the next click of a signed-out browser lands: the sign-in page, and what it says."""
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_session_ended_by_an_administrator_says_so_at_sign_in(db_app: Flask) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    with db_app.app_context():
        [row] = session_rows(db_app, user_id)
        assert auth_sessions.end_session(row.id)
        db.session.commit()
    assert "Your session was ended by an administrator." in _ended_page(client)
    assert not signed_in(client)
    # The message is shown once; the ended session never signs anyone in again.
    assert "ended by an administrator" not in _ended_page(client)


def test_sessions_ended_by_the_user_elsewhere_say_so_not_administrator(db_app: Flask) -> None:
    make_user(db_app, "alice")
    laptop, phone = db_app.test_client(), db_app.test_client()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    response = phone.post(
        "/auth/account/sessions/end-others", data={"csrf_token": csrf_token(phone, "/")}
    )
    assert response.status_code == 302
    page = _ended_page(laptop)
    assert "You ended this session from another browser or device." in page
    assert "administrator" not in page


def test_the_absolute_limit_message_names_the_limit(db_app: Flask, clock: FakeClock) -> None:
    _set(db_app, idle_timeout_minutes=1440, absolute_timeout_hours=1)
    make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    clock.advance(hours=1, seconds=1)
    assert "Your session reached its time limit of 1 hour." in _ended_page(client)


def _purge(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["sessions", "purge-expired"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_an_idle_session_already_removed_by_the_clean_up_still_says_why(
    db_app: Flask, clock: FakeClock
) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    clock.advance(minutes=10)
    assert signed_in(client)  # activity: the idle time counts from here
    clock.advance(minutes=15, seconds=1)
    assert "Removed 1 expired session." in _purge(db_app)
    assert session_rows(db_app, user_id) == []
    assert "You were signed out after 15 minutes of inactivity." in _ended_page(client)
    assert "inactivity" not in _ended_page(client)  # said once
    assert not signed_in(client)


def test_a_session_past_its_limit_already_removed_says_so(db_app: Flask, clock: FakeClock) -> None:
    _set(db_app, idle_timeout_minutes=1440, absolute_timeout_hours=1)
    make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    clock.advance(hours=1, seconds=1)
    _purge(db_app)
    assert "Your session reached its time limit of 1 hour." in _ended_page(client)


def test_a_removed_session_that_had_not_expired_is_not_called_expired(db_app: Flask) -> None:
    user_id = make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    with db_app.app_context():
        db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        db.session.commit()
    page = _ended_page(client)
    assert "inactivity" not in page and "time limit" not in page


def test_only_a_genuine_times_cookie_of_this_session_is_believed(
    db_app: Flask, clock: FakeClock
) -> None:
    make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    times = client.get_cookie(auth_sessions.TIMES_COOKIE_NAME)
    assert times is not None
    token = session_cookie(client)
    assert token is not None
    clock.advance(minutes=16)
    _purge(db_app)
    # Another session's cookie with these times: not this session's proof.
    other = db_app.test_client()
    set_session_cookie(other, "x" * 43)
    other.set_cookie(auth_sessions.TIMES_COOKIE_NAME, times.value)
    assert "inactivity" not in _ended_page(other)
    # Times altered by hand: the signature no longer matches.
    forged = db_app.test_client()
    set_session_cookie(forged, token)
    forged.set_cookie(auth_sessions.TIMES_COOKIE_NAME, times.value[:-2] + "AA")
    assert "inactivity" not in _ended_page(forged)


def test_signed_in_answers_say_how_long_the_session_has_left(
    db_app: Flask, clock: FakeClock
) -> None:
    make_user(db_app, "alice")
    client = db_app.test_client()
    assert "X-Session-Expires-In" not in client.get("/auth/login").headers
    sign_in(client, "alice")
    page = client.get("/")
    assert page.headers["X-Session-Expires-In"] == "900"
    assert '<meta name="session-expires-in" content="900">' in page.get_data(as_text=True)
    clock.advance(seconds=30)  # not yet due for a refresh of last_seen_at
    assert client.get("/").headers["X-Session-Expires-In"] == "870"


def test_stay_signed_in_restarts_the_idle_timeout(db_app: Flask, clock: FakeClock) -> None:
    make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    token = csrf_token(client, "/")
    clock.advance(minutes=14)
    refused = client.post("/auth/session/keep-alive")
    assert refused.status_code == 400  # no CSRF token
    answer = client.post("/auth/session/keep-alive", headers={"X-CSRFToken": token})
    assert answer.status_code == 200 and answer.get_json() == {"expires_in": 900}
    clock.advance(minutes=14)
    assert signed_in(client)


def test_stay_signed_in_cannot_pass_the_absolute_limit(db_app: Flask, clock: FakeClock) -> None:
    _set(db_app, idle_timeout_minutes=15, absolute_timeout_hours=1)
    make_user(db_app, "alice")
    client = db_app.test_client()
    sign_in(client, "alice")
    token = csrf_token(client, "/")
    for _ in range(4):
        clock.advance(minutes=14)
        client.post("/auth/session/keep-alive", headers={"X-CSRFToken": token})
    answer = client.post("/auth/session/keep-alive", headers={"X-CSRFToken": token})
    assert answer.get_json() == {"expires_in": 240}
