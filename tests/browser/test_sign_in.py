"""Signing in, in a real browser: with the mouse, with the keyboard only, and wrongly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.support.browser import (
    LiveConsole,
    assert_accessible,
    assert_focus_visible,
    create_user,
    screenshot,
    sign_in,
    tab_until,
)
from tests.support.users import DEFAULT_PASSWORD


def test_sign_in_page_is_accessible_and_signs_in(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    create_user(live.app, "clara", ("Clinician",), full_name="Clara Oswald")
    page.goto("/")
    expect(page).to_have_url(f"{live.url}/auth/login?next=/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page, "the sign-in page")
    screenshot(page, artifacts, "sign-in")

    sign_in(page, "clara")
    expect(page.get_by_role("heading", name="Welcome, Clara Oswald")).to_be_visible()
    assert_accessible(page, "the dashboard")
    screenshot(page, artifacts, "dashboard-clinician")


def test_keyboard_only_sign_in_with_visible_focus(live: LiveConsole, page: Any) -> None:
    create_user(live.app, "kim", ("Clinician",), full_name="Kim Keyboard")
    page.goto("/auth/login")

    skip = tab_until(page, lambda f: f["tag"] == "a" and "Skip" in f["text"])
    assert skip["visible"]
    tab_until(page, lambda f: f["name"] == "username")
    assert_focus_visible(page)
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    assert_focus_visible(page)
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Tab")
    button = assert_focus_visible(page)
    assert button["tag"] == "button" and button["text"] == "Sign in"
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Welcome, Kim Keyboard")).to_be_visible()


def test_wrong_password_shows_a_focused_error_summary(
    live: LiveConsole, page: Any, artifacts: Path
) -> None:
    create_user(live.app, "wendy", ("Clinician",))
    sign_in(page, "wendy", "not the password at all")

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("The username or password is not right.")
    expect(summary).to_be_focused()
    expect(page).to_have_url(re.compile(r"/auth/login"))
    assert_accessible(page, "the sign-in page with an error")
    screenshot(page, artifacts, "sign-in-error")
