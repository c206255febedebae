"""An idle session ends: the next click goes back to sign-in, and sign-in returns to the page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from console.auth import clock
from tests.support.browser import LiveConsole, assert_accessible, create_user, screenshot, sign_in
from tests.support.users import DEFAULT_PASSWORD


def test_idle_session_sends_the_user_back_to_sign_in(
    live: LiveConsole, page: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(live.app, "ida", ("Clinician",), full_name="Ida Idle")
    sign_in(page, "ida")
    expect(page.get_by_role("heading", name="Welcome, Ida Idle")).to_be_visible()

    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(minutes=16))
    page.get_by_role("link", name="Your account").click()

    expect(page).to_have_url(re.compile(r"/auth/login\?next=/auth/account"))
    expect(page.get_by_text("signed out after 15 minutes of inactivity")).to_be_visible()
    assert_accessible(page, "sign-in after the session ended")
    screenshot(page, artifacts, "session-expired")

    page.get_by_label("Username").fill("ida")
    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def test_a_minute_before_the_idle_timeout_a_warning_offers_to_stay_signed_in(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    """The page's clock is driven by the test: no waiting for real minutes."""
    create_user(live.app, "wanda", ("Clinician",), full_name="Wanda Warned")
    page.clock.install()
    sign_in(page, "wanda")
    expect(page.get_by_role("heading", name="Welcome, Wanda Warned")).to_be_visible()
    warning = page.get_by_role("alertdialog", name="You are about to be signed out")
    expect(warning).to_be_hidden()

    page.clock.run_for("13:50")  # 15-minute idle timeout: no warning yet
    expect(warning).to_be_hidden()
    page.clock.run_for("00:20")
    expect(warning).to_be_visible()
    stay = warning.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    assert_accessible(page, "the idle-timeout warning")
    screenshot(page, artifacts, "session-idle-warning")

    with page.expect_response(lambda r: r.url.endswith("/auth/session/keep-alive")) as answer:
        stay.click()
    assert answer.value.status == 200 and answer.value.json()["expires_in"] > 840
    expect(warning).to_be_hidden()
    page.clock.run_for("13:50")  # the countdown started again from the click
    expect(warning).to_be_hidden()


def test_when_the_idle_time_is_up_the_page_goes_to_sign_in_and_says_why(
    live: LiveConsole, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_user(live.app, "ivor", ("Clinician",), full_name="Ivor Idle")
    page.clock.install()
    sign_in(page, "ivor")
    page.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(minutes=16))
    page.clock.run_for("15:30")
    expect(page).to_have_url(re.compile(r"/auth/login\?next=/auth/account"))
    expect(page.get_by_text("You were signed out after 15 minutes of inactivity.")).to_be_visible()


def test_a_session_ended_by_an_administrator_says_so_at_the_next_click(
    live: LiveConsole, page: Any
) -> None:
    from console.auth import sessions as auth_sessions
    from console.db import db
    from console.db.models import UserSession

    user_id = create_user(live.app, "eve", ("Clinician",), full_name="Eve Ended")
    sign_in(page, "eve")
    with live.app.app_context():
        for row in db.session.query(UserSession).filter_by(user_id=user_id):
            auth_sessions.end_session(row.id)
        db.session.commit()
    page.get_by_role("link", name="Your account").click()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.get_by_text("Your session was ended by an administrator.")).to_be_visible()
    assert_accessible(page, "sign-in after an administrator ended the session")
