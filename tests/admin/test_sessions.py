"""Sessions: the live ones across the console, filtered by user, ended one by one or all."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from console.db import db
from console.db.models import UserSession, utcnow
from tests.support.admin import Admin, add_session, insert_users, signed_in
from tests.support.audit import audit_rows
from tests.support.users import make_user, sign_in


def live_rows(app: Flask, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(UserSession.user_id == user_id)) or 0


def test_lists_live_sessions_with_their_details_newest_activity_first(
    app: Flask, admin: Admin
) -> None:
    alice, bob = insert_users(app, [{"username": "alice"}, {"username": "bob"}])
    now = utcnow()
    add_session(app, alice, last_seen=now - timedelta(minutes=1), client="192.0.2.7",
                browser="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")  # fmt: skip
    add_session(app, bob, last_seen=now - timedelta(minutes=9), client="198.51.100.4")
    add_session(app, bob, expires_in=timedelta(minutes=-1), client="203.0.113.99")  # expired
    html = admin.get("/admin/sessions").get_data(as_text=True)
    assert "192.0.2.7" in html and "Firefox/128.0" in html and "198.51.100.4" in html
    assert "203.0.113.99" not in html
    assert html.index("192.0.2.7") < html.index("198.51.100.4")


def test_filter_by_user(app: Flask, admin: Admin) -> None:
    alice, bob = insert_users(app, [{"username": "alice"}, {"username": "bob"}])
    add_session(app, alice, client="192.0.2.1")
    add_session(app, bob, client="192.0.2.2")
    html = admin.get("/admin/sessions?user=BOB").get_data(as_text=True)
    assert "192.0.2.2" in html and "192.0.2.1" not in html
    assert "End all of bob's sessions" in html
    fragment = admin.get("/admin/sessions?user=bob", htmx=True).get_data(as_text=True)
    assert "<html" not in fragment and "192.0.2.2" in fragment
    assert "There is no user called nobody." in admin.get("/admin/sessions?user=nobody").get_data(
        as_text=True
    )


def test_end_one_session(app: Flask, admin: Admin) -> None:
    (alice,) = insert_users(app, [{"username": "alice"}])
    gone = add_session(app, alice, client="192.0.2.1")
    add_session(app, alice, client="192.0.2.2")
    response = admin.post("/admin/sessions/end", {"session": gone, "user": "alice"})
    assert (
        response.status_code == 302 and response.headers["Location"] == "/admin/sessions?user=alice"
    )
    assert "Ended a session of alice." in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )
    with app.app_context():
        ended = db.session.get(UserSession, gone)
        assert ended is None or ended.user_id is None  # signs nobody in any more
    assert live_rows(app, alice) == 1
    event = audit_rows(app, "session.end")[0]
    assert event.target_id == str(alice) and event.details["client_address"] == "192.0.2.1"
    assert gone not in str(event.details)  # only a prefix of the id is kept
    again = admin.post("/admin/sessions/end", {"session": gone})
    assert "That session has already ended." in admin.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert len(audit_rows(app, "session.end")) == 1


def test_end_all_of_a_users_sessions(app: Flask, admin: Admin) -> None:
    alice, bob = insert_users(app, [{"username": "alice"}, {"username": "bob"}])
    for _ in range(3):
        add_session(app, alice)
    add_session(app, bob)
    response = admin.post("/admin/sessions/end-user", {"user_id": str(alice), "user": "alice"})
    assert "Ended 3 sessions of alice." in admin.get(response.headers["Location"]).get_data(
        as_text=True
    )
    assert live_rows(app, alice) == 0 and live_rows(app, bob) == 1
    assert audit_rows(app, "user.sessions_end")[0].details == {"count": 3}


def test_sessions_page_through_many(app: Flask, admin: Admin) -> None:
    (alice,) = insert_users(app, [{"username": "alice"}])
    now = utcnow()
    for minute in range(55):
        add_session(
            app, alice, last_seen=now - timedelta(minutes=minute), client=f"10.1.0.{minute}"
        )
    first = admin.get("/admin/sessions?user=alice").get_data(as_text=True)
    assert first.count('name="session"') == 50 and 'id="page-next"' in first
    link = re.search(r'id="page-next" href="([^"]+)"', first).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    second = admin.get(link).get_data(as_text=True)
    assert second.count('name="session"') == 5 and "10.1.0.54" in second


def test_the_administrators_own_session_is_marked_not_offered_for_ending(admin: Admin) -> None:
    html = admin.get("/admin/sessions?user=root").get_data(as_text=True)
    assert html.count("This session") == 1
    assert 'name="session"' not in html  # no "End" button for the session in use


def test_ending_sessions_signs_the_browsers_out(any_app_factory: Callable[..., Flask]) -> None:
    app = any_app_factory()
    admin = signed_in(app, "root", ("System administrator",))
    user_id = make_user(app, "nurse")
    laptop, phone = app.test_client(), app.test_client()
    for browser in (laptop, phone):
        assert sign_in(browser, "nurse").status_code == 302
    one = admin.get("/admin/sessions?user=nurse").get_data(as_text=True)
    first = re.search(r'name="session" value="([0-9a-f]{64})"', one).group(1)  # type: ignore[union-attr]
    admin.post("/admin/sessions/end", {"session": first, "user": "nurse"})
    still_in = [b.get("/").status_code == 200 for b in (laptop, phone)]
    assert sorted(still_in) == [False, True]  # exactly the ended browser is signed out

    admin.post("/admin/sessions/end-user", {"user_id": str(user_id), "user": "nurse"})
    assert [b.get("/").status_code for b in (laptop, phone)] == [302, 302]
    assert live_rows(app, user_id) == 0
