"""Ending sessions in a real browser: by keyboard, through a real <dialog>, and without
JavaScript through a plain form."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from sqlalchemy import func, select

from console.db import db
from console.db.models import UserSession
from tests.support.browser import (
    LiveConsole,
    assert_accessible,
    create_user,
    focused,
    sign_in,
    tab_until,
)
from tests.support.users import sign_in as sign_in_with_client


def _sessions_of(live: LiveConsole, user_id: int) -> int:
    with live.app.app_context():
        return db.session.scalar(select(func.count()).where(UserSession.user_id == user_id)) or 0


def _nurse_with_two_sessions(live: LiveConsole) -> int:
    user_id = create_user(live.app, "night.nurse", ("Clinician",))
    for _ in range(2):
        assert sign_in_with_client(live.app.test_client(), "night.nurse").status_code == 302
    assert _sessions_of(live, user_id) == 2
    return user_id


def test_end_every_session_of_a_user_by_keyboard(live: LiveConsole, page: Any) -> None:
    user_id = _nurse_with_two_sessions(live)
    create_user(live.app, "keeper", ("System administrator",))
    sign_in(page, "keeper")
    page.goto("/admin/sessions?user=night.nurse")
    expect(page.locator("#session-results tbody tr")).to_have_count(2)

    opener = tab_until(page, lambda f: f["tag"] == "button" and f["text"].startswith("End all"))
    assert opener["visible"]
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("End every session of night.nurse?")
    assert_accessible(page, "the end-sessions dialog")

    page.keyboard.press("Escape")  # a real dialog: Escape closes it and nothing happens
    expect(dialog).to_be_hidden()
    assert focused(page)["text"].startswith("End all"), "focus did not return to the opener"
    assert _sessions_of(live, user_id) == 2

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="End all sessions").press("Enter")
    expect(page.get_by_text("Ended 2 sessions of night.nurse.")).to_be_visible()
    assert _sessions_of(live, user_id) == 0


def test_without_javascript_the_plain_form_ends_the_sessions(
    live: LiveConsole, browser: Any
) -> None:
    user_id = _nurse_with_two_sessions(live)
    create_user(live.app, "keeper", ("System administrator",))
    plain = browser.new_context(base_url=live.url, java_script_enabled=False)
    try:
        page = plain.new_page()
        sign_in(page, "keeper")
        page.goto("/admin/sessions?user=night.nurse")
        # The dialog's opener needs JavaScript, so it stays hidden; the <noscript> form shows.
        button = page.get_by_role("button", name="End all of night.nurse's sessions")
        expect(button).to_have_count(1)
        button.click()
        expect(page.get_by_text("Ended 2 sessions of night.nurse.")).to_be_visible()
        assert _sessions_of(live, user_id) == 0
    finally:
        plain.close()
